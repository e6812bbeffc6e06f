//! What the fuzz targets share: splitting one input into text fields, the properties every
//! error answer must have, and an in-process server (real router, in-memory SQLite, the
//! simulator on loopback) with one logged-in user.
//!
//! Inputs are text with fields separated by newlines (the last field takes the rest), so
//! the seed corpora in `fuzz/seeds/` are readable valid examples.
use std::sync::{Mutex, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;
use wxlogin_client::AppCredentials;
use wxlogin_server::{AppState, Application, Settings};
use wxlogin_sim::{RateLimits, SimApp, SimConfig, SimHandle, Simulator};

/// Split `data` into `N` fields at the first `N - 1` newlines; missing fields are empty.
/// Invalid UTF-8 is replaced (the server only ever sees text fields).
pub fn fields<const N: usize>(data: &[u8]) -> [String; N] {
    let mut parts = data.splitn(N, |&b| b == b'\n');
    std::array::from_fn(|_| String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned())
}

/// Strings that look like credentials (codes, tokens, keys): at least 8 characters, no
/// space, at least two digits and two upper-case letters. No message the server writes
/// itself has such a word, so finding one in an answer means a value was echoed.
pub fn looks_like_credential(text: &str) -> bool {
    text.chars().count() >= 8
        && !text.contains(char::is_whitespace)
        && text.chars().filter(char::is_ascii_digit).count() >= 2
        && text.chars().filter(char::is_ascii_uppercase).count() >= 2
}

/// Every string value (not key) in a JSON document, recursively.
pub fn string_values(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => out.push(text.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|item| string_values(item, out)),
        serde_json::Value::Object(map) => map.values().for_each(|item| string_values(item, out)),
        _ => {}
    }
}

/// The credential-like string values of a request body, if it is JSON at all.
pub fn credential_values(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let mut values = Vec::new();
    string_values(&value, &mut values);
    values.retain(|text| looks_like_credential(text));
    values
}

/// Assert `body` is the contract's error shape: `{"error": {"code", "message", "wechat_errcode"?}}`
/// with nothing else.
pub fn assert_contract_error(status: StatusCode, body: &[u8]) {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_else(|_| {
        panic!(
            "{status} answer is not JSON: {}",
            String::from_utf8_lossy(body)
        )
    });
    let object = value.as_object().expect("error answer is an object");
    assert_eq!(object.len(), 1, "only `error` in {value}");
    let error = value["error"].as_object().expect("`error` is an object");
    assert!(
        error["code"].as_str().is_some_and(|code| !code.is_empty()),
        "error.code in {value}"
    );
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|message| !message.is_empty()),
        "error.message in {value}"
    );
    assert!(
        error
            .keys()
            .all(|key| matches!(key.as_str(), "code" | "message" | "wechat_errcode")),
        "unexpected key in {value}"
    );
}

/// The demo app's id and secret (the simulator's public demo credentials).
pub const APPID: &str = SimApp::DEMO_APPID;
pub const SECRET: &str = SimApp::DEMO_SECRET;

/// A token pair of the fixture's logged-in user.
#[derive(Clone)]
pub struct Login {
    pub access_token: String,
    pub refresh_token: String,
}

/// The real server's router and state over an in-memory SQLite database, pointed at a
/// simulator on 127.0.0.1 without frequency limits, plus one logged-in user.
pub struct Server {
    pub runtime: tokio::runtime::Runtime,
    pub router: Router,
    pub state: AppState,
    pub sim: Simulator,
    login: Mutex<Login>,
    _application: Application,
    _sim_handle: SimHandle,
}

