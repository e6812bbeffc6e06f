//! Our own database failing: SQLite locked by another writer for longer than the busy
//! timeout answers 503 `database_unavailable` quickly, spends nothing (the login code and
//! the refresh token still work), and the server recovers by itself once the lock is
//! gone. The same holds when the SQLite files are moved away or made unwritable under the
//! running server, and `/healthz` says so. (PostgreSQL outages are covered by
//! crates/wxlogin/tests/cli/multi_instance.rs.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::helpers::{spawn_app_with, token, APPID};
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

/// Longer than the server's check of its SQLite files (every 250 ms at most).
const AFTER_FILE_CHECK: Duration = Duration::from_millis(400);

fn sqlite_files(url: &str) -> Vec<PathBuf> {
    let path = url.strip_prefix("sqlite://").expect("a sqlite:// URL");
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{path}{suffix}")))
        .collect()
}

#[tokio::test]
async fn sqlite_files_moved_away_fail_healthz_and_writes_until_they_are_back() {
    let app = spawn_app_with(SimConfig::default(), |_| {}).await;
    if app.database.label != "sqlite" {
        eprintln!("skipped: this test moves SQLite files");
        return;
    }
    let login = app.login("alice").await;
    let refresh_token = token(&login, "refresh_token");
    let files = sqlite_files(&app.database.url);
    let aside = |file: &Path| PathBuf::from(format!("{}.aside", file.display()));
    for file in &files {
        std::fs::rename(file, aside(file)).unwrap();
    }
    tokio::time::sleep(AFTER_FILE_CHECK).await;
    app.get("/healthz", None)
        .await
        .assert_error(503, "database_unavailable");
    let code = app.code(APPID, "bob");
    app.post("/v1/login", None, json!({"code": code}))
        .await
        .assert_error(503, "database_unavailable");
    app.post(
        "/v1/token/refresh",
        None,
        json!({"refresh_token": refresh_token}),
    )
    .await
    .assert_error(503, "database_unavailable");

    for file in &files {
        std::fs::rename(aside(file), file).unwrap();
    }
    tokio::time::sleep(AFTER_FILE_CHECK).await;
    app.get("/healthz", None).await.assert_ok();
    app.post("/v1/login", None, json!({"code": code}))
        .await
        .assert_ok();
    app.post(
        "/v1/token/refresh",
        None,
        json!({"refresh_token": refresh_token}),
    )
    .await
    .assert_ok();
}

/// `chattr +i` on files, undone when dropped (else the test directory cannot be removed).
struct Immutable(Vec<PathBuf>);

impl Immutable {
    /// None where `chattr` is missing or not allowed (not root, a file system without it).
    fn set(files: &[PathBuf]) -> Option<Immutable> {
        let mut guard = Immutable(Vec::new());
        for file in files {
            let done = Command::new("chattr").arg("+i").arg(file).status();
            if !done.is_ok_and(|status| status.success()) {
                return None;
            }
            guard.0.push(file.clone());
        }
        Some(guard)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for file in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(file).status();
        }
    }
}

/// Tests run as root, where a chmod does not stop writes: the files are made immutable
/// instead, which root cannot write either (and which, unnoticed, killed the server with
/// SIGBUS at its next write into the memory-mapped `-shm`).
#[tokio::test]
async fn sqlite_files_made_unwritable_answer_503_without_a_crash_and_recover() {
    let app = spawn_app_with(SimConfig::default(), |_| {}).await;
    if app.database.label != "sqlite" {
        eprintln!("skipped: this test makes SQLite files immutable");
        return;
    }
    let login = app.login("alice").await;
    let refresh_token = token(&login, "refresh_token");
    let Some(immutable) = Immutable::set(&sqlite_files(&app.database.url)) else {
        eprintln!("skipped: chattr +i is not available here");
        return;
    };
    tokio::time::sleep(AFTER_FILE_CHECK).await;
    // Written back, the -shm pages are clean: the next write to one faults.
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    let code = app.code(APPID, "bob");
    for _ in 0..3 {
        app.post("/v1/login", None, json!({"code": code}))
            .await
            .assert_error(503, "database_unavailable");
        app.post(
            "/v1/token/refresh",
            None,
            json!({"refresh_token": refresh_token}),
        )
        .await
        .assert_error(503, "database_unavailable");
        app.get("/healthz", None)
            .await
            .assert_error(503, "database_unavailable");
    }

    drop(immutable);
    tokio::time::sleep(AFTER_FILE_CHECK).await;
    app.get("/healthz", None).await.assert_ok();
    app.post("/v1/login", None, json!({"code": code}))
        .await
        .assert_ok();
    app.post(
        "/v1/token/refresh",
        None,
        json!({"refresh_token": refresh_token}),
    )
    .await
    .assert_ok();
}
