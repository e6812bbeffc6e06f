//! Webhook delivery through the real server, against a receiver written here (an axum app
//! on 127.0.0.1:0): signatures, retries, bounded attempts, no redirects, dead deliveries
//! and their revival, per-user order, restarts, lapsed leases, two instances on one
//! database, and pruning that spares events with pending deliveries.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::{spawn_app_with, TestApp, APPID};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use wxlogin_server::clock::{Clock, OffsetClock};
use wxlogin_server::configuration::WebhookEntry;
use wxlogin_server::domain::Roles;
use wxlogin_server::storage::{
    Actor, DeliveryRecord, DeliveryStatus, Subscription, DELIVERY_RETRY_PERIOD_SECS,
};
use wxlogin_server::webhooks::signature_header;
use wxlogin_server::{Application, Settings};
use wxlogin_sim::SimConfig;

const SECRET: &str = "whsec_integration_test";

/// What the receiver does with the next requests.
#[derive(Debug, Clone, PartialEq)]
enum Mode {
    Ok,
    Status(u16),
    /// Never answers.
    Hang,
    /// 307 to /elsewhere.
    Redirect,
    /// 500 with an endless body.
    EndlessBody,
    /// 500 for this user's events, 200 for the others.
    FailUser(String),
}

#[derive(Debug, Clone)]
struct Hit {
    path: &'static str,
    event_id: Option<String>,
    signature: Option<String>,
    body: Bytes,
    status: u16,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

#[derive(Clone)]
struct Receiver {
    url: String,
    mode: Arc<Mutex<Mode>>,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    async fn start(mode: Mode) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            url: format!("http://{}/hook", listener.local_addr().unwrap()),
            mode: Arc::new(Mutex::new(mode)),
            hits: Arc::new(Mutex::new(Vec::new())),
        };
        let router = Router::new()
            .route("/hook", post(hook))
            .route("/elsewhere", post(elsewhere))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        receiver
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// The requests answered 2xx.
    fn delivered(&self) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|hit| hit.path == "/hook" && (200..300).contains(&hit.status))
            .collect()
    }
}

async fn hook(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let mode = receiver.mode.lock().unwrap().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let status = match &mode {
        Mode::Ok => 200,
        Mode::Status(status) => *status,
        Mode::Hang => 0,
        Mode::Redirect => 307,
        Mode::EndlessBody => 500,
        Mode::FailUser(user) => {
            let event: Value = serde_json::from_slice(&body).unwrap();
            if event["user_id"] == user.as_str() {
                500
            } else {
                200
            }
        }
    };
    receiver.hits.lock().unwrap().push(Hit {
        path: "/hook",
        event_id: header("wxlogin-event-id"),
        signature: header("wxlogin-signature"),
        body,
        status,
    });
    match mode {
        Mode::Hang => std::future::pending().await,
        Mode::Redirect => (
            StatusCode::TEMPORARY_REDIRECT,
            [("location", "/elsewhere")],
            "",
        )
            .into_response(),
        Mode::EndlessBody => {
            let chunks = futures::stream::repeat_with(|| {
                Ok::<_, Infallible>(Bytes::from(vec![b'x'; 64 * 1024]))
            });
            (StatusCode::INTERNAL_SERVER_ERROR, Body::from_stream(chunks)).into_response()
        }
        _ => (
            StatusCode::from_u16(status).unwrap(),
            "receiver says no".to_owned(),
        )
            .into_response(),
    }
}

async fn elsewhere(State(receiver): State<Receiver>, body: Bytes) -> StatusCode {
    receiver.hits.lock().unwrap().push(Hit {
        path: "/elsewhere",
        event_id: None,
        signature: None,
        body,
        status: 200,
    });
    StatusCode::OK
}

fn with_webhook(settings: &mut Settings, url: &str, timeout: Duration) {
    *settings = settings.clone().without_rate_limits();
    settings.webhooks = vec![WebhookEntry::new(url, SECRET)];
    settings.webhook_poll_interval = Duration::from_millis(50);
    settings.webhook_timeout = timeout;
}

async fn app_with_receiver(mode: Mode, timeout: Duration) -> (TestApp, Receiver) {
    let receiver = Receiver::start(mode).await;
    let url = receiver.url.clone();
    let app = spawn_app_with(SimConfig::default(), |settings| {
        with_webhook(settings, &url, timeout)
    })
    .await;
    (app, receiver)
}

