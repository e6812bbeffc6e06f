//! The session cache: a repeated `GET /v1/me` is answered from memory, and every way a
//! session can end or a user can change (through this server, through another process
//! or instance on the same database, by an operator's SQL) holds on the very next
//! request. (Several `wxlogin serve` processes on one PostgreSQL: crates/wxlogin/tests/
//! cli/multi_instance.rs.)

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use wxlogin_server::clock::Clock;
use wxlogin_server::domain::{SessionId, UserId};
use wxlogin_server::storage::RevocationReason;

use crate::helpers::{spawn_app, spawn_app_with, token, TestApp};

/// The (user, session) an access token names.
fn claims(access: &str) -> (UserId, SessionId) {
    use base64::Engine;
    let payload = access.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    (
        UserId::from(claims["sub"].as_str().unwrap().to_owned()),
        SessionId::from(claims["sid"].as_str().unwrap().to_owned()),
    )
}

fn is_cached(app: &TestApp, access: &str) -> bool {
    let (user, session) = claims(access);
    app.sessions
        .cache()
        .get(&user, &session, app.clock.now())
        .is_some()
}

/// `GET /v1/me` until its session is served from the cache (the follower's first
/// catch-up comes a moment after start).
async fn me_until_cached(app: &TestApp, access: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let me = app.get("/v1/me", Some(access)).await;
        let body = me.assert_ok().clone();
        if is_cached(app, access) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "the session was never cached ({})",
            app.database.label
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_repeated_me_is_answered_from_memory_and_a_logout_holds_at_once() {
    let app = spawn_app().await;
    let login = app.login("cached").await;
    let access = token(&login, "access_token");
    let first = me_until_cached(&app, &access).await;
    let again = app.get("/v1/me", Some(&access)).await;
    assert_eq!(again.assert_ok(), &first, "the cached answer is the same");

    let logout = app
        .request(Method::POST, "/v1/logout", Some(&access), None)
        .await;
    assert_eq!(logout.status.as_u16(), 204, "{}", logout.text);
    assert!(!is_cached(&app, &access));
    app.get("/v1/me", Some(&access))
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn a_revocation_by_another_process_holds_on_the_very_next_request() {
    let app = spawn_app().await;
    let login = app.login("elsewhere").await;
    let access = token(&login, "access_token");
    let bystander = token(&app.login("bystander").await, "access_token");
    me_until_cached(&app, &access).await;
    me_until_cached(&app, &bystander).await;

    // Another process on the same database (a `wxlogin users revoke`, another instance).
    let other = app.database.another_instance().await;
    let (user, _) = claims(&access);
    let revoked = other
        .revoke_user_sessions(&user, RevocationReason::Admin, app.clock.now())
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    // No wait.
    app.get("/v1/me", Some(&access))
        .await
        .assert_error(401, "unauthorized");
    app.get("/v1/me", Some(&bystander)).await.assert_ok();
    me_until_cached(&app, &bystander).await;
}

#[tokio::test]
async fn roles_and_profiles_changed_by_another_process_show_on_the_very_next_me() {
    let app = spawn_app().await;
    let login = app.login("changing").await;
    let access = token(&login, "access_token");
    me_until_cached(&app, &access).await;
    let (user, _) = claims(&access);
    let other = app.database.another_instance().await;

    other
        .update_profile(&user, Some("renamed elsewhere"), None, app.clock.now())
        .await
        .unwrap();
    let me = app.get("/v1/me", Some(&access)).await;
    assert_eq!(me.assert_ok()["nickname"], "renamed elsewhere");

    me_until_cached(&app, &access).await;
    let roles = wxlogin_server::domain::Roles::parse(&["vip".to_owned()]).unwrap();
    other
        .set_roles(
            &user,
            &roles,
            wxlogin_server::storage::Actor::Operator,
            app.clock.now(),
        )
        .await
        .unwrap();
    let me = app.get("/v1/me", Some(&access)).await;
    assert_eq!(me.assert_ok()["roles"], json!(["vip"]));
}

/// An operator's SQL goes through no code of ours: the database's triggers announce it.
/// On SQLite any commit stops the cache from answering until it has caught up, so it
/// holds on the next request; on PostgreSQL it holds once the trigger's notice arrives
/// (revocations through wxlogin wait for every instance instead, tests above).
#[tokio::test]
async fn an_operators_sql_on_users_and_sessions_is_seen_without_any_call_of_ours() {
    let app = spawn_app().await;
    let login = app.login("operated").await;
    let access = token(&login, "access_token");
    me_until_cached(&app, &access).await;
    let (user, session) = claims(&access);
    let raw = app.database.raw_pool().await;

    sqlx::query("UPDATE users SET nickname = 'set by SQL' WHERE id = $1")
        .bind(user.as_str())
        .execute(&raw)
        .await
        .unwrap();
    let nickname = soon_on_postgres(&app, json!("set by SQL"), || async {
        let me = app.get("/v1/me", Some(&access)).await;
        me.assert_ok()["nickname"].clone()
    })
    .await;
    assert_eq!(nickname, "set by SQL");

    me_until_cached(&app, &access).await;
    sqlx::query("UPDATE sessions SET revoked_at = 1 WHERE id = $1")
        .bind(session.as_str())
        .execute(&raw)
        .await
        .unwrap();
    let status = soon_on_postgres(&app, json!(401), || async {
        json!(app.get("/v1/me", Some(&access)).await.status.as_u16())
    })
    .await;
    assert_eq!(status, 401);
}

/// `read` once on SQLite (it must hold at once); on PostgreSQL, again until it gives
/// `expected`, for a second at most.
async fn soon_on_postgres<F, Fut>(app: &TestApp, expected: Value, read: F) -> Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let mut value = read().await;
    if app.database.label == "sqlite" {
        return value;
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while value != expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
        value = read().await;
    }
    value
}

#[tokio::test]
async fn a_deleted_account_is_refused_at_once_and_its_cache_entry_gone() {
    let app = spawn_app().await;
    let login = app.login("leaving").await;
    let access = token(&login, "access_token");
    me_until_cached(&app, &access).await;
    let (user, _) = claims(&access);
    let other = app.database.another_instance().await;
    assert!(other
        .delete_user(
            &user,
            wxlogin_server::storage::Actor::Operator,
            app.clock.now()
        )
        .await
        .unwrap());
    app.get("/v1/me", Some(&access))
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn with_a_cache_size_of_zero_nothing_is_remembered() {
    let app = spawn_app_with(wxlogin_sim::SimConfig::default(), |settings| {
        settings.tokens.session_cache_size = 0;
    })
    .await;
    let access = token(&app.login("uncached").await, "access_token");
    for _ in 0..3 {
        app.get("/v1/me", Some(&access)).await.assert_ok();
    }
    assert!(!app.sessions.cache().is_on());
    assert!(!is_cached(&app, &access));
    assert!(app.sessions.cache().is_empty());
}
