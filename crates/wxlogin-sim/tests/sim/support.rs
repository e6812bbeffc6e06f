//! Shared helpers: a simulator on 127.0.0.1:0, the device and control sides over HTTP, and
//! a client pointed at it.
use std::time::Duration;

use serde_json::{json, Value};
use wxlogin_client::{AccessTokenMode, AppCredentials, AppSecret, ClientConfig, WeChatClient};
use wxlogin_sim::{SimApp, SimConfig, SimHandle, Simulator};

pub const APPID: &str = "wxaaaaaaaaaaaaaaaa";
pub const SECRET: &str = "secret-of-app-a-0000000000000000";

pub struct Sim {
    pub handle: SimHandle,
    pub simulator: Simulator,
    pub http: reqwest::Client,
}

pub fn app() -> SimApp {
    SimApp::new(APPID, SECRET)
}

pub async fn start() -> Sim {
    start_with(SimConfig {
        apps: vec![app()],
        ..SimConfig::default()
    })
    .await
}

pub async fn start_with(config: SimConfig) -> Sim {
    start_simulator(Simulator::new(config)).await
}

pub async fn start_simulator(simulator: Simulator) -> Sim {
    let handle = simulator
        .clone()
        .spawn_on_loopback()
        .await
        .expect("bind loopback");
    Sim {
        handle,
        simulator,
        http: reqwest::Client::new(),
    }
}

pub fn credentials(appid: &str, secret: &str) -> AppCredentials {
    AppCredentials {
        appid: appid.to_owned(),
        secret: AppSecret::new(secret.to_owned()),
    }
}

pub fn creds() -> AppCredentials {
    credentials(APPID, SECRET)
}

impl Sim {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url)
    }

    pub fn client(&self) -> WeChatClient {
        self.client_with(AccessTokenMode::Stable)
    }

    pub fn client_with(&self, token_mode: AccessTokenMode) -> WeChatClient {
        let config = ClientConfig {
            base_url: self.handle.base_url.clone(),
            request_timeout: Duration::from_secs(5),
            token_mode,
            max_retries: 0,
            ..ClientConfig::default()
        };
        WeChatClient::new(config).expect("client")
    }

    /// POST JSON to a /sim/* path; returns (status, body).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json body"))
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json")
    }

    /// GET a WeChat path with raw query; returns the body as JSON.
    pub async fn wechat_get(&self, path_and_query: &str) -> Value {
        let response = self
            .http
            .get(self.url(path_and_query))
            .send()
            .await
            .expect("send");
        assert_eq!(
            response.status().as_u16(),
            200,
            "WeChat answers HTTP 200 always"
        );
        serde_json::from_str(&response.text().await.expect("body")).expect("json body")
    }

    pub async fn wechat_post(&self, path_and_query: &str, body: &str) -> Value {
        let response = self
            .http
            .post(self.url(path_and_query))
            .body(body.to_owned())
            .send()
            .await
            .expect("send");
        assert_eq!(
            response.status().as_u16(),
            200,
            "WeChat answers HTTP 200 always"
        );
        serde_json::from_str(&response.text().await.expect("body")).expect("json body")
    }

    pub async fn login_code(&self, appid: &str, user: &str) -> String {
        let (status, body) = self
            .post("/sim/login", json!({ "appid": appid, "user": user }))
            .await;
        assert_eq!(status, 200, "{body}");
        body["code"].as_str().expect("code").to_owned()
    }

    pub async fn phone_code(&self, appid: &str, user: &str) -> Value {
        let (status, body) = self
            .post("/sim/phone", json!({ "appid": appid, "user": user }))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn advance(&self, seconds: u64) {
        let (status, body) = self
            .post("/sim/clock/advance", json!({ "seconds": seconds }))
            .await;
        assert_eq!(status, 200, "{body}");
    }

    pub async fn now(&self) -> i64 {
        self.get_json("/sim/clock").await["now"]
            .as_i64()
            .expect("now")
    }

    /// Move the clock to the start of the next calendar minute, so fixed-window counters
    /// cannot roll over in the middle of a test.
    pub async fn align_to_minute(&self) {
        let now = self.now().await;
        self.advance((60 - now.rem_euclid(60)) as u64).await;
    }

    /// Move the clock to the next Beijing midnight (daily quotas reset there).
    pub async fn align_to_beijing_day(&self) {
        let now = self.now().await + 8 * 3600;
        self.advance((86_400 - now.rem_euclid(86_400)) as u64).await;
    }

    /// How a WeChat path judges `token`: 87008 (sig_method is missing) means the token
    /// passed; otherwise the token's errcode (40001, 42001).
    pub async fn token_verdict(&self, token: &str) -> i64 {
        errcode(
            &self
                .wechat_get(&format!(
                    "/wxa/checksession?access_token={token}&openid=x&signature=y"
                ))
                .await,
        )
    }

    pub async fn set_faults(&self, faults: Value) {
        let (status, body) = self.post("/sim/faults", faults).await;
        assert_eq!(status, 200, "{body}");
    }

    pub async fn stable_token_raw(&self, force_refresh: bool) -> Value {
        let body = json!({ "grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": force_refresh });
        self.wechat_post("/cgi-bin/stable_token", &body.to_string())
            .await
    }

    /// jscode2session over plain HTTP, for wire-level assertions.
    pub async fn exchange_raw(&self, appid: &str, secret: &str, code: &str) -> Value {
        self.wechat_get(&format!(
            "/sns/jscode2session?appid={appid}&secret={secret}&js_code={code}&grant_type=authorization_code"
        ))
        .await
    }
}

pub fn errcode(body: &Value) -> i64 {
    body["errcode"].as_i64().unwrap_or(0)
}

/// `<text> rid: xxxxxxxx-xxxxxxxx-xxxxxxxx`
pub fn assert_errmsg(body: &Value, prefix: &str) {
    let errmsg = body["errmsg"].as_str().expect("errmsg");
    assert!(
        errmsg.starts_with(prefix),
        "{errmsg:?} should start with {prefix:?}"
    );
    let rid = errmsg.rsplit(" rid: ").next().expect("rid");
    let groups: Vec<&str> = rid.split('-').collect();
    assert_eq!(groups.len(), 3, "{errmsg}");
    assert!(
        groups
            .iter()
            .all(|group| group.len() == 8 && group.bytes().all(|b| b.is_ascii_hexdigit())),
        "{errmsg}"
    );
}
