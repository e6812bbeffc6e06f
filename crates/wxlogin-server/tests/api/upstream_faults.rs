//! WeChat misbehaving, through the in-process simulator's fault injection against the
//! real app: slow answers past the deadline, `-1 system busy`, dropped connections, an
//! outage of the access-token endpoint while a cached token is still valid, a refused
//! token that stable_token keeps handing back, and an IP awaiting the admin's approval.

use std::time::{Duration, Instant};

use crate::helpers::{spawn_app_with, token, Answer, TestApp, APPID};
use serde_json::json;
use wxlogin_server::Settings;
use wxlogin_sim::{Endpoint, FaultConfig, SimConfig};

const DEADLINE: Duration = Duration::from_secs(1);
/// Slack for scheduling on a loaded machine; a hung request would take the simulator's
/// full latency, far beyond this.
const MARGIN: Duration = Duration::from_secs(2);

fn short_deadline(settings: &mut Settings) {
    settings.wechat_timeout = DEADLINE;
}

async fn app() -> TestApp {
    spawn_app_with(SimConfig::default(), short_deadline).await
}

fn set_faults(app: &TestApp, change: impl FnOnce(&mut FaultConfig)) {
    let mut faults = FaultConfig::default();
    change(&mut faults);
    app.sim.set_faults(faults).expect("valid faults");
}

fn calls(app: &TestApp, endpoint: Endpoint) -> u64 {
    app.sim.stats().total_calls_to(endpoint)
}

async fn phone_by_code(app: &TestApp, access: &str, user: &str) -> Answer {
    let grant = app.sim.phone_grant(APPID, user, None).unwrap();
    app.post("/v1/me/phone", Some(access), json!({"code": grant.code}))
        .await
}

fn assert_upstream_unavailable(answer: &Answer) {
    answer.assert_error(503, "upstream_unavailable");
}

#[tokio::test]
async fn a_login_slower_than_the_deadline_answers_503_within_the_deadline() {
    let app = app().await;
    set_faults(&app, |faults| faults.latency_ms = 10_000);
    let code = app.code(APPID, "slow");
    let started = Instant::now();
    let answer = app.post("/v1/login", None, json!({"code": code})).await;
    let elapsed = started.elapsed();
    assert_upstream_unavailable(&answer);
    assert!(
        elapsed >= DEADLINE && elapsed < DEADLINE + MARGIN,
        "answered after {elapsed:?}"
    );
    // Sent once: a code exchange is never repeated, even after a timeout.
    assert_eq!(calls(&app, Endpoint::Jscode2session), 1);
}

#[tokio::test]
async fn a_phone_request_slower_than_the_deadline_answers_503_within_the_deadline() {
    let app = app().await;
    let access = token(&app.login("slowphone").await, "access_token");
    // Both the token fetch and the phone call are slow: the whole request, retries of
    // the token fetch included, must still end near the deadline.
    set_faults(&app, |faults| faults.latency_ms = 10_000);
    let started = Instant::now();
    let answer = phone_by_code(&app, &access, "slowphone").await;
    let elapsed = started.elapsed();
    assert_upstream_unavailable(&answer);
    assert!(elapsed < DEADLINE + MARGIN, "answered after {elapsed:?}");

    // With a token cached, only the phone call itself is slow.
    app.clear_faults();
    phone_by_code(&app, &access, "slowphone").await.assert_ok();
    set_faults(&app, |faults| faults.latency_ms = 10_000);
    let started = Instant::now();
    let answer = phone_by_code(&app, &access, "slowphone").await;
    let elapsed = started.elapsed();
    assert_upstream_unavailable(&answer);
    assert!(
        elapsed >= DEADLINE && elapsed < DEADLINE + MARGIN,
        "answered after {elapsed:?}"
    );
}

