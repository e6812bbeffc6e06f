//! The one state every handler shares: settings, store, WeChat client, clock, metrics.
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use wxlogin_client::{AppCredentials, WeChatClient};

use crate::clock::Clock;
use crate::configuration::Settings;
use crate::domain::AppId;
use crate::error::ApiError;
use crate::minute_tally::MinuteTally;
use crate::rate_limit::RateLimits;
use crate::services::login::CodeLogin;
use crate::sessions::Sessions;
use crate::single_flight::SingleFlight;
use crate::storage::{Store, UnixSeconds};

/// Concurrent logins with one code on this instance share one exchange and its answer.
pub(crate) type LoginFlights = SingleFlight<Result<CodeLogin, ApiError>>;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Store,
    sessions: Sessions,
    wechat: WeChatClient,
    clock: Arc<dyn Clock>,
    metrics: PrometheusHandle,
    login_flights: LoginFlights,
    rate_limits: Arc<RateLimits>,
    minute_tally: Arc<MinuteTally>,
}

impl AppState {
    pub fn new(
        settings: Settings,
        sessions: Sessions,
        wechat: WeChatClient,
        clock: Arc<dyn Clock>,
        metrics: PrometheusHandle,
        minute_tally: Arc<MinuteTally>,
    ) -> Self {
        let rate_limits = Arc::new(RateLimits::from(&settings.rate_limits));
        AppState {
            inner: Arc::new(Inner {
                rate_limits,
                settings,
                store: sessions.store().clone(),
                sessions,
                wechat,
                clock,
                metrics,
                login_flights: LoginFlights::default(),
                minute_tally,
            }),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    pub fn wechat(&self) -> &WeChatClient {
        &self.inner.wechat
    }

    pub fn now(&self) -> UnixSeconds {
        self.inner.clock.now()
    }

    pub fn metrics(&self) -> &PrometheusHandle {
        &self.inner.metrics
    }

    /// The abuse limits (the pruning timer holds a weak reference to them).
    pub fn rate_limits(&self) -> &Arc<RateLimits> {
        &self.inner.rate_limits
    }

    /// This instance's per-minute counts for the console (see [`MinuteTally`]).
    pub fn minute_tally(&self) -> &Arc<MinuteTally> {
        &self.inner.minute_tally
    }

    pub(crate) fn login_flights(&self) -> &LoginFlights {
        &self.inner.login_flights
    }

    /// The app a login is for: the given appid if configured, or the only app when there
    /// is exactly one and none was given.
    pub fn resolve_app(&self, appid: Option<&str>) -> Result<&AppCredentials, ApiError> {
        let apps = &self.inner.settings.apps;
        match appid.map(str::trim).filter(|appid| !appid.is_empty()) {
            Some(appid) => {
                let appid = AppId::parse(appid)?;
                // The value is not named back (nor, through the message, logged): a client
                // that swaps its fields sends its login code here.
                self.app(appid.as_str()).ok_or_else(|| {
                    ApiError::invalid_request("the appid is not configured on this server")
                })
            }
            None if apps.len() == 1 => Ok(&apps[0]),
            None => Err(ApiError::invalid_request(
                "appid is required: this server serves several mini programs",
            )),
        }
    }

    /// The configured app with this appid.
    pub fn app(&self, appid: &str) -> Option<&AppCredentials> {
        self.inner.settings.app(appid)
    }

    /// A cheap query proving the database answers (and, on a SQLite file, that its files
    /// are in place and writable). It reads no table: a probe every second costs nothing.
    pub async fn check_database(&self) -> Result<(), ApiError> {
        self.inner.store.database().ping().await?;
        Ok(())
    }

    /// Recount the gauges read from the database (live sessions: a scan that grows with
    /// them, 80 ms at 400,000).
    pub async fn refresh_gauges(&self) {
        match self.inner.store.count_active_sessions(self.now()).await {
            Ok(count) => crate::metrics::set_active_sessions(count.max(0) as u64),
            Err(error) => tracing::warn!(%error, "cannot count active sessions for /metrics"),
        }
    }

    /// Run the webhook delivery worker until the app is dropped.
    pub fn spawn_webhook_worker(
        &self,
        worker: crate::webhooks::WebhookWorker,
    ) -> tokio::task::JoinHandle<()> {
        worker.spawn(Arc::downgrade(&self.inner))
    }

    /// Refresh the gauges now and then every `period`, in the background, so that
    /// `/metrics` only renders figures at most `period` old instead of counting per scrape.
    /// Stops once the app is dropped.
    pub fn spawn_gauge_refresh(&self, period: Duration) -> tokio::task::JoinHandle<()> {
        let state = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(inner) = state.upgrade() else {
                    return;
                };
                AppState { inner }.refresh_gauges().await;
            }
        })
    }
}
