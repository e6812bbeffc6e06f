//! A real `wxlogin serve` killed with SIGKILL in the middle of a webhook delivery (the
//! receiver holds the request open), then started again on the same SQLite file: the
//! event is not lost. The killed instance's lease lapses and the new instance delivers it,
//! signed, once.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::process::{LogDir, ServerProcess};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use wxlogin_server::at_rest::MasterKey;
use wxlogin_server::storage::{DeliveryStatus, Store, StoreOptions};
use wxlogin_server::webhooks::signature_header;
use wxlogin_sim::{SimApp, SimConfig, Simulator};

const APPID: &str = SimApp::DEMO_APPID;
const SECRET: &str = "whsec_crash_test";

/// (event id, signature, body, answered 2xx)
type Hits = Arc<Mutex<Vec<(String, String, Bytes, bool)>>>;

#[derive(Clone)]
struct Receiver {
    hang: Arc<Mutex<bool>>,
    hits: Hits,
}

async fn hook(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let hang = *receiver.hang.lock().unwrap();
    let header = |name: &str| headers[name].to_str().unwrap().to_owned();
    receiver.hits.lock().unwrap().push((
        header("wxlogin-event-id"),
        header("wxlogin-signature"),
        body,
        !hang,
    ));
    if hang {
        std::future::pending::<()>().await;
    }
    StatusCode::NO_CONTENT
}

async fn start_server(dir: &Path, run: usize, wechat: &str, webhook: &str) -> ServerProcess {
    let database_url = format!("sqlite://{}", dir.join("wxlogin.db").display());
    let master_key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let args: Vec<String> = [
        "--database-url",
        &database_url,
        "--appid",
        APPID,
        "--secret",
        SimApp::DEMO_SECRET,
        "--wechat-base-url",
        wechat,
        "--master-key",
        &master_key,
        "--webhook-url",
        webhook,
        "--webhook-secret",
        SECRET,
        "--webhook-timeout",
        "2",
        "--webhook-poll-interval-ms",
        "50",
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    ServerProcess::start(&format!("serve-{run}"), &args, dir).await
}

async fn wait_until(what: &str, limit: Duration, check: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sigkill_mid_delivery_loses_no_event() {
    let dir = LogDir::new("webhook-crash");
    let sim = Simulator::new(SimConfig::default());
    let sim_handle = sim.clone().spawn_on_loopback().await.unwrap();
    let receiver = Receiver {
        hang: Arc::new(Mutex::new(true)),
        hits: Hits::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let webhook = format!("http://{}/hook", listener.local_addr().unwrap());
    let router = Router::new()
        .route("/hook", post(hook))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let first = start_server(dir.path(), 1, &sim_handle.base_url, &webhook).await;
    let code = sim.login_code(APPID, "ann").unwrap().code;
    let login = reqwest::Client::new()
        .post(first.url("/v1/login"))
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let login: Value = login.json().await.unwrap();
    wait_until("the first attempt", Duration::from_secs(20), || {
        !receiver.hits.lock().unwrap().is_empty()
    })
    .await;
    // Killed while the receiver holds the attempt open: nothing was recorded.
    first.kill().await.unwrap();
    *receiver.hang.lock().unwrap() = false;

    let second = start_server(dir.path(), 2, &sim_handle.base_url, &webhook).await;
    wait_until(
        "the delivery after the restart",
        Duration::from_secs(40),
        || receiver.hits.lock().unwrap().iter().any(|hit| hit.3),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hits = receiver.hits.lock().unwrap().clone();
    let delivered: Vec<_> = hits.iter().filter(|hit| hit.3).collect();
    assert_eq!(delivered.len(), 1, "delivered once after the restart");
    let (event_id, signature, body, _) = delivered[0];
    assert_eq!(event_id, &hits[0].0, "the same event");
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["type"], "user.created");
    assert_eq!(event["user_id"], login["user"]["id"]);
    let t: i64 = signature[2..signature.find(',').unwrap()].parse().unwrap();
    assert_eq!(signature, &signature_header(SECRET.as_bytes(), t, body));

    let database_url = format!("sqlite://{}", dir.path().join("wxlogin.db").display());
    let store = Store::connect(
        &database_url,
        &StoreOptions::default(),
        MasterKey::generate(),
    )
    .await
    .unwrap();
    let deliveries = store.recent_webhook_deliveries(10).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, DeliveryStatus::Delivered);
    drop(second);
}