#[tokio::test]
async fn busy_on_stable_token_is_retried_and_succeeds() {
    let app = app().await;
    let access = token(&app.login("busy").await, "access_token");
    app.force_errcode(Endpoint::StableToken, -1);
    // WeChat recovers as soon as it has refused the first fetch; the retry (after a
    // jittered backoff of 100 to 300 ms) then succeeds.
    let sim = app.sim.clone();
    let recovery = tokio::spawn(async move {
        while sim.stats().total_calls_to(Endpoint::StableToken) == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        sim.set_faults(FaultConfig::default()).unwrap();
    });
    phone_by_code(&app, &access, "busy").await.assert_ok();
    recovery.await.unwrap();
    assert!(
        calls(&app, Endpoint::StableToken) >= 2,
        "the busy fetch was retried"
    );
    assert_eq!(calls(&app, Endpoint::Getuserphonenumber), 1);
}

#[tokio::test]
async fn busy_everywhere_is_retried_a_bounded_number_of_times_then_503() {
    // The default deadline, so that every retry fits in it.
    let app = spawn_app_with(SimConfig::default(), |_| {}).await;
    let access = token(&app.login("alwaysbusy").await, "access_token");
    app.force_errcode(Endpoint::StableToken, -1);
    let answer = phone_by_code(&app, &access, "alwaysbusy").await;
    assert_upstream_unavailable(&answer);
    assert_eq!(answer.body["error"]["wechat_errcode"], -1);
    let fetches = calls(&app, Endpoint::StableToken);
    assert!((2..=3).contains(&fetches), "{fetches} token fetches");
    // The phone code was never sent without a token.
    assert_eq!(calls(&app, Endpoint::Getuserphonenumber), 0);
}

#[tokio::test]
async fn busy_on_jscode2session_is_not_retried() {
    let app = app().await;
    app.force_errcode(Endpoint::Jscode2session, -1);
    let code = app.code(APPID, "busylogin");
    let answer = app.post("/v1/login", None, json!({"code": code})).await;
    assert_upstream_unavailable(&answer);
    assert_eq!(answer.body["error"]["wechat_errcode"], -1);
    assert_eq!(calls(&app, Endpoint::Jscode2session), 1);
}

#[tokio::test]
async fn busy_on_getuserphonenumber_is_not_retried() {
    let app = app().await;
    let access = token(&app.login("busyphone").await, "access_token");
    app.force_errcode(Endpoint::Getuserphonenumber, -1);
    assert_upstream_unavailable(&phone_by_code(&app, &access, "busyphone").await);
    // A phone code is single use too: sending it again could burn it.
    assert_eq!(calls(&app, Endpoint::Getuserphonenumber), 1);
}

#[tokio::test]
async fn dropped_connections_answer_503() {
    let app = app().await;
    let access = token(&app.login("dropped").await, "access_token");
    set_faults(&app, |faults| faults.drop_ratio = 1.0);
    let code = app.code(APPID, "dropped2");
    let started = Instant::now();
    assert_upstream_unavailable(&app.post("/v1/login", None, json!({"code": code})).await);
    assert_upstream_unavailable(&phone_by_code(&app, &access, "dropped").await);
    assert!(started.elapsed() < 2 * (DEADLINE + MARGIN));
    assert_eq!(calls(&app, Endpoint::Jscode2session), 2);
}

#[tokio::test]
async fn a_code_is_exchanged_once_even_when_connections_drop() {
    // The default deadline and a long latency keep the duplicates of a code in flight
    // together even on a loaded machine.
    let app = spawn_app_with(SimConfig::default(), |_| {}).await;
    set_faults(&app, |faults| {
        faults.drop_ratio = 0.5;
        faults.latency_ms = 1_500;
    });
    const CODES: usize = 12;
    const REQUESTS_PER_CODE: usize = 3;
    let codes: Vec<String> = (0..CODES)
        .map(|index| app.code(APPID, &format!("flaky{index}")))
        .collect();
    // Every code is posted by several requests at once (a double tap, a network retry).
    let mut requests = Vec::new();
    for code in &codes {
        for _ in 0..REQUESTS_PER_CODE {
            let http = app.http.clone();
            let url = app.url("/v1/login");
            let body = json!({"code": code});
            requests.push(tokio::spawn(async move {
                let response = http.post(url).json(&body).send().await.unwrap();
                response.status().as_u16()
            }));
        }
    }
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    assert!(
        statuses
            .iter()
            .all(|status| *status == 200 || *status == 503),
        "{statuses:?}"
    );
    assert_eq!(
        calls(&app, Endpoint::Jscode2session),
        CODES as u64,
        "one exchange per code: {statuses:?}"
    );
    // The requests of one code got one outcome.
    for answers in statuses.chunks(REQUESTS_PER_CODE) {
        assert!(
            answers.iter().all(|status| *status == answers[0]),
            "{statuses:?}"
        );
    }
}

