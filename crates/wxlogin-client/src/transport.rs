//! One HTTP exchange with WeChat: build the URL, send, enforce the deadline, read the
//! body as JSON whatever its Content-Type, turn a non-zero errcode into an error, and
//! report the call to tracing and the observer without any secret.
use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use url::Url;

use crate::{CallObserver, ClientError, WeChatError};

/// One WeChat API: its name (for logs and metrics) and path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    pub name: &'static str,
    pub path: &'static str,
    /// `/cgi-bin/token` and `/cgi-bin/stable_token` read 40001 as a wrong AppSecret.
    pub issues_tokens: bool,
}

pub(crate) const JSCODE2SESSION: Endpoint = Endpoint {
    name: "jscode2session",
    path: "/sns/jscode2session",
    issues_tokens: false,
};
pub(crate) const STABLE_TOKEN: Endpoint = Endpoint {
    name: "stable_token",
    path: "/cgi-bin/stable_token",
    issues_tokens: true,
};
pub(crate) const CLASSIC_TOKEN: Endpoint = Endpoint {
    name: "token",
    path: "/cgi-bin/token",
    issues_tokens: true,
};
pub(crate) const GET_USER_PHONE_NUMBER: Endpoint = Endpoint {
    name: crate::error::PHONE_NUMBER_API,
    path: "/wxa/business/getuserphonenumber",
    issues_tokens: false,
};
pub(crate) const CHECK_SESSION: Endpoint = Endpoint {
    name: "checksession",
    path: "/wxa/checksession",
    issues_tokens: false,
};
pub(crate) const RESET_USER_SESSION_KEY: Endpoint = Endpoint {
    name: "resetusersessionkey",
    path: "/wxa/resetusersessionkey",
    issues_tokens: false,
};

/// A request ready to send. Its URL holds secrets (secret, access_token) in the query,
/// so it is never logged or put into an error.
pub(crate) struct Request {
    pub endpoint: Endpoint,
    pub url: Url,
    pub json_body: Option<Value>,
}

#[derive(Clone)]
pub(crate) struct Transport {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
    observer: Option<Arc<dyn CallObserver>>,
}

impl Transport {
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, ClientError> {
        let parsed = Url::parse(base_url).map_err(|error| {
            ClientError::InvalidConfig(format!("base_url is not a URL: {error}"))
        })?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.query().is_some()
            || parsed.cannot_be_a_base()
        {
            return Err(ClientError::InvalidConfig(
                "base_url must be an http(s) URL without a query".to_string(),
            ));
        }
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            // A redirect would carry the secret or token in its query to wherever it
            // points; WeChat does not redirect API calls, so any redirect is an error.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|error| {
                ClientError::InvalidConfig(format!("HTTP client: {}", error.without_url()))
            })?;
        Ok(Transport {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            timeout,
            observer: None,
        })
    }

    pub fn set_observer(&mut self, observer: Arc<dyn CallObserver>) {
        self.observer = Some(observer);
    }

    /// `endpoint`'s URL with `query` URL-encoded.
    pub fn request(
        &self,
        endpoint: Endpoint,
        query: &[(&str, &str)],
        json_body: Option<Value>,
    ) -> Request {
        // base_url was checked in `new`; appending a constant path keeps it valid.
        let mut url = Url::parse(&format!("{}{}", self.base_url, endpoint.path))
            .expect("a valid base URL plus a constant path is a valid URL");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Request {
            endpoint,
            url,
            json_body,
        }
    }

    /// Send `request` once. Ok holds the answer's JSON object (errcode 0 or absent).
    pub async fn send(&self, request: Request) -> Result<Map<String, Value>, ClientError> {
        let endpoint = request.endpoint;
        let started = Instant::now();
        let result = self.exchange(request).await;
        let latency = started.elapsed();
        let (errcode, outcome, rid) = match &result {
            Ok(answer) => (
                Some(answer.get("errcode").and_then(Value::as_i64).unwrap_or(0)),
                "ok",
                None,
            ),
            Err(ClientError::WeChat(error)) => {
                (Some(error.errcode), "wechat_error", error.rid.as_deref())
            }
            Err(ClientError::Timeout) => (None, "timeout", None),
            Err(ClientError::InvalidResponse(_)) => (None, "invalid_response", None),
            Err(_) => (None, "transport", None),
        };
        tracing::debug!(
            endpoint = endpoint.name,
            errcode,
            rid,
            outcome,
            latency_ms = latency.as_millis() as u64,
            "WeChat call"
        );
        if let Some(observer) = &self.observer {
            observer.on_call(endpoint.name, errcode, outcome, latency);
        }
        result
    }

    async fn exchange(&self, request: Request) -> Result<Map<String, Value>, ClientError> {
        let Request {
            endpoint,
            url,
            json_body,
        } = request;
        let builder = match &json_body {
            Some(body) => self.http.post(url).json(body),
            None => self.http.get(url),
        };
        let read_answer = async {
            let response = builder
                .timeout(self.timeout)
                .send()
                .await
                .map_err(|error| transport_error(endpoint, error))?;
            let status = response.status();
            if status != reqwest::StatusCode::OK {
                return Err(ClientError::Transport(format!(
                    "{}: HTTP status {status}",
                    endpoint.name
                )));
            }
            read_capped_body(endpoint, response).await
        };
        // reqwest enforces the same deadline; this outer one also covers a body that
        // trickles in slower than the deadline without stalling completely.
        let body = tokio::time::timeout(self.timeout, read_answer)
            .await
            .map_err(|_| ClientError::Timeout)??;
        parse_answer(endpoint, &body)
    }
}

