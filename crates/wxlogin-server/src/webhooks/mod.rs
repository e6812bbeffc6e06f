//! Webhook delivery: every instance runs one [`WebhookWorker`], a background task that
//! leases due deliveries from the database (storage/webhooks.rs), POSTs each event signed
//! with its webhook's secret and records the outcome.
//!
//! The worker is off the request path: a login only inserts the event and its delivery
//! rows in its own transaction, so a receiver that is down or slow never slows or fails
//! one. Each attempt is bounded (the timeout covers connect, send and answer; redirects
//! are not followed, so a receiver cannot point the server at another address; at most
//! [`MAX_ANSWER_BYTES`] of an answer are read). A failed delivery is retried with
//! exponential backoff and jitter until its retry period ends, then it is dead until an
//! operator revives it (`wxlogin webhooks retry ID`).
//!
//! The worker also prunes the outbox: events past their retention, except those a
//! delivery is still pending for.

mod settings;
pub mod signature;

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::future::join_all;
use rand::Rng;

use crate::clock::Clock;
use crate::storage::{
    AttemptOutcome, LeasedDelivery, StorageError, Store, Subscription, UnixSeconds,
};

pub use settings::{check, WebhookDeliveryLayer, WebhookDeliverySettings, WebhookEntry};
pub use signature::{signature, signature_header};

/// At most this much of an answer is read (for the delivery's `last_error`).
pub const MAX_ANSWER_BYTES: usize = 4 * 1024;
/// How much of a failed answer's body `last_error` keeps.
const ERROR_SNIPPET_CHARS: usize = 200;
/// Deliveries leased at once by one worker.
const LEASE_BATCH: u32 = 32;
/// The first retry waits about this long; each further one twice as long…
const FIRST_BACKOFF_SECS: i64 = 10;
/// …up to this.
const MAX_BACKOFF_SECS: i64 = 3600;
/// How often the outbox is pruned (real time: test clocks that jump do not trigger it).
const PRUNE_PERIOD: Duration = Duration::from_secs(3600);

/// A URL as logs and listings show it: without a password or query (either may carry a
/// credential the receiver asked for).
pub fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("redacted"));
            }
            if parsed.query().is_some() {
                parsed.set_query(Some("redacted"));
            }
            parsed.to_string()
        }
        Err(_) => "<not a URL>".to_owned(),
    }
}

/// The wait before the next attempt after `attempts` failed ones: exponential, with
/// jitter (half to all of the step) so that many deliveries failing together do not
/// retry together.
pub fn backoff_secs(attempts: i64) -> i64 {
    let exponent = attempts.clamp(1, 20) - 1;
    let step = FIRST_BACKOFF_SECS
        .saturating_mul(1_i64 << exponent)
        .min(MAX_BACKOFF_SECS);
    rand::thread_rng().gen_range(step / 2..=step)
}