#[tokio::test]
async fn the_cached_access_token_outlives_an_outage_of_the_token_endpoints() {
    let app = app().await;
    let access = token(&app.login("cached").await, "access_token");
    phone_by_code(&app, &access, "cached").await.assert_ok();
    assert_eq!(calls(&app, Endpoint::StableToken), 1);
    // The token endpoints now fail every way they can.
    set_faults(&app, |faults| {
        faults.forced_errcodes.insert(Endpoint::StableToken, -1);
        faults.forced_errcodes.insert(Endpoint::Token, -1);
    });
    for _ in 0..3 {
        phone_by_code(&app, &access, "cached").await.assert_ok();
    }
    assert_eq!(
        calls(&app, Endpoint::StableToken),
        1,
        "the still-valid token was served from the cache"
    );
    assert_eq!(calls(&app, Endpoint::Token), 0);
}

#[tokio::test]
async fn the_server_recovers_when_wechat_does() {
    let app = app().await;
    set_faults(&app, |faults| faults.drop_ratio = 1.0);
    let code = app.code(APPID, "recovering");
    assert_upstream_unavailable(&app.post("/v1/login", None, json!({"code": code})).await);
    app.clear_faults();
    // A new code (the old one's fate at WeChat is unknown) logs in at once.
    let login = app.login("recovering").await;
    let access = token(&login, "access_token");
    phone_by_code(&app, &access, "recovering").await.assert_ok();
}

#[tokio::test]
async fn a_refused_token_that_stable_token_hands_back_is_force_refreshed_once() {
    let app = app().await;
    let access = token(&app.login("stuck").await, "access_token");
    phone_by_code(&app, &access, "stuck").await.assert_ok();
    assert_eq!(calls(&app, Endpoint::StableToken), 1);
    // WeChat now refuses the cached token but stable_token keeps handing it back.
    assert!(app.sim.refuse_stable_token(APPID));
    phone_by_code(&app, &access, "stuck").await.assert_ok();
    // The refetch that handed it back, then one forced refresh.
    assert_eq!(calls(&app, Endpoint::StableToken), 3);
    assert_eq!(calls(&app, Endpoint::Getuserphonenumber), 3);
    phone_by_code(&app, &access, "stuck").await.assert_ok();
    assert_eq!(
        calls(&app, Endpoint::StableToken),
        3,
        "the forced token is cached"
    );

    // Refused again within 30 s: no second force refresh yet, and the answer does not send
    // the operator to the appid and secret.
    assert!(app.sim.refuse_stable_token(APPID));
    let answer = phone_by_code(&app, &access, "stuck").await;
    answer.assert_error(502, "upstream_unavailable");
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("access token"), "{message}");
    assert!(
        !message.contains("appid") && !message.contains("secret"),
        "{message}"
    );
    assert_eq!(calls(&app, Endpoint::StableToken), 4, "a refetch, no force");
}

#[tokio::test]
async fn an_ip_awaiting_the_admins_confirmation_is_502_with_that_hint_and_not_retried() {
    let app = app().await;
    let access = token(&app.login("risky").await, "access_token");
    app.force_errcode(Endpoint::StableToken, 89503);
    let answer = phone_by_code(&app, &access, "risky").await;
    answer.assert_error(502, "upstream_unavailable");
    assert_eq!(answer.body["error"]["wechat_errcode"], 89503);
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("administrator's confirmation in the mini program console"),
        "{message}"
    );
    assert_eq!(calls(&app, Endpoint::StableToken), 1, "not retried");
    assert_eq!(calls(&app, Endpoint::Getuserphonenumber), 0);
}
