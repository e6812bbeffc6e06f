//! Getting an access token: from the in-process cache, else from one refresh shared by
//! every concurrent caller, which reads the shared store, takes the cross-instance lease
//! and only then asks WeChat (with bounded, jittered retries). A refresh replacing a token
//! WeChat refused does not accept that token back: it forces a new one.
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use serde_json::json;

use crate::backoff::retry_delay;
use crate::client::Core;
use crate::force_refresh::{china_day, DAILY_LIMIT, MIN_SPACING};
use crate::token_cache::{
    freshly_fetched, loaded, loaded_short_lived, since_epoch, unix_now, CachedToken,
    RefreshInFlightGuard, SharedRefresh, TokenSlot,
};
use crate::transport::{typed_answer, CLASSIC_TOKEN, STABLE_TOKEN};
use crate::wire::AccessTokenAnswer;
use crate::{
    AccessToken, AccessTokenMode, AppCredentials, ClientError, StoreError, StoredAccessToken,
    WeChatErrorKind,
};

/// How many times a waiting instance lets the refresh lease expire before giving up.
const LEASE_ROUNDS: u32 = 3;

impl Core {
    pub(crate) async fn access_token(
        self: &Arc<Self>,
        app: &AppCredentials,
    ) -> Result<AccessToken, ClientError> {
        if let Some(provider) = &self.provider {
            let stored = provider.access_token(&app.appid).await?;
            return Ok(AccessToken::new(stored.token, stored.expires_at_unix));
        }
        let slot = self.tokens.slot(&app.appid);
        let refresh = {
            let mut state = slot.lock();
            if let Some(cached) = state.cached.as_ref().filter(|cached| cached.is_fresh()) {
                return Ok(cached.token.clone());
            }
            match &state.refresh_in_flight {
                Some(refresh) => refresh.clone(),
                None => {
                    let refused = state.refused.clone();
                    let stale_token = state
                        .cached
                        .as_ref()
                        .map(|cached| cached.token.expose().to_string())
                        .or_else(|| refused.clone());
                    let refresh =
                        self.spawn_refresh(slot.clone(), app.clone(), stale_token, refused);
                    state.refresh_in_flight = Some(refresh.clone());
                    refresh
                }
            }
        };
        match refresh.await {
            Ok(token) => Ok(token),
            Err(error) => {
                // A refresh ahead of expiry failed, but the old token still works: better
                // to use it than to fail the call.
                let still_usable = slot
                    .lock()
                    .cached
                    .as_ref()
                    .filter(|cached| cached.is_usable())
                    .cloned();
                match still_usable {
                    Some(cached) => {
                        tracing::warn!(appid = %app.appid, %error, "access-token refresh failed; using the current token until it expires");
                        Ok(cached.token)
                    }
                    None => Err(error),
                }
            }
        }
    }

    /// Run the refresh in its own task, so that a caller that is cancelled (dropped) does
    /// not cancel it for the others, and clear the in-flight marker when it ends.
    fn spawn_refresh(
        self: &Arc<Self>,
        slot: Arc<TokenSlot>,
        app: AppCredentials,
        stale_token: Option<String>,
        refused: Option<String>,
    ) -> SharedRefresh {
        let core = self.clone();
        let task = tokio::spawn(async move {
            let _clear_when_done = RefreshInFlightGuard(slot.clone());
            let refreshed = core
                .refresh(&app, stale_token.as_deref(), refused.as_deref())
                .await;
            if let Ok(cached) = &refreshed {
                slot.lock().replace(cached.clone());
            }
            refreshed.map(|cached| cached.token)
        });
        async move {
            task.await.unwrap_or_else(|_| {
                Err(ClientError::Transport(
                    "access-token refresh task failed".to_string(),
                ))
            })
        }
        .boxed()
        .shared()
    }