/// The subscriptions of the configured webhooks (what storage stores; no secrets).
pub fn subscriptions(webhooks: &[WebhookEntry]) -> Vec<Subscription> {
    webhooks
        .iter()
        .map(|webhook| Subscription {
            webhook: webhook.url.clone(),
            event_types: webhook.events.clone(),
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// One instance's delivery worker.
pub struct WebhookWorker {
    store: Store,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    /// URL → secret.
    secrets: HashMap<String, String>,
    urls: Vec<String>,
    /// Names this instance's leases.
    instance: String,
    timeout: Duration,
    poll_interval: Duration,
    event_retention: Duration,
}

impl WebhookWorker {
    pub fn new(
        webhooks: &[WebhookEntry],
        delivery: &WebhookDeliverySettings,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, WebhookError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(delivery.webhook_timeout)
            .connect_timeout(delivery.webhook_timeout)
            .user_agent(concat!("wxlogin-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(WebhookWorker {
            store,
            clock,
            http,
            secrets: webhooks
                .iter()
                .map(|webhook| (webhook.url.clone(), webhook.secret.clone()))
                .collect(),
            urls: webhooks.iter().map(|w| w.url.clone()).collect(),
            instance: uuid::Uuid::new_v4().to_string(),
            timeout: delivery.webhook_timeout,
            poll_interval: delivery.webhook_poll_interval_ms,
            event_retention: delivery.event_retention,
        })
    }

    /// Run until `alive` has no strong reference left (the app was dropped).
    pub fn spawn<T: Send + Sync + 'static>(self, alive: Weak<T>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            // Checked between rounds rather than raced against one: a round cut off
            // mid-attempt would leave its deliveries leased until the leases lapse.
            let mut last_prune: Option<tokio::time::Instant> = None;
            loop {
                if alive.strong_count() == 0 {
                    return;
                }
                if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_PERIOD) {
                    self.prune().await;
                    last_prune = Some(tokio::time::Instant::now());
                }
                match self.run_once().await {
                    Ok(0) => tokio::time::sleep(self.poll_interval).await,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "webhook deliveries: cannot lease");
                        tokio::time::sleep(self.poll_interval).await;
                    }
                }
            }
        })
    }

    /// Lease due deliveries, send them, record the outcomes; returns how many were sent.
    pub async fn run_once(&self) -> Result<usize, StorageError> {
        let now = self.clock.now();
        self.refresh_lag(now).await;
        // Long enough for the attempt and its bookkeeping; a crashed instance's lease
        // lapses after it and another instance takes the delivery over.
        let lease_until = now + 2 * self.timeout.as_secs().max(1) as i64 + 10;
        let leased = self
            .store
            .lease_webhook_deliveries(&self.instance, &self.urls, LEASE_BATCH, now, lease_until)
            .await?;
        let count = leased.len();
        join_all(leased.iter().map(|delivery| self.deliver(delivery))).await;
        Ok(count)
    }

    async fn refresh_lag(&self, now: UnixSeconds) {
        match self.store.oldest_undelivered_event().await {
            Ok(oldest) => crate::metrics::set_webhook_lag(oldest.map_or(0, |at| (now - at).max(0))),
            Err(error) => tracing::warn!(%error, "webhook deliveries: cannot read the lag"),
        }
    }

    async fn deliver(&self, delivery: &LeasedDelivery) {
        let attempt = self.attempt(delivery).await;
        let now = self.clock.now();
        let outcome = match attempt {
            Ok(()) => AttemptOutcome::Delivered,
            Err(error) if now >= delivery.give_up_at => AttemptOutcome::Dead { error },
            Err(error) => AttemptOutcome::Retry {
                error,
                next_attempt_at: (now + backoff_secs(delivery.attempts + 1))
                    .min(delivery.give_up_at),
            },
        };
        let shown = display_url(&delivery.webhook);
        match &outcome {
            AttemptOutcome::Delivered => crate::metrics::record_webhook_delivered(),
            AttemptOutcome::Retry { error, .. } => {
                crate::metrics::record_webhook_failed();
                tracing::warn!(webhook = %shown, event_id = %delivery.event.id, attempts = delivery.attempts + 1, %error, "webhook delivery failed; will retry");
            }
            AttemptOutcome::Dead { error } => {
                crate::metrics::record_webhook_failed();
                crate::metrics::record_webhook_dead();
                tracing::error!(webhook = %shown, event_id = %delivery.event.id, attempts = delivery.attempts + 1, %error, "webhook delivery is dead: retried for its whole retry period (wxlogin webhooks retry revives it)");
            }
        }
        match self
            .store
            .finish_webhook_attempt(delivery.id, &self.instance, &outcome, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(webhook = %shown, event_id = %delivery.event.id, "webhook delivery lease lapsed during the attempt; another instance took it over")
            }
            Err(error) => {
                tracing::warn!(%error, webhook = %shown, event_id = %delivery.event.id, "cannot record a webhook attempt; its lease will lapse and it is sent again")
            }
        }
    }

    /// One POST; `Err` says why it does not count as delivered.
    async fn attempt(&self, delivery: &LeasedDelivery) -> Result<(), String> {
        let Some(secret) = self.secrets.get(&delivery.webhook) else {
            return Err("the webhook is not configured on this instance".to_owned());
        };
        let body = serde_json::to_vec(&crate::routes::event::Event::from(delivery.event.clone()))
            .map_err(|error| format!("cannot encode the event: {error}"))?;
        let signature = signature_header(secret.as_bytes(), self.clock.now(), &body);
        let request = self
            .http
            .post(&delivery.webhook)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Wxlogin-Event-Id", &delivery.event.id)
            .header("Wxlogin-Signature", signature)
            .body(body);
        // reqwest's own timeout covers the same; this one also bounds reading the answer.
        let sent = tokio::time::timeout(self.timeout, async {
            let mut response = request.send().await?;
            let status = response.status();
            let mut answer = Vec::new();
            if !status.is_success() {
                while answer.len() < MAX_ANSWER_BYTES {
                    match response.chunk().await? {
                        Some(chunk) => answer.extend_from_slice(&chunk),
                        None => break,
                    }
                }
                answer.truncate(MAX_ANSWER_BYTES);
            }
            Ok::<_, reqwest::Error>((status, answer))
        })
        .await;
        let (status, answer) = match sent {
            Err(_) => return Err(format!("timed out after {:?}", self.timeout)),
            Ok(Err(error)) => return Err(describe_error(&error, self.timeout)),
            Ok(Ok(answer)) => answer,
        };
        if status.is_success() {
            return Ok(());
        }
        if status.is_redirection() {
            return Err(format!(
                "HTTP {}: redirects are not followed",
                status.as_u16()
            ));
        }
        let snippet: String = String::from_utf8_lossy(&answer)
            .chars()
            .filter(|c| !c.is_control())
            .take(ERROR_SNIPPET_CHARS)
            .collect();
        Err(if snippet.is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            format!("HTTP {}: {snippet}", status.as_u16())
        })
    }

    async fn prune(&self) {
        let retention = i64::try_from(self.event_retention.as_secs()).unwrap_or(i64::MAX);
        let cutoff = self.clock.now().saturating_sub(retention);
        match self.store.prune_events(cutoff).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "events past their retention deleted"),
            Err(error) => tracing::warn!(%error, "cannot prune events"),
        }
    }
}

/// Why a request failed, without its URL (it may carry a credential): the kind, and the
/// innermost cause (refused, unknown host, certificate not trusted…), which names none.
fn describe_error(error: &reqwest::Error, timeout: Duration) -> String {
    let kind = if error.is_timeout() {
        return format!("timed out after {timeout:?}");
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(next) = cause.and_then(std::error::Error::source) {
        cause = Some(next);
    }
    match cause {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        for _ in 0..100 {
            assert!((5..=10).contains(&backoff_secs(1)));
            assert!((10..=20).contains(&backoff_secs(2)));
            assert!((1800..=3600).contains(&backoff_secs(30)));
        }
    }

    #[test]
    fn urls_are_shown_without_password_or_query() {
        assert_eq!(
            display_url("https://user:hunter2@hooks.example/in?token=abc"),
            "https://user:redacted@hooks.example/in?redacted"
        );
        assert_eq!(display_url("http://127.0.0.1:9/x"), "http://127.0.0.1:9/x");
    }
}
