//! Abuse limits: logins per client address, phone-number and user-info requests per
//! user; 429 `rate_limited` with `Retry-After`; off when set to 0.

use std::time::Duration;

use crate::helpers::{answer, spawn_app_with, token, Answer, TestApp, APPID};
use reqwest::header::RETRY_AFTER;
use serde_json::json;
use wxlogin_server::Settings;
use wxlogin_sim::{Endpoint, SimConfig};

fn login_limit(per_period: u32, burst: u32) -> impl FnOnce(&mut Settings) {
    move |settings| {
        settings.rate_limit_login_per_ip = per_period;
        settings.rate_limit_login_burst = burst;
        settings.rate_limit_period = Duration::from_secs(60);
    }
}

/// Post a login for `user`, optionally with an `X-Forwarded-For` header; also returns
/// the `Retry-After` header.
async fn try_login(
    app: &TestApp,
    user: &str,
    forwarded_for: Option<&str>,
) -> (Answer, Option<u64>) {
    let code = app.code(APPID, user);
    let mut request = app
        .http
        .post(app.url("/v1/login"))
        .json(&json!({"code": code}));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    let response = request.send().await.expect("answered");
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .map(|value| value.to_str().unwrap().parse::<u64>().unwrap());
    (answer(response).await, retry_after)
}

#[tokio::test]
async fn a_burst_of_logins_then_429_with_retry_after_and_no_upstream_call() {
    // 6 a minute sustained: one every 10 s after the burst of 3.
    let app = spawn_app_with(SimConfig::default(), login_limit(6, 3)).await;
    for index in 0..3 {
        let (login, _) = try_login(&app, &format!("user{index}"), None).await;
        login.assert_ok();
    }
    let (refused, retry_after) = try_login(&app, "user3", None).await;
    refused.assert_error(429, "rate_limited");
    assert!(refused.body["error"].get("wechat_errcode").is_none());
    let retry_after = retry_after.expect("Retry-After on 429");
    assert!((1..=10).contains(&retry_after), "Retry-After {retry_after}");
    // The refused login never reached WeChat: its code is still good for later.
    assert_eq!(app.jscode2session_calls(APPID), 3);
    // Other routes are not limited.
    app.get("/healthz", None).await.assert_ok();
}

#[tokio::test]
async fn forwarded_for_counts_only_when_trusted() {
    let untrusted = spawn_app_with(SimConfig::default(), login_limit(2, 1)).await;
    try_login(&untrusted, "a", Some("10.0.0.1"))
        .await
        .0
        .assert_ok();
    // A client cannot dodge the limit by claiming another address.
    try_login(&untrusted, "b", Some("10.0.0.2"))
        .await
        .0
        .assert_error(429, "rate_limited");

    let trusted = spawn_app_with(SimConfig::default(), |settings| {
        login_limit(2, 1)(settings);
        settings.trust_forwarded_for = true;
    })
    .await;
    try_login(&trusted, "a", Some("10.0.0.1"))
        .await
        .0
        .assert_ok();
    try_login(&trusted, "b", Some("10.0.0.1"))
        .await
        .0
        .assert_error(429, "rate_limited");
    // Behind the proxy each client has its own bucket; the proxy's entry is the last one.
    try_login(&trusted, "c", Some("6.6.6.6, 10.0.0.2"))
        .await
        .0
        .assert_ok();
}