    /// A fresh token: another instance's from the store, or one fetched under the lease.
    /// `stale_token` is never taken from the store; `refused` (WeChat refused it) is not
    /// accepted from WeChat either, see [`Core::force_refresh_refused`].
    async fn refresh(
        &self,
        app: &AppCredentials,
        stale_token: Option<&str>,
        refused: Option<&str>,
    ) -> Result<CachedToken, ClientError> {
        let appid = app.appid.as_str();
        let margin = self.config.refresh_margin;
        for _ in 0..LEASE_ROUNDS {
            let seen = self.store.load(appid).await?;
            if let Some(candidate) = seen
                .as_ref()
                .and_then(|stored| usable(stored, stale_token, margin))
            {
                return Ok(candidate);
            }
            let lease_ttl = self.config.refresh_lease_ttl;
            if self
                .store
                .try_acquire_refresh_lease(appid, &self.lease_holder, lease_ttl)
                .await?
            {
                // The holder before us may have saved its token between our look above and
                // the lease: take that one instead of fetching again.
                let saved_meanwhile = match self.store.load(appid).await {
                    Ok(Some(stored)) => usable(&stored, stale_token, margin),
                    _ => None,
                };
                let fetched = match saved_meanwhile {
                    Some(cached) => Ok(cached),
                    None => {
                        let fetched = match (self.fetch_with_retries(app).await, refused) {
                            (Ok(cached), Some(refused))
                                if cached.token.expose() == refused
                                    && self.config.token_mode == AccessTokenMode::Stable =>
                            {
                                self.force_refresh_refused(app, refused).await
                            }
                            (fetched, _) => fetched,
                        };
                        if let Ok(cached) = &fetched {
                            self.save_to_store(appid, cached).await;
                        }
                        fetched
                    }
                };
                if let Err(error) = self
                    .store
                    .release_refresh_lease(appid, &self.lease_holder)
                    .await
                {
                    tracing::warn!(appid, %error, "could not release the access-token refresh lease; it will expire");
                }
                return fetched;
            }
            tracing::debug!(
                appid,
                "another instance holds the refresh lease; waiting for its token"
            );
            let seen_token = seen.map(|stored| stored.token);
            let wait_until = Instant::now() + lease_ttl;
            while Instant::now() < wait_until {
                tokio::time::sleep(self.config.store_poll_interval).await;
                let Some(stored) = self.store.load(appid).await? else {
                    continue;
                };
                if let Some(candidate) = usable(&stored, stale_token, margin) {
                    return Ok(candidate);
                }
                let is_new = Some(&stored.token) != seen_token.as_ref()
                    && Some(stored.token.as_str()) != stale_token;
                if is_new && stored.expires_at_unix > unix_now() {
                    return Ok(loaded_short_lived(stored.token, stored.expires_at_unix));
                }
            }
        }
        Err(ClientError::TokenStore(StoreError(
            "no access token appeared while another instance held the refresh lease".to_string(),
        )))
    }

