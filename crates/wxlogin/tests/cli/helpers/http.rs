//! JSON over HTTP to the server instances, as a mini program would send it.
use std::time::Duration;

use base64::Engine;
use serde_json::Value;

/// An answer: status, JSON body (Null when empty or not JSON) and the raw text.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "expected 200, got {}", self.text);
        &self.body
    }

    /// The contract's error `{"error":{"code","message"}}` with `status`.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status of {}", self.text);
        assert_eq!(self.body["error"]["code"], code, "code of {}", self.text);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|message| !message.is_empty()),
            "message of {}",
            self.text
        );
    }

    pub fn field(&self, name: &str) -> String {
        self.ok()[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} in {}", self.text))
            .to_owned()
    }

    pub fn user_id(&self) -> String {
        self.ok()["user"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("user.id in {}", self.text))
            .to_owned()
    }
}

/// A client with a deadline on every request, so a hanging server fails the test.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Default for Http {
    fn default() -> Self {
        Http::new(Duration::from_secs(30))
    }
}

impl Http {
    pub fn new(timeout: Duration) -> Http {
        Http {
            client: reqwest::Client::builder()
                .timeout(timeout)
                // A fresh connection per request: none is left pointing at an instance a
                // test has killed, and each request meets the server's accept path.
                .pool_max_idle_per_host(0)
                .build()
                .expect("HTTP client"),
        }
    }

    pub async fn get(&self, url: &str, bearer: Option<&str>) -> Answer {
        let mut request = self.client.get(url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.expect("request is answered")).await
    }

    pub async fn post(&self, url: &str, bearer: Option<&str>, body: Value) -> Answer {
        let mut request = self.client.post(url).json(&body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.expect("request is answered")).await
    }

    /// Any method, with an optional JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.client.request(method, url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("request is answered")).await
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, body, text }
}

/// The `kid` in a JWT's header.
pub fn token_kid(jwt: &str) -> String {
    let header = jwt.split('.').next().expect("a JWT has a header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("the header is base64url");
    let header: Value = serde_json::from_slice(&bytes).expect("the header is JSON");
    header["kid"]
        .as_str()
        .expect("kid in the header")
        .to_owned()
}

/// The kids a JWKS answer publishes.
pub fn jwks_kids(jwks: &Answer) -> Vec<String> {
    jwks.ok()["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("keys in {}", jwks.text))
        .iter()
        .filter_map(|key| key["kid"].as_str().map(str::to_owned))
        .collect()
}