#[tokio::test]
async fn phone_and_userinfo_are_limited_per_openid_not_per_address() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.rate_limit_phone_per_user = 2;
        settings.rate_limit_phone_burst = 2;
    })
    .await;
    let alice = token(&app.login("alice").await, "access_token");
    let bob = token(&app.login("bob").await, "access_token");
    for _ in 0..2 {
        let grant = app.sim.phone_grant(APPID, "alice", None).unwrap();
        app.post("/v1/me/phone", Some(&alice), json!({"code": grant.code}))
            .await
            .assert_ok();
    }
    let calls_before = app
        .sim
        .stats()
        .calls_to(Endpoint::Getuserphonenumber, APPID);
    let grant = app.sim.phone_grant(APPID, "alice", None).unwrap();
    let response = app
        .http
        .post(app.url("/v1/me/phone"))
        .bearer_auth(&alice)
        .json(&json!({"code": grant.code}))
        .send()
        .await
        .unwrap();
    let retry_after: u64 = response.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "Retry-After {retry_after}");
    answer(response).await.assert_error(429, "rate_limited");
    // User info shares the budget (the body is checked after the limit).
    app.post(
        "/v1/me/userinfo",
        Some(&alice),
        json!({"raw_data": "{}", "signature": "x", "encrypted_data": "x", "iv": "x"}),
    )
    .await
    .assert_error(429, "rate_limited");
    assert_eq!(
        app.sim
            .stats()
            .calls_to(Endpoint::Getuserphonenumber, APPID),
        calls_before,
        "a limited request does not reach WeChat"
    );
    // Bob, from the same address, has his own budget.
    let grant = app.sim.phone_grant(APPID, "bob", None).unwrap();
    app.post("/v1/me/phone", Some(&bob), json!({"code": grant.code}))
        .await
        .assert_ok();
    // Logging in again does not reset Alice's budget: it is per openid, not per session.
    let alice_again = token(&app.login("alice").await, "access_token");
    let grant = app.sim.phone_grant(APPID, "alice", None).unwrap();
    app.post(
        "/v1/me/phone",
        Some(&alice_again),
        json!({"code": grant.code}),
    )
    .await
    .assert_error(429, "rate_limited");
}

#[tokio::test]
async fn phone_requests_are_limited_per_address_across_users() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.rate_limit_phone_per_ip = 2;
        settings.rate_limit_phone_ip_burst = 2;
    })
    .await;
    let mut refused = 0;
    for user in ["u1", "u2", "u3"] {
        let access = token(&app.login(user).await, "access_token");
        let grant = app.sim.phone_grant(APPID, user, None).unwrap();
        let answer = app
            .post("/v1/me/phone", Some(&access), json!({"code": grant.code}))
            .await;
        if answer.status.as_u16() == 429 {
            answer.assert_error(429, "rate_limited");
            refused += 1;
        } else {
            answer.assert_ok();
        }
    }
    // Three users, one address, two allowed: the third is refused without a WeChat call.
    assert_eq!(refused, 1);
    assert_eq!(
        app.sim
            .stats()
            .calls_to(Endpoint::Getuserphonenumber, APPID),
        2
    );
}

#[tokio::test]
async fn limits_set_to_zero_are_off() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        *settings = settings.clone().without_rate_limits();
        settings.rate_limit_login_burst = 1;
        settings.rate_limit_phone_burst = 1;
        settings.rate_limit_phone_ip_burst = 1;
    })
    .await;
    let mut access = String::new();
    for index in 0..15 {
        access = token(&app.login(&format!("user{index}")).await, "access_token");
    }
    for _ in 0..5 {
        let grant = app.sim.phone_grant(APPID, "user14", None).unwrap();
        app.post("/v1/me/phone", Some(&access), json!({"code": grant.code}))
            .await
            .assert_ok();
    }
}

#[tokio::test]
async fn the_defaults_limit_logins_from_one_address() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        let defaults = Settings::new(Vec::new(), "");
        settings.rate_limit_login_per_ip = defaults.rate_limit_login_per_ip;
        settings.rate_limit_login_burst = defaults.rate_limit_login_burst;
    })
    .await;
    let mut refused = None;
    for index in 0..30 {
        let (login, _) = try_login(&app, &format!("user{index}"), None).await;
        if login.status.as_u16() == 429 {
            refused = Some(index);
            break;
        }
        login.assert_ok();
    }
    let refused = refused.expect("the default limit trips within 30 quick logins");
    assert!(
        refused >= 10,
        "the default burst is 10, refused at {refused}"
    );
}
