//! A real `wxlogin serve` on SQLite, killed with SIGKILL in the middle of concurrent
//! logins and refreshes, then started again on the same database file: every refresh
//! token whose answer the client had fully received, and had not presented yet, still
//! works, and every session it belongs to is still there (its access token too).
//!
//! The WeChat simulator runs in the test process, so it outlives the server.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use wxlogin_sim::{SimApp, SimConfig, Simulator};

const APPID: &str = SimApp::DEMO_APPID;
const WORKERS: usize = 16;
/// Refresh tokens handed out before the kill, at least.
const TOKENS_BEFORE_KILL: usize = 60;

/// A temporary directory, removed unless the test failed (then its logs are kept).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "wxlogin-crash-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("database and logs kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

struct Server {
    base_url: String,
    child: Child,
}

impl Server {
    async fn start(dir: &Path, run: usize, wechat: &str, master_key: &str) -> Server {
        let log = std::fs::File::create(dir.join(format!("serve-{run}.log"))).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_wxlogin"));
        for (name, _) in std::env::vars() {
            if name.starts_with("WXLOGIN_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        let database_url = format!("sqlite://{}", dir.join("wxlogin.db").display());
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
            .arg(&database_url)
            .args(["--appid", APPID, "--secret", SimApp::DEMO_SECRET])
            .args(["--wechat-base-url", wechat, "--master-key", master_key])
            // One client address sends everything here.
            .args(["--rate-limit-login-per-ip", "0"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("wxlogin serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = line.strip_prefix("listening on ") {
                    return Some(address.trim().to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("wxlogin serve prints its address");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server {
            base_url: address,
            child,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
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
    let dir = TempDir::new();
    let sim = Simulator::new(SimConfig::default());
    let sim_handle = sim.clone().spawn_on_loopback().await.unwrap();
    let master_key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let server = Server::start(&dir.0, 1, &sim_handle.base_url, &master_key).await;

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
    let Server { mut child, .. } = server;
    child.start_kill().expect("SIGKILL");
    let killed = child.wait().await.unwrap();
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
    let restarted = Server::start(&dir.0, 2, &sim_handle.base_url, &master_key).await;
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
