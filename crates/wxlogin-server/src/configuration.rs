//! Server settings. [`Settings`] is a plain struct that tests build directly; the
//! command line fills a [`SettingsLayer`] from flags and environment, an optional TOML
//! file gives another layer, and [`SettingsLayer::resolve`] applies the defaults.
//!
//! Precedence: flag > environment (both handled by the binary) > TOML file > default.
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use wxlogin_client::AppCredentials;

use crate::domain::AppId;
pub use crate::tokens::SigningAlgorithm;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://wxlogin.db";
pub const DEFAULT_WECHAT_BASE_URL: &str = "https://api.weixin.qq.com";
pub const DEFAULT_ACCESS_TOKEN_TTL: Duration = Duration::from_secs(1800);
pub const DEFAULT_REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
pub const DEFAULT_CODE_RETRY_WINDOW: Duration = Duration::from_secs(60);
/// Legacy open data older than this is refused. WeChat publishes no value; five minutes
/// matches the life of the codes the same button yields, which a real client uses at once.
pub const DEFAULT_WATERMARK_MAX_AGE: Duration = Duration::from_secs(300);
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
pub const DEFAULT_ISSUER: &str = "wxlogin";
pub const DEFAULT_WECHAT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_DB_MAX_CONNECTIONS: u32 = 10;
pub const DEFAULT_DB_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_DB_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// A client gets this long to send a request's head (a new connection: its first one),
/// and again its whole body; slower ones are disconnected, so stalled connections cannot
/// pile up.
pub const DEFAULT_REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no request in flight is closed after this long: long enough for a
/// mini program to reuse it between taps, short enough that parked ones do not pile up.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Open connections at once (also bounded by the open-files limit); at the cap the
/// longest-idle connection is closed to make room.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Off by default: behind a proxy (the documented deployment) every connection comes from
/// the proxy's address.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 0;
/// How long shutdown lets requests in flight finish: under systemd's default stop
/// timeout (90 s) and the usual orchestrator grace periods (30 s).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Logins per [`DEFAULT_RATE_LIMIT_PERIOD`] from one client address (sustained), and at
/// once: enough for a family or an office behind one NAT, too few to burn the app's
/// WeChat quota.
pub const DEFAULT_RATE_LIMIT_LOGIN_PER_IP: u32 = 20;
pub const DEFAULT_RATE_LIMIT_LOGIN_BURST: u32 = 10;
/// Phone-number and user-info requests per period for one user (one budget for both); a
/// real client sends one or two after each login.
pub const DEFAULT_RATE_LIMIT_PHONE_PER_USER: u32 = 10;
pub const DEFAULT_RATE_LIMIT_PHONE_BURST: u32 = 5;
/// Phone-number and user-info requests per period from one client address, whichever
/// users send them: getuserphonenumber is billed per call, and one address holding many
/// accounts would otherwise multiply the per-user budget.
pub const DEFAULT_RATE_LIMIT_PHONE_PER_IP: u32 = 30;
pub const DEFAULT_RATE_LIMIT_PHONE_IP_BURST: u32 = 10;
pub const DEFAULT_RATE_LIMIT_PERIOD: Duration = Duration::from_secs(60);
/// Access tokens remembered as signature-verified: a few MiB at most, and enough for the
/// tokens of the clients active within one token lifetime at a few thousand requests/s.
pub const DEFAULT_ACCESS_TOKEN_CACHE_SIZE: usize = 10_000;
/// getuserphonenumber without `openid` by default: it is optional, one developer reports a
/// format error whenever it is sent, and WxJava sends it only when asked to.
pub const DEFAULT_PHONE_SEND_OPENID: bool = false;
/// One webhook attempt (connect, send, answer) gets this long; a receiver that hangs costs
/// one bounded attempt, then the delivery waits for its next one.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an idle delivery worker looks for due deliveries.
pub const DEFAULT_WEBHOOK_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Events are kept this long (then pruned, unless a delivery for them is still pending).
pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = ConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(ConfigError::Invalid(format!(
                "log format must be text or json, got {other:?}"
            ))),
        }
    }
}

/// The base64 master key as given by the operator. Never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct MasterKeyText(String);

