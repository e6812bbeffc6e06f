//! The configured webhooks (`[[webhooks]]` in the file, or `--webhook-url`) and how their
//! deliveries are paced; [`check`] refuses a configuration that could not deliver.
use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::display_url;
use crate::layered::{settings_group, Millis, Seconds};
use crate::storage::EventType;

settings_group! {
    /// How deliveries are attempted and how long events are kept.
    pub struct WebhookDeliverySettings, layer WebhookDeliveryLayer {
        // A receiver that hangs costs one bounded attempt, then the delivery waits for its
        // next one.
        /// Deadline of one webhook attempt (connect, send, answer), in seconds
        #[arg(long, env = "WXLOGIN_WEBHOOK_TIMEOUT", value_name = "SECS")]
        pub webhook_timeout: Duration as Seconds = Duration::from_secs(5),
        /// How often an idle webhook worker looks for due deliveries, in milliseconds
        #[arg(long, env = "WXLOGIN_WEBHOOK_POLL_INTERVAL_MS", value_name = "MS")]
        pub webhook_poll_interval_ms: Duration as Millis = Duration::from_secs(1),
        /// How long events are kept (and then pruned, unless a webhook delivery for them is
        /// still pending), in seconds
        #[arg(long, env = "WXLOGIN_EVENT_RETENTION", value_name = "SECS")]
        pub event_retention: Duration as Seconds = Duration::from_secs(7 * 24 * 3600),
    }
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
            .field("url", &display_url(&self.url))
            .field("secret", &"<redacted>")
            .field("events", &self.events)
            .finish()
    }
}

/// Refuse what could not deliver: no time for an attempt, a URL that is not http(s), an
/// empty secret, an unknown event type, a URL twice. The message never quotes a URL's
/// credentials.
pub fn check(webhooks: &[WebhookEntry], delivery: &WebhookDeliverySettings) -> Result<(), String> {
    if delivery.webhook_timeout.is_zero() || delivery.webhook_poll_interval_ms.is_zero() {
        return Err("the webhook timeout and poll interval must be positive".to_owned());
    }
    let mut seen = std::collections::HashSet::new();
    for webhook in webhooks {
        // The URL is not quoted back: it may carry credentials.
        let url = url::Url::parse(&webhook.url)
            .map_err(|error| format!("a webhook URL is not a URL: {error}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("a webhook URL must be http:// or https://".to_owned());
        }
        let shown = display_url(&webhook.url);
        if webhook.secret.trim().is_empty() {
            return Err(format!(
                "webhook {shown}: the secret is empty (--webhook-secret)"
            ));
        }
        if let Some(types) = &webhook.events {
            if let Some(unknown) = types.iter().find(|name| EventType::parse(name).is_none()) {
                return Err(format!("webhook {shown}: unknown event type {unknown:?}"));
            }
        }
        if !seen.insert(webhook.url.as_str()) {
            return Err(format!("webhook {shown} is configured twice"));
        }
    }
    Ok(())
}
