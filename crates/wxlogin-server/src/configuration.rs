//! Server settings. [`Settings`] is plain data, grouped by what each part of the server
//! takes (`settings.http`, `settings.rate_limits`, …); tests build it directly. Each group
//! is declared once, with its defaults, help and `WXLOGIN_*` variables, by
//! `layered::settings_group!` next to the code it configures; [`SettingsLayer`]
//! flattens the groups' layers into the flags of `wxlogin serve` and the keys of the TOML
//! file, which stay flat (`code_retry_window = 30`).
//!
//! Precedence: flag > environment (both read by clap) > TOML file > default.
mod database;
mod file;
mod http;
#[cfg(test)]
mod tests;
mod wechat;

use serde::Deserialize;
use wxlogin_client::AppCredentials;
use wxlogin_crypto::Redacted;

pub use self::database::{DatabaseLayer, DatabaseSettings, MasterKeyText};
pub use self::http::{HttpLayer, HttpSettings};
pub use self::wechat::{WechatLayer, WechatSettings};
use crate::domain::AppId;
pub use crate::rate_limit::{RateLimitLayer, RateLimitSettings};
pub use crate::telemetry::{LogFormat, LogLayer, LogSettings};
pub use crate::tokens::{SigningAlgorithm, TokenLayer, TokenSettings};
pub use crate::webhooks::{WebhookDeliveryLayer, WebhookDeliverySettings, WebhookEntry};

/// Everything the server needs to start.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The mini programs this server logs users in for (at least one).
    pub apps: Vec<AppCredentials>,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub wechat: WechatSettings,
    pub tokens: TokenSettings,
    pub rate_limits: RateLimitSettings,
    /// Where each event is POSTed, signed with the webhook's secret.
    pub webhooks: Vec<WebhookEntry>,
    pub webhook_delivery: WebhookDeliverySettings,
    pub log: LogSettings,
}

impl Settings {
    /// Defaults for everything, with the given apps and database.
    pub fn new(apps: Vec<AppCredentials>, database_url: impl Into<String>) -> Self {
        let mut settings = Settings {
            apps,
            ..Settings::default()
        };
        settings.database.database_url = database_url.into();
        settings
    }

    /// Turn every abuse limit off (tests that log in many users from one address).
    pub fn without_rate_limits(mut self) -> Self {
        self.rate_limits.rate_limit_login_per_ip = 0;
        self.rate_limits.rate_limit_phone_per_user = 0;
        self.rate_limits.rate_limit_phone_per_ip = 0;
        self
    }

