//! Build the application from [`Settings`]: master key, database (migrated), signing
//! keys, WeChat client sharing its access token through the database, router; bind the
//! listener; serve until told to stop, letting in-flight requests finish.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use wxlogin_client::{ClientConfig, ClientError, WeChatClient};

use crate::at_rest::{resolve_master_key, AtRestError, MasterKey, MasterKeySource};
use crate::clock::{Clock, SystemClock};
use crate::configuration::{ConfigError, DatabaseSettings, Settings};
use crate::connections::{effective_max_connections, ConnectionPolicy};
use crate::master_keys::MasterKeys;
use crate::metrics::prometheus_handle;
use crate::minute_tally::{MinuteTally, UpstreamTally};
use crate::rate_limit::RateLimits;
use crate::routes::router;
use crate::sessions::{SessionPolicy, Sessions};
use crate::state::AppState;
use crate::storage::{DatabaseAccessTokenStore, DatabaseUrl, StorageError, Store, StoreOptions};
use crate::tokens::{KeyPolicy, SigningKeys, TokenError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    MasterKey(#[from] AtRestError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("signing keys: {0}")]
    SigningKeys(#[from] TokenError),
    #[error("WeChat client: {0}")]
    WeChatClient(#[from] ClientError),
    #[error(transparent)]
    Webhooks(#[from] crate::webhooks::WebhookError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

/// A built server, bound to its address but not yet serving.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    state: AppState,
}

impl Application {
    /// Build with the real clock.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// Build with a given clock (tests move time forward with it).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        settings.validate()?;
        let store = open_store(&settings.database).await?;
        let key_policy = KeyPolicy::from(&settings.tokens);
        // Before the server answers: an event recorded from now on gets a delivery for every
        // webhook configured here.
        let orphaned = store
            .sync_webhook_subscriptions(
                &crate::webhooks::subscriptions(&settings.webhooks),
                clock.now(),
            )
            .await?;
        if orphaned > 0 {
            tracing::warn!(
                orphaned,
                "pending webhook deliveries of webhooks no longer configured were marked dead"
            );
        }
        let webhook_worker = crate::webhooks::WebhookWorker::new(
            &settings.webhooks,
            &settings.webhook_delivery,
            store.clone(),
            clock.clone(),
        )?;
        let keys = SigningKeys::load_or_create(store.clone(), key_policy, clock.now()).await?;
        let audiences = settings.apps.iter().map(|app| app.appid.clone());
        let policy = SessionPolicy::with_tokens(&settings.tokens, audiences);
        let sessions = Sessions::new(store.clone(), keys, policy)
            .with_session_cache(settings.tokens.session_cache_size);
        sessions.follow_database();
        let minute_tally = Arc::new(MinuteTally::new(clock.clone()));
        let wechat = WeChatClient::new(ClientConfig {
            base_url: settings.wechat.wechat_base_url.clone(),
            request_timeout: settings.wechat.wechat_timeout,
            ..ClientConfig::default()
        })?
        .with_token_store(Arc::new(DatabaseAccessTokenStore::new(store.clone())))
        .with_observer(Arc::new(UpstreamTally(minute_tally.clone())));

        let listener = TcpListener::bind(&settings.http.listen)
            .await
            .map_err(|source| StartupError::Bind {
                address: settings.http.listen.clone(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartupError::Bind {
            address: settings.http.listen.clone(),
            source,
        })?;
        let appids: Vec<&str> = settings.apps.iter().map(|app| app.appid.as_str()).collect();
        tracing::info!(address = %local_addr, apps = ?appids, wechat = %settings.wechat.wechat_base_url, backend = store.backend().name(), "server ready");
        if crate::routes::discovery::discovery_issuer(&settings.tokens.issuer).is_none() {
            tracing::warn!(
                issuer = %settings.tokens.issuer,
                "discovery is off (/.well-known/openid-configuration answers 404): --issuer is not an absolute URL; set it to this server's public https URL so resource servers can find the keys from the issuer alone"
            );
        }
        let state = AppState::new(
            settings,
            sessions,
            wechat,
            clock,
            prometheus_handle(),
            minute_tally.clone(),
        );
        minute_tally.spawn_flush(state.store().clone());
        RateLimits::spawn_pruning(
            state.rate_limits(),
            state.settings().rate_limits.rate_limit_period,
        );
        state.spawn_gauge_refresh(crate::metrics::GAUGE_REFRESH_PERIOD);
        state.spawn_webhook_worker(webhook_worker);
        Ok(Application {
            listener,
            local_addr,
            router: router(state.clone()),
            state,
        })
    }

    /// The address actually bound (port 0 resolved).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until `shutdown` completes; requests already being handled then get
    /// `shutdown_timeout` to finish, and what the console counted since its last flush is
    /// stored, so that a restart does not lose the last seconds of its figures.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let settings = self.state.settings();
        let policy = ConnectionPolicy {
            read_timeout: settings.http.request_read_timeout,
            idle_timeout: settings.http.idle_timeout,
            max_connections: effective_max_connections(
                settings.http.max_connections,
                settings.database.db_max_connections,
            ),
            max_connections_per_address: settings.http.max_connections_per_ip,
            shutdown_timeout: settings.http.shutdown_timeout,
        };
        let served = crate::connections::serve(self.listener, self.router, policy, shutdown).await;
        self.state.minute_tally().flush(self.state.store()).await;
        served
    }

    /// Serve until the process ends.
    pub async fn run(self) -> std::io::Result<()> {
        self.run_until(std::future::pending()).await
    }
}

/// Resolve the master key, connect and migrate.
pub async fn open_store(settings: &DatabaseSettings) -> Result<Store, StartupError> {
    let database_url = DatabaseUrl::parse(&settings.database_url).map_err(StorageError::from)?;
    let master = resolve_master_key(
        settings.master_key.as_ref().map(|key| key.expose()),
        &database_url,
    )?;
    match &master.source {
        MasterKeySource::Configured => {}
        MasterKeySource::DevFile { path, created } => tracing::warn!(
            path = %path.display(),
            created,
            "no --master-key given: using the development key file beside the SQLite database; set WXLOGIN_MASTER_KEY in production"
        ),
        MasterKeySource::Ephemeral => {
            tracing::warn!("no --master-key given: in-memory database with a throw-away master key")
        }
    }
    let options = StoreOptions {
        max_connections: settings.db_max_connections,
        acquire_timeout: settings.db_acquire_timeout,
        statement_timeout: settings.db_statement_timeout,
        // The SQLite counterpart: a write held up by another writer's lock longer than
        // this fails (503 database_unavailable) instead of hanging the request.
        sqlite_busy_timeout: settings.db_statement_timeout,
    };
    let mut keys = MasterKeys::new(master.key);
    if let Some(previous) = &settings.previous_master_key {
        let previous = MasterKey::from_base64(previous.expose()).map_err(|_| {
            ConfigError::Invalid(
                "--previous-master-key / WXLOGIN_PREVIOUS_MASTER_KEY must be standard base64 of exactly 32 bytes"
                    .into(),
            )
        })?;
        keys = keys.with_previous(previous);
    }
    // Ids only: every instance of a deployment should log the same ones.
    tracing::info!(
        master_key_id = keys.current_id(),
        previous_master_key_ids = ?keys.previous_ids(),
        "master keys loaded"
    );
    let store = Store::open(&database_url, &options, keys).await?;
    let report = store.migrate().await?;
    if !report.applied.is_empty() {
        tracing::info!(
            applied = report.applied.len(),
            backend = report.backend.name(),
            "database migrated"
        );
    }
    Ok(store)
}