/// Another server instance on `app`'s database and simulator.
struct Instance {
    address: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Instance {
    async fn start(settings: Settings, clock: Arc<OffsetClock>) -> Instance {
        let application = Application::build_with_clock(settings, clock)
            .await
            .expect("instance builds");
        let address = format!("http://{}", application.local_addr());
        let (shutdown, stopped) = oneshot::channel();
        let server = tokio::spawn(application.run_until(async {
            let _ = stopped.await;
        }));
        Instance {
            address,
            shutdown: Some(shutdown),
            server,
        }
    }

    async fn stop(mut self) {
        let _ = self.shutdown.take().unwrap().send(());
        self.server.await.unwrap().unwrap();
    }

    async fn login(&self, app: &TestApp, user: &str) -> Value {
        let code = app.code(APPID, user);
        let answer = app
            .http
            .post(format!("{}/v1/login", self.address))
            .json(&json!({"code": code, "appid": APPID}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answer.json().await.unwrap()
    }
}

fn user_id(login: &Value) -> String {
    login["user"]["id"].as_str().unwrap().to_owned()
}

async fn deliveries(app: &TestApp) -> Vec<DeliveryRecord> {
    let mut all = app.store().recent_webhook_deliveries(1000).await.unwrap();
    all.reverse();
    all
}

/// Wait (up to 15 s) until `check` holds for the deliveries; returns them.
async fn wait_for(
    app: &TestApp,
    what: &str,
    check: impl Fn(&[DeliveryRecord]) -> bool,
) -> Vec<DeliveryRecord> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let all = deliveries(app).await;
        if check(&all) {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting: {what}: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn all_delivered(all: &[DeliveryRecord]) -> bool {
    !all.is_empty()
        && all
            .iter()
            .all(|delivery| delivery.status == DeliveryStatus::Delivered)
}

#[tokio::test]
async fn a_2xx_delivers_each_event_once_with_a_valid_signature_and_the_events_shape() {
    let (app, receiver) = app_with_receiver(Mode::Ok, Duration::from_secs(5)).await;
    let login = app.login("ann").await;
    let all = wait_for(&app, "delivered", all_delivered).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].event_type, "user.created");
    assert_eq!(all[0].attempts, 1);
    // Nothing more is sent once it is delivered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hits = receiver.hits();
    assert_eq!(hits.len(), 1, "{hits:#?}");
    let hit = &hits[0];

    let event = hit.json();
    assert_eq!(hit.event_id.as_deref(), event["id"].as_str());
    assert_eq!(event["id"], all[0].event_id.as_str());
    assert_eq!(event["type"], "user.created");
    assert_eq!(event["user_id"], user_id(&login).as_str());
    // The same shape as /admin/v1/events.
    let record = app.store().events_after(0, 10).await.unwrap().remove(0);
    let listed = serde_json::to_value(wxlogin_server::routes::admin::Event::from(record)).unwrap();
    assert_eq!(event, listed);

    let signature = hit.signature.as_deref().expect("signed");
    let t: i64 = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!((t - app.clock.now()).abs() <= 5, "t={t}");
    assert_eq!(
        signature,
        signature_header(SECRET.as_bytes(), t, &hit.body),
        "HMAC-SHA256(secret, t.body)"
    );
    assert_ne!(signature, signature_header(b"another secret", t, &hit.body));

    let metrics = app.get("/metrics", None).await.text;
    assert!(
        metrics.contains("wxlogin_webhook_delivered_total"),
        "{metrics}"
    );
    assert!(metrics.contains("wxlogin_webhook_lag_seconds"), "{metrics}");
}

#[tokio::test]
async fn a_500_is_retried_with_backoff_until_a_2xx() {
    let (app, receiver) = app_with_receiver(Mode::Status(500), Duration::from_secs(5)).await;
    app.login("ann").await;
    let all = wait_for(&app, "one failed attempt", |all| {
        all.len() == 1 && all[0].attempts == 1
    })
    .await;
    let failed = &all[0];
    assert_eq!(failed.status, DeliveryStatus::Pending);
    assert_eq!(
        failed.last_error.as_deref(),
        Some("HTTP 500: receiver says no")
    );
    // Backed off: not tried again at once.
    let now = app.clock.now();
    assert!(
        (now + 3..=now + 10).contains(&failed.next_attempt_at),
        "next attempt {} at {now}",
        failed.next_attempt_at
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.hits().len(), 1);

    receiver.set(Mode::Ok);
    app.clock.advance(11);
    let all = wait_for(&app, "delivered on the retry", all_delivered).await;
    assert_eq!(all[0].attempts, 2);
    let hits = receiver.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].event_id, hits[1].event_id);
    let metrics = app.get("/metrics", None).await.text;
    assert!(
        metrics.contains("wxlogin_webhook_failed_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_receiver_that_hangs_costs_one_bounded_attempt_and_never_slows_a_login() {
    let (app, receiver) = app_with_receiver(Mode::Hang, Duration::from_secs(2)).await;
    app.login("ann").await;
    // The worker is now stuck on the hanging receiver; logins do not wait for it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.hits().len(), 1);
    let started = Instant::now();
    app.login("bob").await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "a login took {:?} while the webhook hangs",
        started.elapsed()
    );
    let all = wait_for(&app, "the hanging attempt ends", |all| {
        all.iter().any(|delivery| delivery.attempts == 1)
    })
    .await;
    let first = all.iter().find(|delivery| delivery.attempts == 1).unwrap();
    assert_eq!(first.status, DeliveryStatus::Pending);
    assert_eq!(first.last_error.as_deref(), Some("timed out after 2s"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_receiver_that_is_down_is_a_failed_attempt_that_says_why() {
    // A port nothing listens on: bound, then closed.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(SimConfig::default(), |settings| {
        with_webhook(settings, &url, Duration::from_secs(5))
    })
    .await;
    app.login("ann").await;
    let all = wait_for(&app, "one attempt", |all| {
        all.len() == 1 && all[0].attempts == 1
    })
    .await;
    assert_eq!(all[0].status, DeliveryStatus::Pending);
    let error = all[0].last_error.clone().unwrap();
    assert!(error.starts_with("cannot connect: "), "{error}");
    assert!(!error.contains("127.0.0.1"), "{error}");
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let (app, receiver) = app_with_receiver(Mode::Redirect, Duration::from_secs(5)).await;
    app.login("ann").await;
    let all = wait_for(&app, "one attempt", |all| {
        all.len() == 1 && all[0].attempts == 1
    })
    .await;
    assert_eq!(all[0].status, DeliveryStatus::Pending);
    assert_eq!(
        all[0].last_error.as_deref(),
        Some("HTTP 307: redirects are not followed")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        receiver.hits().iter().all(|hit| hit.path == "/hook"),
        "{:#?}",
        receiver.hits()
    );
}

#[tokio::test]
async fn an_endless_answer_is_not_read_in_full() {
    let (app, _receiver) = app_with_receiver(Mode::EndlessBody, Duration::from_secs(10)).await;
    let started = Instant::now();
    app.login("ann").await;
    let all = wait_for(&app, "one attempt", |all| {
        all.len() == 1 && all[0].attempts == 1
    })
    .await;
    // Ended after a few KiB, not by the 10 s deadline.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let error = all[0].last_error.clone().unwrap();
    assert!(error.starts_with("HTTP 500: xxxx"), "{error}");
    assert!(error.len() < 300, "{error}");
}

#[tokio::test]
async fn after_24_hours_of_failures_the_delivery_is_dead_and_retry_revives_it() {
    let (app, receiver) = app_with_receiver(Mode::Status(503), Duration::from_secs(5)).await;
    app.login("ann").await;
    wait_for(&app, "first failure", |all| {
        all.len() == 1 && all[0].attempts == 1
    })
    .await;
    app.clock.advance(DELIVERY_RETRY_PERIOD_SECS);
    let all = wait_for(&app, "dead", |all| {
        all.len() == 1 && all[0].status == DeliveryStatus::Dead
    })
    .await;
    assert_eq!(all[0].attempts, 2);
    let sent = receiver.hits().len();
    app.clock.advance(3600);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.hits().len(), sent, "a dead delivery is not sent");
    let metrics = app.get("/metrics", None).await.text;
    assert!(metrics.contains("wxlogin_webhook_dead_total"), "{metrics}");

    receiver.set(Mode::Ok);
    assert!(app
        .store()
        .retry_webhook_delivery(all[0].id, app.clock.now())
        .await
        .unwrap());
    // Only a dead one is revived.
    assert!(!app
        .store()
        .retry_webhook_delivery(all[0].id, app.clock.now())
        .await
        .unwrap());
    let all = wait_for(&app, "delivered after retry", all_delivered).await;
    assert_eq!(all[0].attempts, 3);
    assert_eq!(receiver.delivered().len(), 1);
}

#[tokio::test]
async fn a_users_events_are_sent_in_order_and_one_users_failure_does_not_hold_up_others() {
    let (app, receiver) = app_with_receiver(Mode::Ok, Duration::from_secs(5)).await;
    let ann = user_id(&app.login("ann").await);
    wait_for(&app, "ann created", all_delivered).await;
    receiver.set(Mode::FailUser(ann.clone()));
    for roles in [["a"], ["b"], ["c"]] {
        let roles = Roles::parse(&roles).unwrap();
        app.store()
            .set_roles(&ann, &roles, Actor::Operator, app.clock.now())
            .await
            .unwrap();
    }
    app.login("bob").await;
    let all = wait_for(&app, "bob delivered, ann's first change failed", |all| {
        all.len() == 5 && all[4].status == DeliveryStatus::Delivered && all[1].attempts >= 1
    })
    .await;
    // ann's later changes wait behind the first one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all_now = deliveries(&app).await;
    assert_eq!(all_now[2].attempts, 0, "{all:#?}");
    assert_eq!(all_now[3].attempts, 0, "{all:#?}");

    receiver.set(Mode::Ok);
    app.clock.advance(3600);
    wait_for(&app, "all delivered", all_delivered).await;
    let ann_roles: Vec<Value> = receiver
        .delivered()
        .iter()
        .map(Hit::json)
        .filter(|event| event["user_id"] == ann.as_str() && event["type"] == "user.roles_changed")
        .map(|event| event["data"].clone())
        .collect();
    assert_eq!(ann_roles.len(), 3, "{ann_roles:#?}");
    let order: Vec<String> = ann_roles.iter().map(Value::to_string).collect();
    assert!(order[0].contains("\"a\""), "{order:?}");
    assert!(order[1].contains("\"b\""), "{order:?}");
    assert!(order[2].contains("\"c\""), "{order:?}");
}

#[tokio::test]
async fn events_and_deliveries_survive_a_restart() {
    let receiver = Receiver::start(Mode::Status(500)).await;
    let app = spawn_app_with(SimConfig::default(), |settings| {
        *settings = settings.clone().without_rate_limits()
    })
    .await;
    let mut settings = app.settings.clone();
    with_webhook(&mut settings, &receiver.url, Duration::from_secs(5));
    let first = Instance::start(settings.clone(), app.clock.clone()).await;
    first.login(&app, "ann").await;
    first.login(&app, "bob").await;
    wait_for(&app, "both tried once", |all| {
        all.len() == 2 && all.iter().all(|delivery| delivery.attempts == 1)
    })
    .await;
    first.stop().await;

    receiver.set(Mode::Ok);
    app.clock.advance(3600);
    let second = Instance::start(settings, app.clock.clone()).await;
    let all = wait_for(&app, "delivered after the restart", all_delivered).await;
    assert_eq!(all.len(), 2);
    assert_eq!(receiver.delivered().len(), 2);
    second.stop().await;
}

#[tokio::test]
async fn a_crashed_instances_lease_lapses_and_another_instance_delivers() {
    let receiver = Receiver::start(Mode::Ok).await;
    let app = spawn_app_with(SimConfig::default(), |settings| {
        *settings = settings.clone().without_rate_limits()
    })
    .await;
    let subscription = Subscription {
        webhook: receiver.url.clone(),
        event_types: None,
    };
    app.store()
        .sync_webhook_subscriptions(&[subscription], app.clock.now())
        .await
        .unwrap();
    app.login("ann").await;
    // An instance leases the delivery and dies before recording anything.
    let now = app.clock.now();
    let leased = app
        .store()
        .lease_webhook_deliveries(
            "crashed",
            std::slice::from_ref(&receiver.url),
            10,
            now,
            now + 60,
        )
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);

