//! POST /v1/login: exchange, user creation, code retries, multi-app, unionid linking,
//! WeChat error mapping.

use std::sync::Arc;

use crate::helpers::{spawn_app, spawn_app_with, token, APPID};
use serde_json::json;
use wxlogin_sim::{Endpoint, SimApp, SimConfig};

#[tokio::test]
async fn login_returns_tokens_and_user_without_session_key() {
    let app = spawn_app().await;
    let body = app.login("alice").await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 1800);
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 32);
    let user = &body["user"];
    assert_eq!(user["appid"], APPID);
    assert_eq!(user["openid"], app.sim.openid(APPID, "alice"));
    for field in [
        "id",
        "appid",
        "openid",
        "unionid",
        "phone_number",
        "nickname",
        "avatar_url",
        "created_at",
    ] {
        assert!(
            user.get(field).is_some(),
            "user.{field} present (null when unknown): {user}"
        );
    }
    assert!(user["phone_number"].is_null());
    assert!(!body.to_string().contains("session_key"));
}

#[tokio::test]
async fn same_user_logs_in_again_as_same_user() {
    let app = spawn_app().await;
    let first = app.login("bob").await;
    let second = app.login("bob").await;
    let other = app.login("carol").await;
    assert_eq!(first["user"]["id"], second["user"]["id"]);
    assert_ne!(first["user"]["id"], other["user"]["id"]);
    assert_ne!(first["refresh_token"], second["refresh_token"]);
}

#[tokio::test]
async fn concurrent_requests_with_one_code_exchange_it_once() {
    let app = Arc::new(spawn_app().await);
    let code = app.code(APPID, "dave");
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let app = Arc::clone(&app);
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            app.post("/v1/login", None, json!({"code": code})).await
        }));
    }
    let mut user_ids = std::collections::BTreeSet::new();
    let mut refresh_tokens = std::collections::BTreeSet::new();
    for task in tasks {
        let answer = task.await.unwrap();
        let body = answer.assert_ok();
        user_ids.insert(body["user"]["id"].as_str().unwrap().to_owned());
        refresh_tokens.insert(token(body, "refresh_token"));
    }
    assert_eq!(user_ids.len(), 1, "all answers are for one user");
    assert_eq!(
        refresh_tokens.len(),
        10,
        "each answer has its own token pair"
    );
    assert_eq!(
        app.jscode2session_calls(APPID),
        1,
        "WeChat saw the code once"
    );
    // The exchange stored one session with it, for the first answer; every other answer
    // got its own, and none was made twice or left behind.
    let user_id = wxlogin_server::domain::UserId::new(user_ids.pop_first().unwrap());
    let now = wxlogin_server::clock::Clock::now(app.clock.as_ref());
    assert_eq!(
        app.store()
            .count_active_user_sessions(&user_id, now)
            .await
            .unwrap(),
        10
    );
    for refresh_token in refresh_tokens {
        app.refresh(&refresh_token).await.assert_ok();
    }
}

#[tokio::test]
async fn concurrent_requests_on_two_instances_exchange_once() {
    // Two servers on one database: the store's claim, not process memory, decides.
    let first = spawn_app().await;
    let mut second_settings = first.settings.clone();
    second_settings.http.listen = "127.0.0.1:0".to_owned();
    let second = wxlogin_server::Application::build(second_settings)
        .await
        .unwrap();
    let second_address = format!("http://{}", second.local_addr());
    tokio::spawn(second.run());
    first
        .sim
        .set_faults(wxlogin_sim::FaultConfig {
            latency_ms: 300,
            ..Default::default()
        })
        .unwrap();
    let code = first.code(APPID, "erin");
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for index in 0..6 {
        let url = if index % 2 == 0 {
            first.url("/v1/login")
        } else {
            format!("{second_address}/v1/login")
        };
        let request = http.post(url).json(&json!({"code": code}));
        tasks.push(tokio::spawn(async move {
            crate::helpers::answer(request.send().await.unwrap()).await
        }));
    }
    let mut user_ids = std::collections::BTreeSet::new();
    for task in tasks {
        let answer = task.await.unwrap();
        user_ids.insert(
            answer.assert_ok()["user"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(user_ids.len(), 1);
    assert_eq!(first.jscode2session_calls(APPID), 1);
}

#[tokio::test]
async fn retry_within_window_gets_fresh_pair_for_same_user_then_code_used() {
    let app = spawn_app().await;
    let code = app.code(APPID, "frank");
    let first = app.post("/v1/login", None, json!({"code": code})).await;
    let first = first.assert_ok().clone();
    app.clock.advance(30);
    let retry = app.post("/v1/login", None, json!({"code": code})).await;
    let retry = retry.assert_ok();
    assert_eq!(retry["user"]["id"], first["user"]["id"]);
    assert_ne!(retry["refresh_token"], first["refresh_token"]);
    assert_ne!(retry["access_token"], first["access_token"]);
    assert_eq!(app.jscode2session_calls(APPID), 1);

    app.clock.advance(31);
    app.post("/v1/login", None, json!({"code": code}))
        .await
        .assert_error(409, "code_used");
}

#[tokio::test]
async fn retry_window_is_configurable() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.wechat.code_retry_window = std::time::Duration::from_secs(5);
    })
    .await;
    let code = app.code(APPID, "gina");
    app.post("/v1/login", None, json!({"code": code}))
        .await
        .assert_ok();
    app.clock.advance(6);
    app.post("/v1/login", None, json!({"code": code}))
        .await
        .assert_error(409, "code_used");
}

