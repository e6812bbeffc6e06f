//! A small, scriptable stand-in for api.weixin.qq.com on 127.0.0.1:0: each path answers
//! through a closure, and every request is recorded.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use wxlogin_client::{AppCredentials, ClientConfig, WeChatClient};

pub const APPID: &str = "wx1234567890abcdef";
pub const SECRET: &str = "s3cr3t-APP-secret&value=1";

pub fn app() -> AppCredentials {
    AppCredentials::new(APPID, SECRET)
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
}

impl Recorded {
    /// A query parameter, URL-decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
}

#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub delay: Duration,
    pub location: Option<String>,
}

impl Answer {
    pub fn json(body: serde_json::Value) -> Self {
        Answer {
            status: 200,
            content_type: "application/json",
            body: body.to_string(),
            delay: Duration::ZERO,
            location: None,
        }
    }

    pub fn raw(status: u16, content_type: &'static str, body: &str) -> Self {
        Answer {
            status,
            content_type,
            body: body.to_string(),
            delay: Duration::ZERO,
            location: None,
        }
    }

    pub fn error(errcode: i64, errmsg: &str) -> Self {
        Self::json(serde_json::json!({ "errcode": errcode, "errmsg": errmsg }))
    }

    pub fn token(token: &str, expires_in: i64) -> Self {
        Self::json(serde_json::json!({ "access_token": token, "expires_in": expires_in }))
    }

    pub fn redirect_to(location: String) -> Self {
        Answer {
            location: Some(location),
            ..Self::raw(302, "text/plain", "")
        }
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Responder = Arc<dyn Fn(&Recorded) -> Answer + Send + Sync>;

#[derive(Default)]
struct FakeState {
    responders: Mutex<HashMap<String, Responder>>,
    requests: Mutex<Vec<Recorded>>,
}

pub struct FakeWeChat {
    pub base_url: String,
    state: Arc<FakeState>,
}

impl FakeWeChat {
    pub async fn start() -> Self {
        let state = Arc::new(FakeState::default());
        let router = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("fake WeChat server");
        });
        FakeWeChat {
            base_url: format!("http://{address}"),
            state,
        }
    }

    /// Answer `path` with `responder(request)`.
    pub fn on(&self, path: &str, responder: impl Fn(&Recorded) -> Answer + Send + Sync + 'static) {
        self.state
            .responders
            .lock()
            .unwrap()
            .insert(path.to_string(), Arc::new(responder));
    }

    /// Answer `path` with `answers` in order, then keep repeating the last one.
    pub fn script(&self, path: &str, answers: Vec<Answer>) {
        let queue = Mutex::new(VecDeque::from(answers));
        self.on(path, move |_| {
            let mut queue = queue.lock().unwrap();
            if queue.len() > 1 {
                queue.pop_front().unwrap()
            } else {
                queue
                    .front()
                    .cloned()
                    .expect("script needs at least one answer")
            }
        });
    }

    pub fn always(&self, path: &str, answer: Answer) {
        self.on(path, move |_| answer.clone());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|request| request.path == path)
            .collect()
    }

    pub fn count(&self, path: &str) -> usize {
        self.requests_to(path).len()
    }

    pub fn config(&self) -> ClientConfig {
        ClientConfig {
            base_url: self.base_url.clone(),
            request_timeout: Duration::from_secs(5),
            retry_base_delay: Duration::from_millis(20),
            store_poll_interval: Duration::from_millis(20),
            ..ClientConfig::default()
        }
    }

    pub fn client(&self) -> WeChatClient {
        WeChatClient::new(self.config()).expect("client")
    }
}

async fn handle(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let request = Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    state.requests.lock().unwrap().push(request.clone());
    let responder = state.responders.lock().unwrap().get(&request.path).cloned();
    let answer = match responder {
        Some(responder) => responder(&request),
        None => Answer::error(40066, "invalid url rid: 00000000-00000000-00000000"),
    };
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let mut response = (
        StatusCode::from_u16(answer.status).expect("valid status"),
        [(header::CONTENT_TYPE, answer.content_type)],
        answer.body,
    )
        .into_response();
    if let Some(location) = answer.location {
        response
            .headers_mut()
            .insert(header::LOCATION, location.parse().expect("valid Location"));
    }
    response
}

pub const JSCODE2SESSION: &str = "/sns/jscode2session";
pub const STABLE_TOKEN: &str = "/cgi-bin/stable_token";
pub const CLASSIC_TOKEN: &str = "/cgi-bin/token";
pub const PHONE: &str = "/wxa/business/getuserphonenumber";
pub const CHECK_SESSION: &str = "/wxa/checksession";
pub const RESET_SESSION_KEY: &str = "/wxa/resetusersessionkey";

/// A session key as WeChat writes it, and the key.
pub const SESSION_KEY_B64: &str = "tQY+38pdTVnAIWCBNiM1+A==";

/// Log output captured in memory (the log tests read it back to look for secrets).
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Capture this thread's events up to `level` until the guard is dropped. A test doing
    /// this must be alone in its binary: other tests' threads are not captured.
    pub fn start(level: tracing::Level) -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (logs, guard)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