    let mut settings = app.settings.clone();
    with_webhook(&mut settings, &receiver.url, Duration::from_secs(5));
    let survivor = Instance::start(settings, app.clock.clone()).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(receiver.hits().is_empty(), "a live lease is respected");
    app.clock.advance(61);
    let all = wait_for(&app, "taken over", all_delivered).await;
    assert_eq!(all.len(), 1);
    assert_eq!(receiver.delivered().len(), 1);
    // The crashed instance's late report changes nothing.
    assert!(!app
        .store()
        .finish_webhook_attempt(
            leased[0].id,
            "crashed",
            &wxlogin_server::storage::AttemptOutcome::Delivered,
            app.clock.now()
        )
        .await
        .unwrap());
    survivor.stop().await;
}

#[tokio::test]
async fn two_instances_on_one_database_deliver_each_event_once() {
    let receiver = Receiver::start(Mode::Ok).await;
    let app = spawn_app_with(SimConfig::default(), |settings| {
        *settings = settings.clone().without_rate_limits()
    })
    .await;
    let mut settings = app.settings.clone();
    with_webhook(&mut settings, &receiver.url, Duration::from_secs(5));
    settings.webhook_poll_interval = Duration::from_millis(5);
    let one = Instance::start(settings.clone(), app.clock.clone()).await;
    let two = Instance::start(settings, app.clock.clone()).await;
    for index in 0..12 {
        let instance = if index % 2 == 0 { &one } else { &two };
        let user = user_id(&instance.login(&app, &format!("user{index}")).await);
        app.store()
            .set_roles(
                &user,
                &Roles::parse(&["x"]).unwrap(),
                Actor::Operator,
                app.clock.now(),
            )
            .await
            .unwrap();
    }
    let all = wait_for(&app, "all delivered", |all| {
        all.len() == 24 && all_delivered(all)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ids: Vec<String> = receiver
        .hits()
        .iter()
        .map(|hit| hit.event_id.clone().unwrap())
        .collect();
    ids.sort();
    let count = ids.len();
    ids.dedup();
    assert_eq!(count, ids.len(), "an event was sent twice");
    assert_eq!(ids.len(), 24);
    assert!(all.iter().all(|delivery| delivery.attempts == 1));
    one.stop().await;
    two.stop().await;
}

#[tokio::test]
async fn pruning_keeps_events_a_delivery_is_pending_for() {
    let (app, receiver) = app_with_receiver(Mode::Ok, Duration::from_secs(5)).await;
    let ann = user_id(&app.login("ann").await);
    wait_for(&app, "ann delivered", all_delivered).await;
    receiver.set(Mode::Status(500));
    app.store()
        .set_roles(
            &ann,
            &Roles::parse(&["x"]).unwrap(),
            Actor::Operator,
            app.clock.now(),
        )
        .await
        .unwrap();
    wait_for(&app, "the role change failed once", |all| {
        all.len() == 2 && all[1].attempts >= 1
    })
    .await;

    // Everything is past its retention: only the event still owed to the webhook stays.
    let pruned = app.store().prune_events(app.clock.now() + 1).await.unwrap();
    assert_eq!(pruned, 1);
    let left = app.store().events_after(0, 100).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].event_type, "user.roles_changed");
    // The pruned event's finished delivery went with it.
    let all = deliveries(&app).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].status, DeliveryStatus::Pending);
    assert_eq!(all[0].event_type, "user.roles_changed");
}