/// SECURITY.md promises one exchange per code: a replay after a short retry window, while
/// the code would still be alive at WeChat, is refused here, not sent to WeChat again.
#[tokio::test]
async fn a_replay_after_a_short_retry_window_is_refused_without_asking_wechat() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.wechat.code_retry_window = std::time::Duration::from_secs(1);
    })
    .await;
    let code = app.code(APPID, "hana");
    app.post("/v1/login", None, json!({"code": code}))
        .await
        .assert_ok();
    // 2 s, 60 s and 297 s after the exchange, by the test clock (real time plus an
    // offset): the slack keeps the last replay inside the code's 300 s at WeChat even when
    // the requests themselves cross a second or two of real time on a loaded machine.
    for step in [2, 58, 237] {
        app.clock.advance(step);
        app.post("/v1/login", None, json!({"code": code}))
            .await
            .assert_error(409, "code_used");
    }
    assert_eq!(app.jscode2session_calls(APPID), 1);
}

#[tokio::test]
async fn invalid_codes_are_refused() {
    let app = spawn_app().await;
    let answer = app
        .post("/v1/login", None, json!({"code": "not-a-real-code"}))
        .await;
    answer.assert_wechat_error(400, "invalid_code", 40029);
    app.post("/v1/login", None, json!({"code": ""}))
        .await
        .assert_error(400, "invalid_request");
    app.post("/v1/login", None, json!({"code": "a".repeat(300)}))
        .await
        .assert_error(400, "invalid_request");
    app.post("/v1/login", None, json!({"appid": APPID}))
        .await
        .assert_error(400, "invalid_request");
}

#[tokio::test]
async fn wechat_errors_map_to_contract_errors() {
    let app = spawn_app().await;
    let cases = [
        (40163, 409, "code_used"),
        (45011, 429, "rate_limited"),
        (45009, 429, "rate_limited"),
        (-1, 503, "upstream_unavailable"),
        (40226, 403, "login_refused"),
        (40125, 502, "upstream_unavailable"),
        (40013, 502, "upstream_unavailable"),
        (40164, 502, "upstream_unavailable"),
    ];
    for (errcode, status, code) in cases {
        app.force_errcode(Endpoint::Jscode2session, errcode);
        let login_code = app.code(APPID, "henry");
        let answer = app
            .post("/v1/login", None, json!({"code": login_code}))
            .await;
        answer.assert_error(status, code);
        assert_eq!(
            answer.body["error"]["wechat_errcode"], errcode,
            "{}",
            answer.text
        );
        assert!(!answer.text.contains(SimApp::DEMO_SECRET));
    }
    // A failed exchange releases the code: once WeChat recovers, a new code works.
    app.clear_faults();
    app.login("henry").await;
}

#[tokio::test]
async fn unreachable_wechat_is_503() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.wechat.wechat_base_url = "http://127.0.0.1:9".to_owned();
        settings.wechat.wechat_timeout = std::time::Duration::from_secs(2);
    })
    .await;
    let answer = app
        .post("/v1/login", None, json!({"code": "0123456789abcdef"}))
        .await;
    answer.assert_error(503, "upstream_unavailable");
    assert!(answer.body["error"].get("wechat_errcode").is_none());
}

fn two_apps(open_platform: bool) -> SimConfig {
    let mut first = SimApp::new("wx1111111111111111", "secret-one-1111");
    let mut second = SimApp::new("wx2222222222222222", "secret-two-2222");
    if open_platform {
        first = first.with_open_platform("open-1");
        second = second.with_open_platform("open-1");
    }
    SimConfig {
        apps: vec![first, second],
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn several_apps_require_appid_and_refuse_unknown_ones() {
    let app = spawn_app_with(two_apps(false), |_| {}).await;
    let code = app.code("wx1111111111111111", "ivy");
    app.post("/v1/login", None, json!({"code": code}))
        .await
        .assert_error(400, "invalid_request");
    app.post(
        "/v1/login",
        None,
        json!({"code": code, "appid": "wx9999999999999999"}),
    )
    .await
    .assert_error(400, "invalid_request");
    app.post(
        "/v1/login",
        None,
        json!({"code": code, "appid": "bad appid!"}),
    )
    .await
    .assert_error(400, "invalid_request");
    let body = app
        .post(
            "/v1/login",
            None,
            json!({"code": code, "appid": "wx1111111111111111"}),
        )
        .await;
    assert_eq!(body.assert_ok()["user"]["appid"], "wx1111111111111111");
    // A code is only good for the app it was minted for.
    let code = app.code("wx1111111111111111", "ivy");
    app.post(
        "/v1/login",
        None,
        json!({"code": code, "appid": "wx2222222222222222"}),
    )
    .await
    .assert_error(400, "invalid_code");
}

#[tokio::test]
async fn unionid_links_one_person_across_apps() {
    let app = spawn_app_with(two_apps(true), |_| {}).await;
    let first = app.login_to("wx1111111111111111", "jack").await;
    let second = app.login_to("wx2222222222222222", "jack").await;
    assert_eq!(first["user"]["id"], second["user"]["id"]);
    assert!(first["user"]["unionid"].is_string());
    assert_eq!(first["user"]["unionid"], second["user"]["unionid"]);
    assert_ne!(first["user"]["openid"], second["user"]["openid"]);
    assert_eq!(second["user"]["appid"], "wx2222222222222222");
    let other = app.login_to("wx2222222222222222", "kate").await;
    assert_ne!(other["user"]["id"], first["user"]["id"]);
}

#[tokio::test]
async fn without_open_platform_apps_are_separate_users() {
    let app = spawn_app_with(two_apps(false), |_| {}).await;
    let first = app.login_to("wx1111111111111111", "leo").await;
    let second = app.login_to("wx2222222222222222", "leo").await;
    assert_ne!(first["user"]["id"], second["user"]["id"]);
    assert!(first["user"]["unionid"].is_null());
}
