//! What the client needs to know: where WeChat is, how long to wait, how to get tokens.
use std::fmt;
use std::time::Duration;

use wxlogin_crypto::Redacted;

/// An app's AppSecret. Never printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSecret(Redacted<String>);

impl AppSecret {
    pub fn new(secret: String) -> Self {
        AppSecret(Redacted::new(secret))
    }

    /// The secret itself, for the request that needs it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Display for AppSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted app secret>")
    }
}

/// One mini program: its AppID and AppSecret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCredentials {
    pub appid: String,
    pub secret: AppSecret,
}

impl AppCredentials {
    pub fn new(appid: impl Into<String>, secret: impl Into<String>) -> Self {
        AppCredentials {
            appid: appid.into(),
            secret: AppSecret::new(secret.into()),
        }
    }
}

/// Which WeChat endpoint issues access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessTokenMode {
    /// `POST /cgi-bin/stable_token`: repeated calls return the same token, so several
    /// fetchers do not revoke each other.
    #[default]
    Stable,
    /// `GET /cgi-bin/token`: every call issues a new token and revokes the previous one
    /// after about 5 minutes.
    Classic,
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Default `https://api.weixin.qq.com`; tests point it at `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Deadline of one HTTP request (connect, send, read the whole answer). Default 5 s.
    pub request_timeout: Duration,
    /// Default [`AccessTokenMode::Stable`].
    pub token_mode: AccessTokenMode,
    /// Refresh a cached token this long before it expires. Default 5 min; a token whose
    /// whole life is shorter than twice the margin is refreshed at half its life.
    pub refresh_margin: Duration,
    /// Extra attempts for calls that are safe to repeat (token fetch; -1 on read calls).
    /// Default 2.
    pub max_retries: u32,
    /// First backoff delay before a retry; doubled each attempt, with ±50 % jitter.
    /// Default 200 ms.
    pub retry_base_delay: Duration,
    /// How long one instance may hold the cross-instance refresh lease before others
    /// take over. Default 30 s.
    pub refresh_lease_ttl: Duration,
    /// How often an instance waiting for another instance's refresh reads the store.
    /// Default 200 ms.
    pub store_poll_interval: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: "https://api.weixin.qq.com".to_string(),
            request_timeout: Duration::from_secs(5),
            token_mode: AccessTokenMode::Stable,
            refresh_margin: Duration::from_secs(300),
            max_retries: 2,
            retry_base_delay: Duration::from_millis(200),
            refresh_lease_ttl: Duration::from_secs(30),
            store_poll_interval: Duration::from_millis(200),
        }
    }
}