impl MasterKeyText {
    pub fn new(text: impl Into<String>) -> Self {
        MasterKeyText(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MasterKeyText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKeyText(<redacted>)")
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to bind; port 0 picks a free port.
    pub listen: String,
    pub database_url: String,
    /// The mini programs this server logs users in for (at least one).
    pub apps: Vec<AppCredentials>,
    pub wechat_base_url: String,
    /// Per-request deadline for calls to WeChat.
    pub wechat_timeout: Duration,
    /// `None`: SQLite only, a generated key kept in a file beside the database.
    pub master_key: Option<MasterKeyText>,
    /// During a master-key roll: the key being replaced, accepted for opening what it
    /// sealed (never for sealing). `None` outside a roll.
    pub previous_master_key: Option<MasterKeyText>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long a retry of an already-exchanged login code still gets a fresh token pair.
    pub code_retry_window: Duration,
    /// Maximum age of the watermark of legacy open data (phone number, user info).
    pub watermark_max_age: Duration,
    pub log_format: LogFormat,
    /// Maximum request body in bytes.
    pub body_limit: usize,
    /// `iss` of the access tokens.
    pub issuer: String,
    /// Most database connections this instance opens (N instances × this must stay under
    /// the PostgreSQL server's `max_connections`). On SQLite: the most reading connections,
    /// beside the one writing connection.
    pub db_max_connections: u32,
    /// How long a query waits for a free connection before answering 503.
    pub db_acquire_timeout: Duration,
    /// PostgreSQL `statement_timeout`; SQLite `busy_timeout` (how long a write waits
    /// for another writer's lock).
    pub db_statement_timeout: Duration,
    /// Deadline for reading a request's head (a new connection's first head counts from
    /// the connect), and again for its whole body.
    pub request_read_timeout: Duration,
    /// A connection with no request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// Most open connections (lowered to what the open-files limit allows).
    pub max_connections: usize,
    /// Most open connections from one client address; 0 turns the cap off.
    pub max_connections_per_ip: usize,
    /// How long shutdown waits for requests in flight before closing their connections.
    pub shutdown_timeout: Duration,
    /// `POST /v1/login` per client address per `rate_limit_period`; 0 turns it off.
    pub rate_limit_login_per_ip: u32,
    pub rate_limit_login_burst: u32,
    /// `POST /v1/me/phone` and `/v1/me/userinfo` per (appid, openid) per period; 0: off.
    pub rate_limit_phone_per_user: u32,
    pub rate_limit_phone_burst: u32,
    /// The same routes per client address per period; 0 turns it off.
    pub rate_limit_phone_per_ip: u32,
    pub rate_limit_phone_ip_burst: u32,
    pub rate_limit_period: Duration,
    /// Take the client address from the last `X-Forwarded-For` entry (a proxy in front
    /// appends it) instead of the socket peer. Only behind a proxy that sets it.
    pub trust_forwarded_for: bool,
    /// Most access tokens whose signature check is remembered (bounded memory); 0: none.
    pub access_token_cache_size: usize,
    /// The algorithm of new signing keys (ES256 by default; EdDSA on request).
    pub access_token_alg: SigningAlgorithm,
    /// Send the caller's `openid` with getuserphonenumber, so WeChat checks the phone code
    /// belongs to that user.
    pub phone_send_openid: bool,
    /// Where each event is POSTed, signed with the webhook's secret.
    pub webhooks: Vec<WebhookEntry>,
    /// Deadline of one delivery attempt.
    pub webhook_timeout: Duration,
    /// How often an idle delivery worker looks for due deliveries.
    pub webhook_poll_interval: Duration,
    /// How long events are kept in the outbox.
    pub event_retention: Duration,
}

impl Settings {
    /// Defaults for everything, with the given apps and database.
    pub fn new(apps: Vec<AppCredentials>, database_url: impl Into<String>) -> Self {
        Settings {
            listen: DEFAULT_LISTEN.to_owned(),
            database_url: database_url.into(),
            apps,
            wechat_base_url: DEFAULT_WECHAT_BASE_URL.to_owned(),
            wechat_timeout: DEFAULT_WECHAT_TIMEOUT,
            master_key: None,
            previous_master_key: None,
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            refresh_token_ttl: DEFAULT_REFRESH_TOKEN_TTL,
            code_retry_window: DEFAULT_CODE_RETRY_WINDOW,
            watermark_max_age: DEFAULT_WATERMARK_MAX_AGE,
            log_format: LogFormat::Text,
            body_limit: DEFAULT_BODY_LIMIT,
            issuer: DEFAULT_ISSUER.to_owned(),
            db_max_connections: DEFAULT_DB_MAX_CONNECTIONS,
            db_acquire_timeout: DEFAULT_DB_ACQUIRE_TIMEOUT,
            db_statement_timeout: DEFAULT_DB_STATEMENT_TIMEOUT,
            request_read_timeout: DEFAULT_REQUEST_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            rate_limit_login_per_ip: DEFAULT_RATE_LIMIT_LOGIN_PER_IP,
            rate_limit_login_burst: DEFAULT_RATE_LIMIT_LOGIN_BURST,
            rate_limit_phone_per_user: DEFAULT_RATE_LIMIT_PHONE_PER_USER,
            rate_limit_phone_burst: DEFAULT_RATE_LIMIT_PHONE_BURST,
            rate_limit_phone_per_ip: DEFAULT_RATE_LIMIT_PHONE_PER_IP,
            rate_limit_phone_ip_burst: DEFAULT_RATE_LIMIT_PHONE_IP_BURST,
            rate_limit_period: DEFAULT_RATE_LIMIT_PERIOD,
            trust_forwarded_for: false,
            access_token_cache_size: DEFAULT_ACCESS_TOKEN_CACHE_SIZE,
            access_token_alg: SigningAlgorithm::default(),
            phone_send_openid: DEFAULT_PHONE_SEND_OPENID,
            webhooks: Vec::new(),
            webhook_timeout: DEFAULT_WEBHOOK_TIMEOUT,
            webhook_poll_interval: DEFAULT_WEBHOOK_POLL_INTERVAL,
            event_retention: DEFAULT_EVENT_RETENTION,
        }
    }

    /// Turn every abuse limit off (tests that log in many users from one address).
    pub fn without_rate_limits(mut self) -> Self {
        self.rate_limit_login_per_ip = 0;
        self.rate_limit_phone_per_user = 0;
        self.rate_limit_phone_per_ip = 0;
        self
    }

    /// Check what cannot be expressed in the types: apps present and valid, no duplicate.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.apps.is_empty() {
            return Err(ConfigError::Invalid(
                "no app configured: give --appid and --secret, or --config with [[apps]], or --sim"
                    .to_owned(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for app in &self.apps {
            AppId::parse(&app.appid)
                .map_err(|e| ConfigError::Invalid(format!("app {:?}: {e}", app.appid)))?;
            if app.secret.expose().trim().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "app {}: the secret is empty",
                    app.appid
                )));
            }
            if !seen.insert(app.appid.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "app {} is configured twice",
                    app.appid
                )));
            }
        }
        if self.access_token_ttl.is_zero() || self.refresh_token_ttl.is_zero() {
            return Err(ConfigError::Invalid(
                "token lifetimes must be positive".to_owned(),
            ));
        }
        if self.db_max_connections == 0
            || self.db_acquire_timeout.is_zero()
            || self.db_statement_timeout.is_zero()
            || self.request_read_timeout.is_zero()
        {
            return Err(ConfigError::Invalid(
                "database pool size and timeouts, and the request read timeout, must be positive"
                    .to_owned(),
            ));
        }
        if self.rate_limit_period.is_zero() {
            return Err(ConfigError::Invalid(
                "the rate limit period must be positive".to_owned(),
            ));
        }
        let limits = [
            (self.rate_limit_login_per_ip, self.rate_limit_login_burst),
            (self.rate_limit_phone_per_user, self.rate_limit_phone_burst),
            (self.rate_limit_phone_per_ip, self.rate_limit_phone_ip_burst),
        ];
        let unusable = limits
            .into_iter()
            .filter_map(|(per_period, burst)| {
                crate::rate_limit::RateLimit::new(per_period, burst, self.rate_limit_period)
            })
            .any(|limit| limit.quota().is_none());
        if unusable {
            return Err(ConfigError::Invalid(
                "a rate limit allows more requests than the period has nanoseconds".to_owned(),
            ));
        }
        if self.idle_timeout.is_zero() || self.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "the idle timeout and the connection limit must be positive".to_owned(),
            ));
        }
        self.validate_webhooks()?;
        if self.body_limit == 0 {
            return Err(ConfigError::Invalid(
                "body limit must be positive".to_owned(),
            ));
        }
        Ok(())
    }

    fn validate_webhooks(&self) -> Result<(), ConfigError> {
        if self.webhook_timeout.is_zero() || self.webhook_poll_interval.is_zero() {
            return Err(ConfigError::Invalid(
                "the webhook timeout and poll interval must be positive".to_owned(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for webhook in &self.webhooks {
            // The URL is not quoted back: it may carry credentials.
            let url = url::Url::parse(&webhook.url).map_err(|error| {
                ConfigError::Invalid(format!("a webhook URL is not a URL: {error}"))
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::Invalid(
                    "a webhook URL must be http:// or https://".to_owned(),
                ));
            }
            let shown = crate::webhooks::display_url(&webhook.url);
            if webhook.secret.trim().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "webhook {shown}: the secret is empty (--webhook-secret)"
                )));
            }
            if let Some(types) = &webhook.events {
                if let Some(unknown) = types
                    .iter()
                    .find(|name| crate::storage::EventType::parse(name).is_none())
                {
                    return Err(ConfigError::Invalid(format!(
                        "webhook {shown}: unknown event type {unknown:?}"
                    )));
                }
            }
            if !seen.insert(webhook.url.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "webhook {shown} is configured twice"
                )));
            }
        }
        Ok(())
    }

    /// The app with this appid, if configured.
    pub fn app(&self, appid: &str) -> Option<&AppCredentials> {
        self.apps.iter().find(|app| app.appid == appid)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// One source of settings; `None` means "not given here".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsLayer {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    #[serde(default)]
    pub apps: Vec<AppEntry>,
    pub wechat_base_url: Option<String>,
    /// Seconds.
    pub wechat_timeout: Option<u64>,
    pub master_key: Option<MasterKeyText>,
    pub previous_master_key: Option<MasterKeyText>,
    /// Seconds.
    pub access_token_ttl: Option<u64>,
    /// Seconds.
    pub refresh_token_ttl: Option<u64>,
    /// Seconds.
    pub code_retry_window: Option<u64>,
    /// Seconds.
    pub watermark_max_age: Option<u64>,
    pub log_format: Option<LogFormat>,
    /// Bytes.
    pub body_limit: Option<usize>,
    pub issuer: Option<String>,
    pub db_max_connections: Option<u32>,
    /// Seconds.
    pub db_acquire_timeout: Option<u64>,
    /// Seconds.
    pub db_statement_timeout: Option<u64>,
    /// Seconds.
    pub request_read_timeout: Option<u64>,
    /// Seconds.
    pub idle_timeout: Option<u64>,
    pub max_connections: Option<usize>,
    /// 0 turns the cap off.
    pub max_connections_per_ip: Option<usize>,
    /// Seconds.
    pub shutdown_timeout: Option<u64>,
    /// Per period; 0 turns the limit off.
    pub rate_limit_login_per_ip: Option<u32>,
    pub rate_limit_login_burst: Option<u32>,
    /// Per period; 0 turns the limit off.
    pub rate_limit_phone_per_user: Option<u32>,
    pub rate_limit_phone_burst: Option<u32>,
    /// Per period; 0 turns the limit off.
    pub rate_limit_phone_per_ip: Option<u32>,
    pub rate_limit_phone_ip_burst: Option<u32>,
    /// Seconds.
    pub rate_limit_period: Option<u64>,
    pub trust_forwarded_for: Option<bool>,
    /// Entries; 0 turns the cache off.
    pub access_token_cache_size: Option<usize>,
    /// `ES256` (default) or `EdDSA`.
    pub access_token_alg: Option<SigningAlgorithm>,
    pub phone_send_openid: Option<bool>,
    /// `--webhook-url`: one webhook, beside the file's `[[webhooks]]`.
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    #[serde(default)]
    pub webhooks: Vec<WebhookEntry>,
    /// Seconds.
    pub webhook_timeout: Option<u64>,
    /// Milliseconds.
    pub webhook_poll_interval_ms: Option<u64>,
    /// Seconds.
    pub event_retention: Option<u64>,
}