#[tokio::test]
async fn a_webhook_subscribed_to_some_types_gets_only_those() {
    let receiver = Receiver::start(Mode::Ok).await;
    let url = receiver.url.clone();
    let app = spawn_app_with(SimConfig::default(), |settings| {
        with_webhook(settings, &url, Duration::from_secs(5));
        settings.webhooks[0].events = Some(vec!["user.roles_changed".to_owned()]);
    })
    .await;
    let ann = user_id(&app.login("ann").await);
    app.store()
        .set_roles(
            &ann,
            &Roles::parse(&["x"]).unwrap(),
            Actor::Operator,
            app.clock.now(),
        )
        .await
        .unwrap();
    let all = wait_for(&app, "delivered", all_delivered).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].event_type, "user.roles_changed");
    let types: Vec<Value> = receiver
        .hits()
        .iter()
        .map(|hit| hit.json()["type"].clone())
        .collect();
    assert_eq!(types, [json!("user.roles_changed")]);
}

#[tokio::test]
async fn deliveries_of_a_webhook_no_longer_configured_are_marked_dead_at_start() {
    let (app, _receiver) = app_with_receiver(Mode::Status(500), Duration::from_secs(5)).await;
    app.login("ann").await;
    wait_for(&app, "one failed attempt", |all| {
        all.len() == 1 && all[0].attempts == 1
    })
    .await;
    let mut settings = app.settings.clone();
    settings.webhooks.clear();
    let other = Instance::start(settings, app.clock.clone()).await;
    let all = deliveries(&app).await;
    assert_eq!(all[0].status, DeliveryStatus::Dead);
    assert_eq!(
        all[0].last_error.as_deref(),
        Some("the webhook is no longer configured")
    );
    // Nobody could send it: it is not revived.
    assert!(!app
        .store()
        .retry_webhook_delivery(all[0].id, app.clock.now())
        .await
        .unwrap());
    other.stop().await;
}

