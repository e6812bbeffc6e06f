//! Our own database failing: SQLite locked by another writer for longer than the busy
//! timeout answers 503 `database_unavailable` quickly, spends nothing (the login code and
//! the refresh token still work), and the server recovers by itself once the lock is
//! gone. (PostgreSQL outages are covered by crates/wxlogin/tests/multi_instance.rs.)
mod common;

use std::str::FromStr;
use std::time::{Duration, Instant};

use common::{spawn_app_with, token, APPID};
use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use wxlogin_sim::{Endpoint, SimConfig};

const BUSY_TIMEOUT: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_locked_sqlite_database_answers_503_and_recovers() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.db_statement_timeout = BUSY_TIMEOUT;
    })
    .await;
    if app.database.label != "sqlite" {
        eprintln!("skipped: this test locks a SQLite file");
        return;
    }
    let login = app.login("alice").await;
    let refresh_token = token(&login, "refresh_token");
    let access = token(&login, "access_token");

    // Another process takes the write lock and keeps it.
    let mut intruder = SqliteConnectOptions::from_str(&app.database.url)
        .unwrap()
        .busy_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("second connection");
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut intruder)
        .await
        .expect("exclusive lock");

    let code = app.code(APPID, "bob");
    let started = Instant::now();
    let locked_login = app.post("/v1/login", None, json!({"code": code})).await;
    let elapsed = started.elapsed();
    locked_login.assert_error(503, "database_unavailable");
    assert!(
        elapsed < BUSY_TIMEOUT + Duration::from_secs(2),
        "answered after {elapsed:?}"
    );
    // The code was claimed in the database before WeChat was asked: it is still unused.
    assert_eq!(app.sim.stats().total_calls_to(Endpoint::Jscode2session), 1);

    app.post(
        "/v1/token/refresh",
        None,
        json!({"refresh_token": refresh_token}),
    )
    .await
    .assert_error(503, "database_unavailable");
    let grant = app.sim.phone_grant(APPID, "alice", None).unwrap();
    let phone = app
        .post("/v1/me/phone", Some(&access), json!({"code": grant.code}))
        .await;
    assert!(
        phone.status.is_server_error() && phone.body["error"]["code"] == "database_unavailable",
        "{}",
        phone.text
    );

    // No token cached yet, and the refresh lease is a write: the phone code was not sent.
    assert_eq!(
        app.sim.stats().total_calls_to(Endpoint::Getuserphonenumber),
        0
    );
    // The lock goes away: everything that failed now works, nothing was spent.
    sqlx::query("ROLLBACK")
        .execute(&mut intruder)
        .await
        .unwrap();
    intruder.close().await.unwrap();
    let bob = app.post("/v1/login", None, json!({"code": code})).await;
    assert_eq!(
        bob.assert_ok()["user"]["openid"],
        app.sim.openid(APPID, "bob")
    );
    app.post(
        "/v1/token/refresh",
        None,
        json!({"refresh_token": refresh_token}),
    )
    .await
    .assert_ok();
    app.get("/healthz", None).await.assert_ok();
}