/// `[[webhooks]]` in the TOML file.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEntry {
    pub url: String,
    /// The HMAC key of the signatures. Never printed.
    pub secret: String,
    /// Event types to send (`user.created`, …); absent: every type.
    #[serde(default)]
    pub events: Option<Vec<String>>,
}

impl WebhookEntry {
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        WebhookEntry {
            url: url.into(),
            secret: secret.into(),
            events: None,
        }
    }
}

impl fmt::Debug for WebhookEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookEntry")
            .field("url", &crate::webhooks::display_url(&self.url))
            .field("secret", &"<redacted>")
            .field("events", &self.events)
            .finish()
    }
}

/// `[[apps]]` in the TOML file.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppEntry {
    pub appid: String,
    pub secret: String,
}

impl fmt::Debug for AppEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppEntry")
            .field("appid", &self.appid)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl SettingsLayer {
    /// Read a TOML file: top-level keys as in [`SettingsLayer`], apps as `[[apps]]`.
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parse TOML text. The error message never quotes the file's values (it may hold
    /// secrets), only where the problem is.
    pub fn from_toml_str(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let location = e
                .span()
                .map(|span| {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!(" at line {line}")
                })
                .unwrap_or_default();
            format!("{}{location}", without_quoted_values(e.message()))
        })
    }

    /// Fill what `self` lacks from `lower`. Apps from both layers are kept, `self`'s first.
    pub fn or(self, lower: SettingsLayer) -> SettingsLayer {
        let mut apps = self.apps;
        apps.extend(lower.apps);
        let mut webhooks = self.webhooks;
        webhooks.extend(lower.webhooks);
        SettingsLayer {
            listen: self.listen.or(lower.listen),
            database_url: self.database_url.or(lower.database_url),
            apps,
            wechat_base_url: self.wechat_base_url.or(lower.wechat_base_url),
            wechat_timeout: self.wechat_timeout.or(lower.wechat_timeout),
            master_key: self.master_key.or(lower.master_key),
            previous_master_key: self.previous_master_key.or(lower.previous_master_key),
            access_token_ttl: self.access_token_ttl.or(lower.access_token_ttl),
            refresh_token_ttl: self.refresh_token_ttl.or(lower.refresh_token_ttl),
            code_retry_window: self.code_retry_window.or(lower.code_retry_window),
            watermark_max_age: self.watermark_max_age.or(lower.watermark_max_age),
            log_format: self.log_format.or(lower.log_format),
            body_limit: self.body_limit.or(lower.body_limit),
            issuer: self.issuer.or(lower.issuer),
            db_max_connections: self.db_max_connections.or(lower.db_max_connections),
            db_acquire_timeout: self.db_acquire_timeout.or(lower.db_acquire_timeout),
            db_statement_timeout: self.db_statement_timeout.or(lower.db_statement_timeout),
            request_read_timeout: self.request_read_timeout.or(lower.request_read_timeout),
            idle_timeout: self.idle_timeout.or(lower.idle_timeout),
            max_connections: self.max_connections.or(lower.max_connections),
            max_connections_per_ip: self.max_connections_per_ip.or(lower.max_connections_per_ip),
            shutdown_timeout: self.shutdown_timeout.or(lower.shutdown_timeout),
            rate_limit_login_per_ip: self
                .rate_limit_login_per_ip
                .or(lower.rate_limit_login_per_ip),
            rate_limit_login_burst: self.rate_limit_login_burst.or(lower.rate_limit_login_burst),
            rate_limit_phone_per_user: self
                .rate_limit_phone_per_user
                .or(lower.rate_limit_phone_per_user),
            rate_limit_phone_burst: self.rate_limit_phone_burst.or(lower.rate_limit_phone_burst),
            rate_limit_phone_per_ip: self
                .rate_limit_phone_per_ip
                .or(lower.rate_limit_phone_per_ip),
            rate_limit_phone_ip_burst: self
                .rate_limit_phone_ip_burst
                .or(lower.rate_limit_phone_ip_burst),
            rate_limit_period: self.rate_limit_period.or(lower.rate_limit_period),
            trust_forwarded_for: self.trust_forwarded_for.or(lower.trust_forwarded_for),
            access_token_cache_size: self
                .access_token_cache_size
                .or(lower.access_token_cache_size),
            access_token_alg: self.access_token_alg.or(lower.access_token_alg),
            phone_send_openid: self.phone_send_openid.or(lower.phone_send_openid),
            // The URL and its secret go together: a flag's URL never pairs with the file's
            // secret.
            webhook_secret: if self.webhook_url.is_some() {
                self.webhook_secret
            } else {
                self.webhook_secret.or(lower.webhook_secret)
            },
            webhook_url: self.webhook_url.or(lower.webhook_url),
            webhooks,
            webhook_timeout: self.webhook_timeout.or(lower.webhook_timeout),
            webhook_poll_interval_ms: self
                .webhook_poll_interval_ms
                .or(lower.webhook_poll_interval_ms),
            event_retention: self.event_retention.or(lower.event_retention),
        }
    }

    /// Apply defaults. Apps may still be empty here (the `--sim` mode adds its demo app);
    /// call [`Settings::validate`] once the app list is final.
    pub fn resolve(self) -> Settings {
        let secs = Duration::from_secs;
        let mut webhooks = Vec::new();
        if let Some(url) = self.webhook_url {
            webhooks.push(WebhookEntry::new(
                url,
                self.webhook_secret.unwrap_or_default(),
            ));
        }
        webhooks.extend(self.webhooks);
        Settings {
            listen: self.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            database_url: self
                .database_url
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            apps: self
                .apps
                .into_iter()
                .map(|entry| AppCredentials::new(entry.appid, entry.secret))
                .collect(),
            wechat_base_url: self
                .wechat_base_url
                .unwrap_or_else(|| DEFAULT_WECHAT_BASE_URL.to_owned()),
            wechat_timeout: self
                .wechat_timeout
                .map(secs)
                .unwrap_or(DEFAULT_WECHAT_TIMEOUT),
            master_key: self.master_key,
            previous_master_key: self.previous_master_key,
            access_token_ttl: self
                .access_token_ttl
                .map(secs)
                .unwrap_or(DEFAULT_ACCESS_TOKEN_TTL),
            refresh_token_ttl: self
                .refresh_token_ttl
                .map(secs)
                .unwrap_or(DEFAULT_REFRESH_TOKEN_TTL),
            code_retry_window: self
                .code_retry_window
                .map(secs)
                .unwrap_or(DEFAULT_CODE_RETRY_WINDOW),
            watermark_max_age: self
                .watermark_max_age
                .map(secs)
                .unwrap_or(DEFAULT_WATERMARK_MAX_AGE),
            log_format: self.log_format.unwrap_or_default(),
            body_limit: self.body_limit.unwrap_or(DEFAULT_BODY_LIMIT),
            issuer: self.issuer.unwrap_or_else(|| DEFAULT_ISSUER.to_owned()),
            db_max_connections: self
                .db_max_connections
                .unwrap_or(DEFAULT_DB_MAX_CONNECTIONS),
            db_acquire_timeout: self
                .db_acquire_timeout
                .map(secs)
                .unwrap_or(DEFAULT_DB_ACQUIRE_TIMEOUT),
            db_statement_timeout: self
                .db_statement_timeout
                .map(secs)
                .unwrap_or(DEFAULT_DB_STATEMENT_TIMEOUT),
            request_read_timeout: self
                .request_read_timeout
                .map(secs)
                .unwrap_or(DEFAULT_REQUEST_READ_TIMEOUT),
            idle_timeout: self.idle_timeout.map(secs).unwrap_or(DEFAULT_IDLE_TIMEOUT),
            max_connections: self.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
            max_connections_per_ip: self
                .max_connections_per_ip
                .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_IP),
            shutdown_timeout: self
                .shutdown_timeout
                .map(secs)
                .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
            rate_limit_login_per_ip: self
                .rate_limit_login_per_ip
                .unwrap_or(DEFAULT_RATE_LIMIT_LOGIN_PER_IP),
            rate_limit_login_burst: self
                .rate_limit_login_burst
                .unwrap_or(DEFAULT_RATE_LIMIT_LOGIN_BURST),
            rate_limit_phone_per_user: self
                .rate_limit_phone_per_user
                .unwrap_or(DEFAULT_RATE_LIMIT_PHONE_PER_USER),
            rate_limit_phone_burst: self
                .rate_limit_phone_burst
                .unwrap_or(DEFAULT_RATE_LIMIT_PHONE_BURST),
            rate_limit_phone_per_ip: self
                .rate_limit_phone_per_ip
                .unwrap_or(DEFAULT_RATE_LIMIT_PHONE_PER_IP),
            rate_limit_phone_ip_burst: self
                .rate_limit_phone_ip_burst
                .unwrap_or(DEFAULT_RATE_LIMIT_PHONE_IP_BURST),
            rate_limit_period: self
                .rate_limit_period
                .map(secs)
                .unwrap_or(DEFAULT_RATE_LIMIT_PERIOD),
            trust_forwarded_for: self.trust_forwarded_for.unwrap_or(false),
            access_token_cache_size: self
                .access_token_cache_size
                .unwrap_or(DEFAULT_ACCESS_TOKEN_CACHE_SIZE),
            access_token_alg: self.access_token_alg.unwrap_or_default(),
            phone_send_openid: self.phone_send_openid.unwrap_or(DEFAULT_PHONE_SEND_OPENID),
            webhooks,
            webhook_timeout: self
                .webhook_timeout
                .map(secs)
                .unwrap_or(DEFAULT_WEBHOOK_TIMEOUT),
            webhook_poll_interval: self
                .webhook_poll_interval_ms
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_WEBHOOK_POLL_INTERVAL),
            event_retention: self
                .event_retention
                .map(secs)
                .unwrap_or(DEFAULT_EVENT_RETENTION),
        }
    }
}