    /// stable_token handed back the very token WeChat just refused (reported by developers:
    /// it can go on doing so until the token expires, up to 2 h). Only `force_refresh`
    /// replaces it. Called under the refresh lease, so instances force one at a time; the
    /// limiter keeps WeChat's 30 s spacing and 20 a day.
    async fn force_refresh_refused(
        &self,
        app: &AppCredentials,
        refused: &str,
    ) -> Result<CachedToken, ClientError> {
        let appid = app.appid.as_str();
        if let Err(retry_after) = self.force_refresh_limiter.reserve(appid, since_epoch()) {
            tracing::warn!(
                appid,
                retry_after_s = retry_after.as_secs(),
                "stable_token handed back the access token WeChat refused; a forced refresh is not allowed yet (30 s apart, 20 a day)"
            );
            return Err(ClientError::RefusedTokenNotRenewed { retry_after });
        }
        // The same limits counted once for every instance sharing the store.
        let now = since_epoch();
        let shared = self
            .store
            .reserve_force_refresh(
                appid,
                china_day(now) as i64,
                now.as_secs() as i64,
                MIN_SPACING.as_secs() as i64,
                DAILY_LIMIT as i64,
            )
            .await;
        match shared {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    appid,
                    "stable_token handed back the access token WeChat refused; another instance forced a refresh within 30 s or today's 20 are spent"
                );
                return Err(ClientError::RefusedTokenNotRenewed {
                    retry_after: MIN_SPACING,
                });
            }
            Err(error) => {
                // Without the shared count N instances could spend more than WeChat's 20.
                tracing::warn!(appid, %error, "cannot count a forced refresh in the token store; not forcing one");
                return Err(ClientError::RefusedTokenNotRenewed {
                    retry_after: MIN_SPACING,
                });
            }
        }
        tracing::warn!(
            appid,
            "stable_token handed back the access token WeChat refused; forcing a new one (force_refresh, at most 20 a day)"
        );
        let forced = self.fetch_once(app, true).await?;
        if forced.token.expose() == refused {
            // WeChat refreshed nothing: some other force refresh of this app (another
            // system, say) came less than 30 s before.
            tracing::warn!(
                appid,
                "the forced refresh returned the refused access token again; WeChat refreshes at most every 30 s"
            );
            return Err(ClientError::RefusedTokenNotRenewed {
                retry_after: MIN_SPACING,
            });
        }
        Ok(forced)
    }

    async fn save_to_store(&self, appid: &str, cached: &CachedToken) {
        let stored = StoredAccessToken {
            token: cached.token.expose().to_string(),
            expires_at_unix: cached.token.expires_at_unix(),
        };
        // The token is valid whether or not the store kept it; other instances will
        // fetch their own (stable_token hands them the same one).
        if let Err(error) = self.store.save(appid, &stored).await {
            tracing::warn!(appid, %error, "could not save the access token to the store");
        }
    }

    /// Ask WeChat for a token, repeating on -1 and transport failures (fetching a token
    /// is safe to repeat), at most `max_retries` more times.
    async fn fetch_with_retries(&self, app: &AppCredentials) -> Result<CachedToken, ClientError> {
        let mut attempt = 0;
        loop {
            let error = match self.fetch_once(app, false).await {
                Ok(cached) => return Ok(cached),
                Err(error) => error,
            };
            let repeatable = matches!(error, ClientError::Timeout | ClientError::Transport(_))
                || error.wechat_kind() == Some(WeChatErrorKind::SystemBusy);
            if !repeatable || attempt >= self.config.max_retries {
                return Err(error);
            }
            let delay = retry_delay(self.config.retry_base_delay, attempt);
            tracing::debug!(appid = %app.appid, %error, delay_ms = delay.as_millis() as u64, "access-token fetch failed; retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn fetch_once(
        &self,
        app: &AppCredentials,
        force_refresh: bool,
    ) -> Result<CachedToken, ClientError> {
        let (endpoint, request) = match self.config.token_mode {
            AccessTokenMode::Stable => (
                STABLE_TOKEN,
                self.transport.request(
                    STABLE_TOKEN,
                    &[],
                    Some(json!({
                        "grant_type": "client_credential",
                        "appid": app.appid,
                        "secret": app.secret.expose(),
                        "force_refresh": force_refresh,
                    })),
                ),
            ),
            AccessTokenMode::Classic => (
                CLASSIC_TOKEN,
                self.transport.request(
                    CLASSIC_TOKEN,
                    &[
                        ("grant_type", "client_credential"),
                        ("appid", app.appid.as_str()),
                        ("secret", app.secret.expose()),
                    ],
                    None,
                ),
            ),
        };
        let answer = self.transport.send(request).await?;
        let answer: AccessTokenAnswer = typed_answer(endpoint, answer)?;
        if answer.access_token.is_empty() || answer.expires_in <= 0 {
            return Err(ClientError::InvalidResponse(format!(
                "{}: empty access_token or non-positive expires_in",
                endpoint.name
            )));
        }
        Ok(freshly_fetched(
            answer.access_token,
            answer.expires_in,
            self.config.refresh_margin,
        ))
    }

    /// WeChat rejected `failed_token`: forget it here and in the store, but only where it
    /// is still the current token, so a replacement another caller already got survives.
    pub(crate) async fn invalidate_token(
        &self,
        app: &AppCredentials,
        failed_token: &str,
    ) -> Result<(), ClientError> {
        if let Some(provider) = &self.provider {
            return Ok(provider.invalidate(&app.appid, failed_token).await?);
        }
        // The store first: once the local copy is gone, the next caller refreshes from the
        // store, which must no longer offer the rejected token. The local copy goes even when
        // the store fails, so no call sends a token WeChat has rejected.
        let in_store = self
            .store
            .invalidate_if_current(&app.appid, failed_token)
            .await;
        self.tokens
            .slot(&app.appid)
            .invalidate_if_current(failed_token);
        Ok(in_store?)
    }

    pub(crate) async fn force_refresh_access_token(
        &self,
        app: &AppCredentials,
    ) -> Result<AccessToken, ClientError> {
        if self.provider.is_some() {
            return Err(ClientError::InvalidConfig(
                "the access token is owned by a token provider; force-refresh it there".to_string(),
            ));
        }
        self.force_refresh_limiter
            .reserve(&app.appid, since_epoch())
            .map_err(|retry_after| ClientError::ForceRefreshLimited { retry_after })?;
        let cached = self.fetch_once(app, true).await?;
        self.tokens.slot(&app.appid).lock().replace(cached.clone());
        self.save_to_store(&app.appid, &cached).await;
        Ok(cached.token)
    }
}

/// A stored token this caller may use: fresh (past the refresh margin) and not the one it
/// is replacing.
fn usable(
    stored: &StoredAccessToken,
    stale_token: Option<&str>,
    margin: std::time::Duration,
) -> Option<CachedToken> {
    if Some(stored.token.as_str()) == stale_token {
        return None;
    }
    Some(loaded(stored.token.clone(), stored.expires_at_unix, margin)).filter(CachedToken::is_fresh)
}