/// WeChat's answers are a few hundred bytes; a body beyond this is not one of them, and
/// is not read into memory.
pub(crate) const MAX_ANSWER_BYTES: usize = 64 * 1024;

async fn read_capped_body(
    endpoint: Endpoint,
    mut response: reqwest::Response,
) -> Result<Vec<u8>, ClientError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| transport_error(endpoint, error))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(ClientError::InvalidResponse(format!(
                "{}: answer larger than {MAX_ANSWER_BYTES} bytes",
                endpoint.name
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport_error(endpoint: Endpoint, error: reqwest::Error) -> ClientError {
    if error.is_timeout() {
        return ClientError::Timeout;
    }
    // reqwest's Display includes the URL, whose query holds the secret or access token.
    let error = error.without_url();
    let mut message = format!("{}: {error}", endpoint.name);
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ClientError::Transport(message)
}

/// WeChat's answer as a JSON object, or the WeChat error it carries. An absent errcode
/// means success; a non-zero one is an error even when the payload is also present.
pub(crate) fn parse_answer(
    endpoint: Endpoint,
    body: &[u8],
) -> Result<Map<String, Value>, ClientError> {
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        ClientError::InvalidResponse(format!(
            "{}: body is not JSON ({:?} error at line {} column {})",
            endpoint.name,
            error.classify(),
            error.line(),
            error.column()
        ))
    })?;
    let Value::Object(answer) = value else {
        return Err(ClientError::InvalidResponse(format!(
            "{}: body is not a JSON object",
            endpoint.name
        )));
    };
    let errcode = match answer.get("errcode") {
        None | Some(Value::Null) => 0,
        Some(value) => value.as_i64().ok_or_else(|| {
            ClientError::InvalidResponse(format!("{}: errcode is not an integer", endpoint.name))
        })?,
    };
    if errcode != 0 {
        let errmsg = answer
            .get("errmsg")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let error = if endpoint.issues_tokens {
            WeChatError::from_token_endpoint_answer(errcode, errmsg)
        } else {
            WeChatError::from_answer(errcode, errmsg)
        };
        return Err(ClientError::WeChat(error.answered_by(endpoint.name)));
    }
    Ok(answer)
}

/// Deserialize a successful answer. serde's messages may quote field values (which can
/// be secrets), so only "missing field" messages, which name the field, are kept.
pub(crate) fn typed_answer<T: serde::de::DeserializeOwned>(
    endpoint: Endpoint,
    answer: Map<String, Value>,
) -> Result<T, ClientError> {
    serde_json::from_value(Value::Object(answer)).map_err(|error| {
        let message = error.to_string();
        let detail = if message.starts_with("missing field") {
            message
        } else {
            "a field has an unexpected type".to_string()
        };
        ClientError::InvalidResponse(format!("{}: {detail}", endpoint.name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WeChatErrorKind;

    #[test]
    fn absent_errcode_is_success() {
        let answer = parse_answer(JSCODE2SESSION, br#"{"openid":"o1"}"#).unwrap();
        assert_eq!(answer["openid"], "o1");
    }

    #[test]
    fn nonzero_errcode_wins_over_payload() {
        let error = parse_answer(
            JSCODE2SESSION,
            br#"{"errcode":40029,"errmsg":"invalid code","openid":"o1"}"#,
        )
        .unwrap_err();
        assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::InvalidCode));
    }

    #[test]
    fn forty_thousand_one_on_token_endpoint_means_wrong_secret() {
        let error = parse_answer(
            STABLE_TOKEN,
            br#"{"errcode":40001,"errmsg":"invalid credential"}"#,
        )
        .unwrap_err();
        assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::InvalidSecret));
        let error = parse_answer(
            CHECK_SESSION,
            br#"{"errcode":40001,"errmsg":"invalid credential"}"#,
        )
        .unwrap_err();
        assert_eq!(
            error.wechat_kind(),
            Some(WeChatErrorKind::InvalidCredential)
        );
    }

    #[test]
    fn non_object_and_non_integer_errcode_are_invalid() {
        assert!(matches!(
            parse_answer(CHECK_SESSION, b"[1,2]"),
            Err(ClientError::InvalidResponse(_))
        ));
        assert!(matches!(
            parse_answer(CHECK_SESSION, br#"{"errcode":"x"}"#),
            Err(ClientError::InvalidResponse(_))
        ));
    }

    #[test]
    fn type_errors_do_not_quote_values() {
        #[derive(serde::Deserialize, Debug)]
        struct Shape {
            #[allow(dead_code)]
            session_key: String,
        }
        let answer = parse_answer(JSCODE2SESSION, br#"{"session_key":12345678}"#).unwrap();
        let error = typed_answer::<Shape>(JSCODE2SESSION, answer).unwrap_err();
        assert!(!error.to_string().contains("12345678"), "{error}");
        let answer = parse_answer(JSCODE2SESSION, br#"{}"#).unwrap();
        let error = typed_answer::<Shape>(JSCODE2SESSION, answer).unwrap_err();
        assert!(error.to_string().contains("session_key"), "{error}");
    }
}