    /// Check what cannot be expressed in the types: apps present and valid, no duplicate.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: &str| Err(ConfigError::Invalid(message.to_owned()));
        if self.apps.is_empty() {
            return invalid(
                "no app configured: give --appid and --secret, or --config with [[apps]], or --sim",
            );
        }
        let mut seen = std::collections::HashSet::new();
        for app in &self.apps {
            AppId::parse(&app.appid)
                .map_err(|e| ConfigError::Invalid(format!("app {:?}: {e}", app.appid)))?;
            if app.secret.expose().trim().is_empty() {
                return invalid(&format!("app {}: the secret is empty", app.appid));
            }
            if !seen.insert(app.appid.as_str()) {
                return invalid(&format!("app {} is configured twice", app.appid));
            }
        }
        let (tokens, database, http) = (&self.tokens, &self.database, &self.http);
        if tokens.access_token_ttl.is_zero() || tokens.refresh_token_ttl.is_zero() {
            return invalid("token lifetimes must be positive");
        }
        if database.db_max_connections == 0
            || database.db_acquire_timeout.is_zero()
            || database.db_statement_timeout.is_zero()
            || http.request_read_timeout.is_zero()
        {
            return invalid(
                "database pool size and timeouts, and the request read timeout, must be positive",
            );
        }
        if self.rate_limits.rate_limit_period.is_zero() {
            return invalid("the rate limit period must be positive");
        }
        let unusable = self
            .rate_limits
            .limits()
            .into_iter()
            .flatten()
            .any(|limit| limit.quota().is_none());
        if unusable {
            return invalid("a rate limit allows more requests than the period has nanoseconds");
        }
        if http.idle_timeout.is_zero() || http.max_connections == 0 {
            return invalid("the idle timeout and the connection limit must be positive");
        }
        crate::webhooks::check(&self.webhooks, &self.webhook_delivery)
            .map_err(ConfigError::Invalid)?;
        if http.body_limit == 0 {
            return invalid("body limit must be positive");
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

/// One source of settings (the flags and environment, or the TOML file); `None` and
/// empty lists mean "not given here".
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SettingsLayer {
    #[command(flatten)]
    pub http: HttpLayer,
    #[command(flatten)]
    pub database: DatabaseLayer,
    #[command(flatten)]
    pub wechat: WechatLayer,
    #[command(flatten)]
    pub tokens: TokenLayer,
    #[command(flatten)]
    pub rate_limits: RateLimitLayer,
    #[command(flatten)]
    pub log: LogLayer,
    /// POST every event here, signed with --webhook-secret (several, or a subset of the
    /// event types: `[[webhooks]] url, secret, events` in --config)
    #[arg(long, env = "WXLOGIN_WEBHOOK_URL", hide_env_values = true)]
    pub webhook_url: Option<String>,
    /// HMAC-SHA256 key of --webhook-url's Wxlogin-Signature header
    #[arg(long, env = "WXLOGIN_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Redacted<String>>,
    #[command(flatten)]
    pub webhook_delivery: WebhookDeliveryLayer,
    /// `[[apps]]` of the file (the flags' single app is `wxlogin serve`'s business).
    #[arg(skip)]
    pub apps: Vec<AppEntry>,
    /// `[[webhooks]]` of the file.
    #[arg(skip)]
    pub webhooks: Vec<WebhookEntry>,
}

/// `[[apps]]` in the TOML file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppEntry {
    pub appid: String,
    pub secret: Redacted<String>,
}

impl SettingsLayer {
    /// Fill what `self` lacks from `lower`. Apps and webhooks from both layers are kept,
    /// `self`'s first.
    pub fn or(mut self, lower: SettingsLayer) -> SettingsLayer {
        self.apps.extend(lower.apps);
        self.webhooks.extend(lower.webhooks);
        SettingsLayer {
            http: self.http.or(lower.http),
            database: self.database.or(lower.database),
            wechat: self.wechat.or(lower.wechat),
            tokens: self.tokens.or(lower.tokens),
            rate_limits: self.rate_limits.or(lower.rate_limits),
            log: self.log.or(lower.log),
            // The URL and its secret go together: a flag's URL never pairs with the file's
            // secret.
            webhook_secret: if self.webhook_url.is_some() {
                self.webhook_secret
            } else {
                self.webhook_secret.or(lower.webhook_secret)
            },
            webhook_url: self.webhook_url.or(lower.webhook_url),
            webhook_delivery: self.webhook_delivery.or(lower.webhook_delivery),
            apps: self.apps,
            webhooks: self.webhooks,
        }
    }

    /// Apply defaults. Apps may still be empty here (the `--sim` mode adds its demo app);
    /// call [`Settings::validate`] once the app list is final.
    pub fn resolve(self) -> Settings {
        let flag_webhook = self.webhook_url.map(|url| {
            WebhookEntry::new(
                url,
                self.webhook_secret
                    .map(Redacted::into_exposed)
                    .unwrap_or_default(),
            )
        });
        Settings {
            apps: self
                .apps
                .into_iter()
                .map(|entry| AppCredentials::new(entry.appid, entry.secret.into_exposed()))
                .collect(),
            http: self.http.resolve(),
            database: self.database.resolve(),
            wechat: self.wechat.resolve(),
            tokens: self.tokens.resolve(),
            rate_limits: self.rate_limits.resolve(),
            webhooks: flag_webhook.into_iter().chain(self.webhooks).collect(),
            webhook_delivery: self.webhook_delivery.resolve(),
            log: self.log.resolve(),
        }
    }
}