#[tokio::test]
async fn a_delivery_leased_by_one_instance_cannot_be_taken_by_another_until_the_lease_lapses() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        *settings = settings.clone().without_rate_limits()
    })
    .await;
    let webhook = "http://127.0.0.1:9/never-called".to_owned();
    let subscription = Subscription {
        webhook: webhook.clone(),
        event_types: None,
    };
    app.store()
        .sync_webhook_subscriptions(&[subscription], app.clock.now())
        .await
        .unwrap();
    app.login("ann").await;
    let other = app.database.another_instance().await;
    let now = app.clock.now();
    let id = deliveries(&app).await[0].id;
    assert!(app
        .store()
        .take_webhook_lease(id, "one", now, now + 60)
        .await
        .unwrap());
    // What a second instance that read the same candidate a moment earlier tries.
    assert!(!other
        .take_webhook_lease(id, "two", now, now + 60)
        .await
        .unwrap());
    assert!(!other
        .take_webhook_lease(id, "two", now + 59, now + 120)
        .await
        .unwrap());
    assert!(other
        .take_webhook_lease(id, "two", now + 60, now + 120)
        .await
        .unwrap());
    // The first instance's late outcome is not recorded; the holder's is.
    let delivered = wxlogin_server::storage::AttemptOutcome::Delivered;
    assert!(!app
        .store()
        .finish_webhook_attempt(id, "one", &delivered, now + 61)
        .await
        .unwrap());
    assert!(other
        .finish_webhook_attempt(id, "two", &delivered, now + 61)
        .await
        .unwrap());
    // Done: nobody takes it again.
    assert!(!app
        .store()
        .take_webhook_lease(id, "one", now + 999, now + 1060)
        .await
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_leases_from_two_instances_never_take_the_same_delivery() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        *settings = settings.clone().without_rate_limits()
    })
    .await;
    let webhook = "http://127.0.0.1:9/never-called".to_owned();
    let subscription = Subscription {
        webhook: webhook.clone(),
        event_types: None,
    };
    app.store()
        .sync_webhook_subscriptions(&[subscription], app.clock.now())
        .await
        .unwrap();
    let other = app.database.another_instance().await;
    const WORKERS: usize = 8;
    for round in 0..5 {
        for index in 0..20 {
            app.login(&format!("user{round}-{index}")).await;
        }
        let now = app.clock.now();
        // All start together, so that their reads of the candidates overlap.
        let start = Arc::new(tokio::sync::Barrier::new(WORKERS));
        let leases = (0..WORKERS).map(|worker| {
            let store = if worker % 2 == 0 {
                app.store().clone()
            } else {
                other.clone()
            };
            let webhooks = vec![webhook.clone()];
            let start = start.clone();
            tokio::spawn(async move {
                let owner = format!("worker{worker}");
                start.wait().await;
                store
                    .lease_webhook_deliveries(&owner, &webhooks, 20, now, now + 60)
                    .await
                    .unwrap()
            })
        });
        let mut ids: Vec<i64> = futures::future::join_all(leases)
            .await
            .into_iter()
            .flat_map(|leased| leased.unwrap())
            .map(|delivery| delivery.id)
            .collect();
        ids.sort();
        let count = ids.len();
        ids.dedup();
        assert_eq!(
            count,
            ids.len(),
            "round {round}: a delivery was leased twice"
        );
        assert_eq!(ids.len(), 20, "round {round}");
    }
}

#[tokio::test]
async fn the_worker_prunes_events_past_their_retention() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        *settings = settings.clone().without_rate_limits()
    })
    .await;
    app.login("ann").await;
    assert_eq!(app.store().events_after(0, 10).await.unwrap().len(), 1);
    let mut settings = app.settings.clone();
    settings.event_retention = Duration::from_secs(60);
    app.clock.advance(61);
    // A worker prunes when it starts, then hourly.
    let instance = Instance::start(settings, app.clock.clone()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app.store().events_after(0, 10).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the event was not pruned");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.login("bob").await;
    assert_eq!(app.store().events_after(0, 10).await.unwrap().len(), 1);
    instance.stop().await;
}