impl Server {
    /// The one server of this process (built on first use).
    pub fn get() -> &'static Server {
        static SERVER: OnceLock<Server> = OnceLock::new();
        SERVER.get_or_init(Server::start)
    }

    fn start() -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let limits = RateLimits {
            jscode2session_per_user_per_minute: u32::MAX,
            token_per_app_per_day: u32::MAX,
            stable_token_per_app_per_minute: u32::MAX,
            stable_token_per_app_per_day: u32::MAX,
            force_refresh_per_app_per_day: u32::MAX,
            force_refresh_min_interval_secs: 0,
            getuserphonenumber_per_app_per_minute: u32::MAX,
            checksession_per_app_per_minute: u32::MAX,
            resetusersessionkey_per_app_per_minute: u32::MAX,
        };
        let sim = Simulator::with_limits(SimConfig::default(), limits);
        let (application, handle) = runtime.block_on(async {
            let handle = sim
                .clone()
                .spawn_on_loopback()
                .await
                .expect("simulator listens on 127.0.0.1");
            let mut settings =
                Settings::new(vec![AppCredentials::new(APPID, SECRET)], "sqlite::memory:");
            settings.http.listen = "127.0.0.1:0".to_owned();
            settings.wechat.wechat_base_url = handle.base_url.clone();
            // The per-address login limit stays at its default and X-Forwarded-For is
            // trusted, so inputs reach the 429 path and the address parsing; the fixture's
            // own logins come from addresses no input uses. The per-user phone limit is
            // raised: the fixture's one user would otherwise be refused within seconds and
            // the decryption paths behind it never reached.
            settings.rate_limits.trust_forwarded_for = true;
            settings.rate_limits.rate_limit_phone_per_user = 1_000_000;
            settings.rate_limits.rate_limit_phone_burst = 100_000;
            let application = Application::build(settings).await.expect("server builds");
            (application, handle)
        });
        let state = application.state().clone();
        let router = wxlogin_server::routes::router(state.clone());
        let server = Server {
            runtime,
            router,
            state,
            sim,
            login: Mutex::new(Login {
                access_token: String::new(),
                refresh_token: String::new(),
            }),
            _application: application,
            _sim_handle: handle,
        };
        server.relogin();
        server
    }

    /// Send one request through the router, as from 127.0.0.1; the status and the whole body.
    pub fn send(&self, request: Request<Body>) -> (StatusCode, Vec<u8>) {
        let (status, _, body) = self.send_full(request);
        (status, body)
    }

    /// [`Server::send`], with the answer's headers.
    pub fn send_full(&self, mut request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let peer: std::net::SocketAddr = ([127, 0, 0, 1], 40_000).into();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        self.runtime.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("the router is infallible");
            let status = response.status();
            let headers = response.headers().clone();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("answer body is readable");
            (status, headers, body.to_vec())
        })
    }

    /// The current token pair of the logged-in user.
    pub fn login(&self) -> Login {
        self.login.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Log the fixture user in again (after an input logged it out or spent its refresh token).
    pub fn relogin(&self) -> Login {
        // The fixture's logins come from addresses of their own (an input may have used up
        // one's login budget: then the next one is taken).
        static LOGINS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let mut attempt = 0;
        let body = loop {
            let code = self
                .sim
                .login_code(APPID, "fuzz-user")
                .expect("simulator mints a code")
                .code;
            let n = LOGINS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let address = format!("fd00:f0:{:x}::1", n & 0xffff);
            let request = Request::post("/v1/login")
                .header("content-type", "application/json")
                .header("x-forwarded-for", address)
                .body(Body::from(
                    serde_json::json!({"code": code, "appid": APPID}).to_string(),
                ))
                .expect("valid request");
            let (status, body) = self.send(request);
            attempt += 1;
            if status == StatusCode::TOO_MANY_REQUESTS && attempt < 10 {
                continue;
            }
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
            break body;
        };
        let value: serde_json::Value = serde_json::from_slice(&body).expect("login answer is JSON");
        let login = Login {
            access_token: value["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh_token: value["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
        };
        *self.login.lock().unwrap_or_else(|p| p.into_inner()) = login.clone();
        login
    }
}
