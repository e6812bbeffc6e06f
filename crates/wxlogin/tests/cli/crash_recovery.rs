//! A real `wxlogin serve` on SQLite, killed with SIGKILL in the middle of concurrent
//! logins and refreshes, then started again on the same database file: every refresh
//! token whose answer the client had fully received, and had not presented yet, still
//! works, and every session it belongs to is still there (its access token too).
//!
//! The WeChat simulator runs in the test process, so it outlives the server.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::process::{LogDir, ServerProcess};
use base64::Engine;
use serde_json::{json, Value};
use wxlogin_sim::{SimApp, SimConfig, Simulator};

const APPID: &str = SimApp::DEMO_APPID;
const WORKERS: usize = 16;
/// Refresh tokens handed out before the kill, at least.
const TOKENS_BEFORE_KILL: usize = 60;

/// `wxlogin serve` on the SQLite file in `dir`, as run `run` (its log is `serve-RUN.log`).
async fn start_server(dir: &Path, run: usize, wechat: &str, master_key: &str) -> ServerProcess {
    let database_url = format!("sqlite://{}", dir.join("wxlogin.db").display());
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
        master_key,
        // One client address sends everything here.
        "--rate-limit-login-per-ip",
        "0",
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    ServerProcess::start(&format!("serve-{run}"), &args, dir).await
}

/// Refresh tokens the client holds and has not presented yet, with the access token
/// issued alongside.
type Live = Arc<Mutex<HashMap<String, String>>>;

/// POST and read the whole answer; `None` when the exchange did not complete (the
/// server died), in which case the client never learnt what was issued.
async fn post(http: &reqwest::Client, url: &str, body: Value) -> Option<(u16, Value)> {
    let response = http.post(url).json(&body).send().await.ok()?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.ok()?;
    Some((status, body))
}

fn pair(body: &Value) -> (String, String) {
    (
        body["refresh_token"].as_str().unwrap().to_owned(),
        body["access_token"].as_str().unwrap().to_owned(),
    )
}

/// Log a new user in, then rotate its refresh token until told to stop. True when a
/// request was cut off by the kill.
async fn worker(
    index: usize,
    http: reqwest::Client,
    sim: Simulator,
    base_url: String,
    live: Live,
    stop: Arc<AtomicBool>,
) -> bool {
    let mut round = 0;
    while !stop.load(Ordering::Relaxed) {
        let user = format!("crash-{index}-{round}");
        round += 1;
        let code = sim.login_code(APPID, &user).unwrap().code;
        let Some((status, body)) = post(
            &http,
            &format!("{base_url}/v1/login"),
            json!({"code": code}),
        )
        .await
        else {
            return true;
        };
        assert_eq!(status, 200, "login before the kill: {body}");
        let (mut refresh, access) = pair(&body);
        live.lock().unwrap().insert(refresh.clone(), access);
        for _ in 0..3 {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            // Presented from here on: if no answer comes back, its fate is unknown.
            live.lock().unwrap().remove(&refresh);
            let Some((status, body)) = post(
                &http,
                &format!("{base_url}/v1/token/refresh"),
                json!({"refresh_token": refresh}),
            )
            .await
            else {
                return true;
            };
            assert_eq!(status, 200, "refresh before the kill: {body}");
            let (next, access) = pair(&body);
            live.lock().unwrap().insert(next.clone(), access);
            refresh = next;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_handed_out_refresh_token() {
    let dir = LogDir::new("crash");
    let sim = Simulator::new(SimConfig::default());
    let sim_handle = sim.clone().spawn_on_loopback().await.unwrap();
    let master_key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let server = start_server(dir.path(), 1, &sim_handle.base_url, &master_key).await;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let live: Live = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|index| {
            tokio::spawn(worker(
                index,
                http.clone(),
                sim.clone(),
                server.base_url.clone(),
                live.clone(),
                stop.clone(),
            ))
        })
        .collect();

    // Let the load run until enough tokens are out, then kill in the middle of it.
    let handed_out = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let count = live.lock().unwrap().len();
            if count >= TOKENS_BEFORE_KILL {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the load hands out tokens");
    let killed = server.kill().await.expect("SIGKILL");
    assert!(!killed.success(), "the server was killed: {killed:?}");
    stop.store(true, Ordering::Relaxed);
    let mut cut_off = 0;
    for worker in workers {
        cut_off += usize::from(worker.await.expect("a worker failed before the kill"));
    }
    assert!(cut_off > 0, "the kill came in the middle of requests");
    let survivors: HashMap<String, String> = live.lock().unwrap().clone();
    assert!(survivors.len() >= handed_out);

    // Same database file, same master key: everything handed out still works.
    let restarted = start_server(dir.path(), 2, &sim_handle.base_url, &master_key).await;
    let mut lost = Vec::new();
    for (refresh, access) in &survivors {
        let me = http
            .get(restarted.url("/v1/me"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        if me.status().as_u16() != 200 {
            lost.push(format!("session of an access token: {}", me.status()));
        }
        let (status, body) = post(
            &http,
            &restarted.url("/v1/token/refresh"),
            json!({"refresh_token": refresh}),
        )
        .await
        .expect("the restarted server answers");
        if status != 200 {
            lost.push(format!("refresh token: {status} {body}"));
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} handed-out tokens lost after the crash: {lost:?}",
        lost.len(),
        survivors.len()
    );
    // And the restarted server takes new logins as usual.
    let code = sim.login_code(APPID, "after-crash").unwrap().code;
    let (status, body) = post(&http, &restarted.url("/v1/login"), json!({"code": code}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
}
