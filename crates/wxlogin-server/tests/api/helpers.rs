//! Spawns the real server on 127.0.0.1:0 against an in-process simulator, on a fresh
//! database: a temporary SQLite file, or a fresh PostgreSQL schema when
//! `WXLOGIN_TEST_POSTGRES_URL` is set (see [`fresh_database`]).

// The storage suite's fresh databases, so both suites make them one way. This suite uses
// only some of it (not `fresh_stores` or `raw_pool`); the storage suite uses all of it.
#[allow(dead_code)]
#[path = "../storage/helpers.rs"]
mod stores;

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use wxlogin_client::AppCredentials;
use wxlogin_server::clock::OffsetClock;
use wxlogin_server::storage::Store;
use wxlogin_server::{Application, Settings};
use wxlogin_sim::{Endpoint, FaultConfig, SimApp, SimConfig, SimHandle, Simulator};

pub use stores::{ServerKey, TestStore};

/// The database every test app uses: PostgreSQL when `WXLOGIN_TEST_POSTGRES_URL` is set,
/// else a temporary SQLite file. The one place the choice is made.
pub async fn fresh_database() -> TestStore {
    match stores::fresh_postgres().await {
        Some(postgres) => postgres,
        None => stores::fresh_sqlite().await,
    }
}

pub const APPID: &str = SimApp::DEMO_APPID;

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub sim: Simulator,
    pub sim_handle: SimHandle,
    pub clock: Arc<OffsetClock>,
    pub settings: Settings,
    pub database: TestStore,
    /// The running server's sessions (to look into its session cache).
    pub sessions: wxlogin_server::sessions::Sessions,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// An answer: status and JSON body (Null when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// Assert this is the contract's error with `code` and `status`.
    pub fn assert_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "status of {}", self.text);
        assert_eq!(self.body["error"]["code"], code, "code of {}", self.text);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "message of {}",
            self.text
        );
        self
    }

    /// [`Answer::assert_error`], and the error carries WeChat's `errcode` as
    /// `wechat_errcode`.
    pub fn assert_wechat_error(&self, status: u16, code: &str, errcode: i64) -> &Self {
        self.assert_error(status, code);
        assert_eq!(
            self.body["error"]["wechat_errcode"], errcode,
            "wechat_errcode of {}",
            self.text
        );
        self
    }

    pub fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        &self.body
    }
}

/// The demo app only.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(SimConfig::default(), |_| {}).await
}

/// The real app with the abuse limits off: for tests whose many requests all come from one
/// address (the limits have their own tests, rate_limits.rs).
pub async fn spawn_app_without_limits() -> TestApp {
    spawn_app_with(SimConfig::default(), |settings| {
        *settings = settings.clone().without_rate_limits();
    })
    .await
}

/// A server for `sim_config`'s apps (same appids and secrets), adjusted by `configure`.
pub async fn spawn_app_with(
    sim_config: SimConfig,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let apps: Vec<AppCredentials> = sim_config
        .apps
        .iter()
        .map(|app| AppCredentials::new(app.appid.clone(), app.secret.clone()))
        .collect();
    let sim = Simulator::new(sim_config);
    let sim_handle = sim
        .clone()
        .spawn_on_loopback()
        .await
        .expect("simulator starts");
    let database = fresh_database().await;
    let mut settings = Settings::new(apps, database.url.clone());
    settings.http.listen = "127.0.0.1:0".to_owned();
    settings.wechat.wechat_base_url = sim_handle.base_url.clone();
    settings.database.master_key = Some(wxlogin_server::configuration::MasterKeyText::new(
        database.master_key.expose_base64().as_str(),
    ));
    // Every test client shares 127.0.0.1: limits high enough never to trip, but still
    // counted; tests of the limits set their own in `configure`.
    settings.rate_limits.rate_limit_login_per_ip = 1_000_000;
    settings.rate_limits.rate_limit_login_burst = 100_000;
    settings.rate_limits.rate_limit_phone_per_user = 1_000_000;
    settings.rate_limits.rate_limit_phone_burst = 100_000;
    settings.rate_limits.rate_limit_phone_per_ip = 1_000_000;
    settings.rate_limits.rate_limit_phone_ip_burst = 100_000;
    configure(&mut settings);
    let clock = Arc::new(OffsetClock::new());
    let application = Application::build_with_clock(settings.clone(), clock.clone())
        .await
        .expect("server builds");
    let address = format!("http://{}", application.local_addr());
    let sessions = application.state().sessions().clone();
    let (shutdown, stopped) = oneshot::channel();
    let server = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        http: reqwest::Client::new(),
        sim,
        sim_handle,
        clock,
        settings,
        database,
        sessions,
        shutdown: Some(shutdown),
        server: Some(server),
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl TestApp {
    /// Stop the server gracefully and wait for it.
    pub async fn stop(mut self) {
        self.stop_server().await;
    }

    /// [`TestApp::stop`], keeping the database to look at afterwards.
    pub async fn stop_server(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server ends cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("request is answered")).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.request(Method::GET, path, token, None).await
    }

    /// POST /v1/token/refresh with `refresh_token`.
    pub async fn refresh(&self, refresh_token: &str) -> Answer {
        self.post(
            "/v1/token/refresh",
            None,
            json!({"refresh_token": refresh_token}),
        )
        .await
    }

    /// PATCH /v1/me as the holder of `access`.
    pub async fn patch_me(&self, access: &str, body: Value) -> Answer {
        self.request(Method::PATCH, "/v1/me", Some(access), Some(body))
            .await
    }

    /// A fresh `wx.login` code for `user` in `appid`.
    pub fn code(&self, appid: &str, user: &str) -> String {
        self.sim
            .login_code(appid, user)
            .expect("simulator mints a code")
            .code
    }

    /// Log `user` in to the demo app; returns the answer body.
    pub async fn login(&self, user: &str) -> Value {
        self.login_to(APPID, user).await
    }

    pub async fn login_to(&self, appid: &str, user: &str) -> Value {
        let code = self.code(appid, user);
        self.post("/v1/login", None, json!({"code": code, "appid": appid}))
            .await
            .assert_ok()
            .clone()
    }

    pub fn jscode2session_calls(&self, appid: &str) -> u64 {
        self.sim.stats().calls_to(Endpoint::Jscode2session, appid)
    }

    /// Make every call to `endpoint` answer `errcode`.
    pub fn force_errcode(&self, endpoint: Endpoint, errcode: i64) {
        let mut faults = FaultConfig::default();
        faults.forced_errcodes.insert(endpoint, errcode);
        self.sim.set_faults(faults).expect("valid faults");
    }

    pub fn clear_faults(&self) {
        self.sim
            .set_faults(FaultConfig::default())
            .expect("valid faults");
    }

    /// A new admin key (its text) with `scopes`, comma-separated.
    pub async fn admin_key(&self, name: &str, scopes: &str) -> String {
        self.store()
            .create_admin_key(
                &wxlogin_server::domain::AdminKeyName::parse(name).unwrap(),
                &wxlogin_server::domain::AdminScopes::parse(scopes).unwrap(),
                wxlogin_server::storage::unix_now(),
            )
            .await
            .unwrap()
            .expose()
            .to_owned()
    }

    /// The store behind the server (same database, same master key).
    pub fn store(&self) -> &Store {
        &self.database.store
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let text = response.text().await.expect("body is readable");
    // Non-JSON answers (only /metrics) keep their text; `body` is then Null.
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, body, text }
}

pub fn token(body: &Value, field: &str) -> String {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {body}"))
        .to_owned()
}
