//! `/healthz` and `/metrics` cost nothing however many sessions are live: the probe is a
//! query that reads no table, the live-session gauge a figure recounted in the background.
//! (Alone in its binary: the gauge is process-wide, and another app would set it too.)
// The api suite's helpers, of which this binary uses a few.
#[allow(dead_code, unused_imports)]
#[path = "api/helpers.rs"]
mod helpers;

use std::path::Path;
use std::time::{Duration, Instant};

use helpers::spawn_app;
use wxlogin_server::metrics::GAUGE_REFRESH_PERIOD;

const BULK_SESSIONS: i64 = 300_000;

/// Live sessions of the one user there is, written straight into the file, as a busy
/// deployment would have them.
fn insert_live_sessions(database_file: &Path, count: i64) {
    let connection = rusqlite::Connection::open(database_file).unwrap();
    connection.busy_timeout(Duration::from_secs(10)).unwrap();
    connection
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             INSERT INTO sessions (id, user_id, appid, openid, created_at, expires_at, revoked_at)
             SELECT 'bulk-' || i, (SELECT id FROM users), 'wx-bulk', 'o-bulk', 0, 4102444800, NULL
             FROM n",
            [count],
        )
        .unwrap();
}

fn gauge(metrics: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("wxlogin_active_sessions "))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test]
async fn probes_stay_cheap_with_many_live_sessions_and_the_gauge_follows_them() {
    let app = spawn_app().await;
    let Some(file) = app.database.url.strip_prefix("sqlite://") else {
        eprintln!("skipped: this test fills a SQLite file");
        return;
    };
    app.login("alice").await;
    insert_live_sessions(Path::new(file), BULK_SESSIONS);

    // Counting 300,000 sessions takes tens of milliseconds: a count per probe would make
    // these 40 probes take seconds.
    let started = Instant::now();
    for _ in 0..20 {
        app.get("/healthz", None).await.assert_ok();
        let metrics = app.get("/metrics", None).await;
        assert!(metrics.status.is_success(), "{}", metrics.text);
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(800),
        "40 probes took {elapsed:?}"
    );

    // The figure still follows, within the refresh period.
    let deadline = Instant::now() + GAUGE_REFRESH_PERIOD + Duration::from_secs(5);
    let expected = (BULK_SESSIONS + 1) as f64;
    loop {
        let metrics = app.get("/metrics", None).await;
        if gauge(&metrics.text) == Some(expected) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "wxlogin_active_sessions is not {expected} in:\n{}",
            metrics.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