/// toml quotes offending values between backticks; drop them, they may be secrets.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (index, part) in message.split('`').enumerate() {
        out.push_str(if index % 2 == 0 { part } else { "…" });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_file_gives_apps_and_other_settings() {
        let layer = SettingsLayer::from_toml_str(
            r#"
            listen = "0.0.0.0:9000"
            code_retry_window = 5
            log_format = "json"
            db_max_connections = 3
            db_acquire_timeout = 1
            access_token_cache_size = 0

            [[apps]]
            appid = "wx1111111111111111"
            secret = "s1"

            [[apps]]
            appid = "wx2222222222222222"
            secret = "s2"
            "#,
        )
        .unwrap();
        let settings = layer.resolve();
        assert_eq!(settings.listen, "0.0.0.0:9000");
        assert_eq!(settings.code_retry_window, Duration::from_secs(5));
        assert_eq!(settings.log_format, LogFormat::Json);
        assert_eq!(settings.db_max_connections, 3);
        assert_eq!(settings.db_acquire_timeout, Duration::from_secs(1));
        assert_eq!(settings.db_statement_timeout, DEFAULT_DB_STATEMENT_TIMEOUT);
        assert_eq!(settings.access_token_cache_size, 0);
        assert_eq!(settings.apps.len(), 2);
        assert_eq!(settings.apps[1].secret.expose(), "s2");
        assert_eq!(settings.access_token_ttl, DEFAULT_ACCESS_TOKEN_TTL);
        settings.validate().unwrap();
    }

    #[test]
    fn flags_win_over_file_and_apps_are_merged() {
        let flags = SettingsLayer {
            listen: Some("127.0.0.1:0".to_owned()),
            apps: vec![AppEntry {
                appid: "wxaaaaaaaaaaaaaaaa".to_owned(),
                secret: "a".to_owned(),
            }],
            ..Default::default()
        };
        let file = SettingsLayer {
            listen: Some("0.0.0.0:1".to_owned()),
            issuer: Some("https://login.example".to_owned()),
            apps: vec![AppEntry {
                appid: "wxbbbbbbbbbbbbbbbb".to_owned(),
                secret: "b".to_owned(),
            }],
            ..Default::default()
        };
        let settings = flags.or(file).resolve();
        assert_eq!(settings.listen, "127.0.0.1:0");
        assert_eq!(settings.issuer, "https://login.example");
        let appids: Vec<_> = settings.apps.iter().map(|a| a.appid.as_str()).collect();
        assert_eq!(appids, ["wxaaaaaaaaaaaaaaaa", "wxbbbbbbbbbbbbbbbb"]);
    }

    #[test]
    fn defaults_match_the_contract() {
        let settings = SettingsLayer::default().resolve();
        assert_eq!(settings.listen, "127.0.0.1:8080");
        assert_eq!(settings.database_url, "sqlite://wxlogin.db");
        assert_eq!(settings.wechat_base_url, "https://api.weixin.qq.com");
        assert_eq!(settings.access_token_ttl, Duration::from_secs(1800));
        assert_eq!(settings.refresh_token_ttl, Duration::from_secs(2_592_000));
        assert_eq!(settings.code_retry_window, Duration::from_secs(60));
        assert_eq!(settings.body_limit, 65_536);
        assert_eq!(settings.rate_limit_login_per_ip, 20);
        assert_eq!(settings.rate_limit_login_burst, 10);
        assert_eq!(settings.rate_limit_phone_per_user, 10);
        assert_eq!(settings.rate_limit_phone_per_ip, 30);
        assert_eq!(settings.rate_limit_period, Duration::from_secs(60));
        assert!(!settings.trust_forwarded_for);
        assert_eq!(settings.access_token_cache_size, 10_000);
        assert!(settings.webhooks.is_empty());
        assert_eq!(settings.webhook_timeout, Duration::from_secs(5));
        assert_eq!(settings.event_retention, Duration::from_secs(604_800));
    }

    #[test]
    fn rate_limits_come_from_the_file_and_zero_period_is_refused() {
        let layer = SettingsLayer::from_toml_str(
            "rate_limit_login_per_ip = 0\nrate_limit_phone_burst = 2\ntrust_forwarded_for = true\nrate_limit_period = 0\n[[apps]]\nappid = \"wxaaaaaaaaaaaaaaaa\"\nsecret = \"a\"\n",
        )
        .unwrap();
        let mut settings = layer.resolve();
        assert_eq!(settings.rate_limit_login_per_ip, 0);
        assert_eq!(settings.rate_limit_phone_burst, 2);
        assert!(settings.trust_forwarded_for);
        assert!(settings.validate().is_err());
        settings.rate_limit_period = Duration::from_secs(1);
        settings.validate().unwrap();
    }

    #[test]
    fn connection_limits_come_from_the_file_and_zero_idle_or_cap_is_refused() {
        let layer = SettingsLayer::from_toml_str(
            "idle_timeout = 0\nmax_connections = 500\nmax_connections_per_ip = 8\nshutdown_timeout = 0\n[[apps]]\nappid = \"wxaaaaaaaaaaaaaaaa\"\nsecret = \"a\"\n",
        )
        .unwrap();
        let mut settings = layer.resolve();
        assert_eq!(settings.max_connections, 500);
        assert_eq!(settings.max_connections_per_ip, 8);
        // No drain at all is a valid choice; no idle time is not.
        assert_eq!(settings.shutdown_timeout, Duration::ZERO);
        assert!(settings.validate().is_err());
        settings.idle_timeout = Duration::from_secs(1);
        settings.validate().unwrap();
        settings.max_connections = 0;
        assert!(settings.validate().is_err());
    }

    #[test]
    fn a_limit_with_more_requests_than_its_period_has_nanoseconds_is_refused_unless_off() {
        let mut settings = SettingsLayer::default().resolve();
        settings.apps = vec![AppCredentials::new("wxaaaaaaaaaaaaaaaa", "a")];
        settings.rate_limit_period = Duration::from_nanos(5);
        settings.rate_limit_login_per_ip = 10;
        settings.rate_limit_phone_per_user = 0;
        settings.rate_limit_phone_per_ip = 0;
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("nanoseconds"), "{error}");
        settings.rate_limit_login_per_ip = 5;
        settings.validate().unwrap();
        settings.rate_limit_login_per_ip = 0;
        settings.validate().unwrap();
    }

    #[test]
    fn validation_refuses_missing_duplicate_and_empty_secret_apps() {
        let mut settings = SettingsLayer::default().resolve();
        assert!(settings.validate().is_err());
        settings.apps = vec![
            AppCredentials::new("wxaaaaaaaaaaaaaaaa", "a"),
            AppCredentials::new("wxaaaaaaaaaaaaaaaa", "b"),
        ];
        assert!(settings
            .validate()
            .unwrap_err()
            .to_string()
            .contains("twice"));
        settings.apps = vec![AppCredentials::new("wxaaaaaaaaaaaaaaaa", " ")];
        assert!(settings
            .validate()
            .unwrap_err()
            .to_string()
            .contains("empty"));
    }

    #[test]
    fn toml_errors_do_not_quote_values() {
        let error = SettingsLayer::from_toml_str("master_key = 12345678\n").unwrap_err();
        assert!(!error.contains("12345678"), "{error}");
        assert!(error.contains("line 1"), "{error}");
    }

    #[test]
    fn webhooks_come_from_the_flag_and_the_file_and_are_checked() {
        let flags = SettingsLayer {
            webhook_url: Some("https://hooks.example/a".to_owned()),
            webhook_secret: Some("flag-secret".to_owned()),
            ..Default::default()
        };
        let file = SettingsLayer::from_toml_str(
            "webhook_timeout = 2\nevent_retention = 60\n[[apps]]\nappid = \"wxaaaaaaaaaaaaaaaa\"\nsecret = \"a\"\n\
             [[webhooks]]\nurl = \"http://127.0.0.1:9/b\"\nsecret = \"file-secret\"\nevents = [\"user.created\"]\n",
        )
        .unwrap();
        let mut settings = flags.or(file).resolve();
        assert_eq!(settings.webhooks.len(), 2);
        assert_eq!(settings.webhooks[0].url, "https://hooks.example/a");
        assert_eq!(settings.webhooks[0].secret, "flag-secret");
        assert_eq!(settings.webhooks[0].events, None);
        assert_eq!(
            settings.webhooks[1].events,
            Some(vec!["user.created".to_owned()])
        );
        assert_eq!(settings.webhook_timeout, Duration::from_secs(2));
        assert_eq!(settings.event_retention, Duration::from_secs(60));
        settings.validate().unwrap();
        assert!(!format!("{settings:?}").contains("flag-secret"));
        assert!(!format!("{settings:?}").contains("file-secret"));

        settings.webhooks[1].events = Some(vec!["user.nope".to_owned()]);
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("unknown event type"), "{error}");
        settings.webhooks[1].events = None;
        settings.webhooks[1].secret = " ".to_owned();
        assert!(settings
            .validate()
            .unwrap_err()
            .to_string()
            .contains("secret"));
        settings.webhooks[1].secret = "s".to_owned();
        settings.webhooks[1].url = "ftp://x".to_owned();
        assert!(settings.validate().is_err());
        settings.webhooks[1].url = settings.webhooks[0].url.clone();
        assert!(settings
            .validate()
            .unwrap_err()
            .to_string()
            .contains("twice"));
    }

    #[test]
    fn a_webhook_url_without_its_secret_is_refused() {
        let mut settings = SettingsLayer {
            webhook_url: Some("https://hooks.example/a".to_owned()),
            ..Default::default()
        }
        .resolve();
        settings.apps = vec![AppCredentials::new("wxaaaaaaaaaaaaaaaa", "a")];
        assert!(settings
            .validate()
            .unwrap_err()
            .to_string()
            .contains("secret"));
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let layer = SettingsLayer::from_toml_str(
            "master_key = \"TOPSECRETKEY\"\nprevious_master_key = \"OLDSECRETKEY\"\n[[apps]]\nappid = \"wxaaaaaaaaaaaaaaaa\"\nsecret = \"APPSECRET123\"\n",
        )
        .unwrap();
        let resolved = layer.clone().resolve();
        assert_eq!(
            resolved
                .previous_master_key
                .as_ref()
                .map(|key| key.expose()),
            Some("OLDSECRETKEY")
        );
        let debug = format!("{layer:?} {resolved:?}");
        assert!(!debug.contains("TOPSECRETKEY"), "{debug}");
        assert!(!debug.contains("OLDSECRETKEY"), "{debug}");
        assert!(!debug.contains("APPSECRET123"), "{debug}");
    }
}
