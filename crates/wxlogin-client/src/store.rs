//! Where fetched access tokens live, so several instances can share one token, and the
//! plug-in for a token owned by a central service.
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::StoreError;

/// A token as kept in a store. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredAccessToken {
    pub token: String,
    /// Unix seconds.
    pub expires_at_unix: i64,
}

impl fmt::Debug for StoredAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredAccessToken")
            .field("token", &"<redacted>")
            .field("expires_at_unix", &self.expires_at_unix)
            .finish()
    }
}

/// Where fetched tokens are kept; the server implements it over its database so N
/// instances share one token.
#[async_trait::async_trait]
pub trait AccessTokenStore: Send + Sync {
    async fn load(&self, appid: &str) -> Result<Option<StoredAccessToken>, StoreError>;
    async fn save(&self, appid: &str, token: &StoredAccessToken) -> Result<(), StoreError>;
    /// Remove the cached token only if it is still `failed_token` (compare-and-invalidate),
    /// so a token another instance already replaced is not thrown away.
    async fn invalidate_if_current(
        &self,
        appid: &str,
        failed_token: &str,
    ) -> Result<(), StoreError>;
    /// Cross-instance single flight: take the refresh lease for `appid` if free or expired;
    /// true if taken.
    async fn try_acquire_refresh_lease(
        &self,
        appid: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    /// Give the lease back if `holder` still holds it.
    async fn release_refresh_lease(&self, appid: &str, holder: &str) -> Result<(), StoreError>;
    /// Count one `force_refresh` of `appid` at `now_secs` against WeChat's limits, for
    /// every instance sharing the store: at most `daily_limit` in `day` (WeChat's day, in
    /// China) and at least `min_spacing_secs` apart. True if this one may be sent. The
    /// default (a store of one process) leaves it to the process's own count.
    async fn reserve_force_refresh(
        &self,
        appid: &str,
        day: i64,
        now_secs: i64,
        min_spacing_secs: i64,
        daily_limit: i64,
    ) -> Result<bool, StoreError> {
        let _ = (appid, day, now_secs, min_spacing_secs, daily_limit);
        Ok(true)
    }
}

/// A token owned by a central service: the client asks it and never fetches one itself.
#[async_trait::async_trait]
pub trait AccessTokenProvider: Send + Sync {
    async fn access_token(&self, appid: &str) -> Result<StoredAccessToken, StoreError>;

    /// WeChat rejected `failed_token` (40001/40014/42001); the next `access_token` call
    /// should return a different one. Default: nothing to do.
    async fn invalidate(&self, appid: &str, failed_token: &str) -> Result<(), StoreError> {
        let _ = (appid, failed_token);
        Ok(())
    }
}

struct Lease {
    holder: String,
    expires: Instant,
}

#[derive(Default)]
struct InMemoryState {
    tokens: HashMap<String, StoredAccessToken>,
    leases: HashMap<String, Lease>,
}

/// The default store: one process, no sharing.
#[derive(Default)]
pub struct InMemoryAccessTokenStore {
    state: Mutex<InMemoryState>,
}

impl InMemoryAccessTokenStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InMemoryState> {
        // A panic while holding this lock cannot leave the maps half-updated (every
        // update is a single insert/remove), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl AccessTokenStore for InMemoryAccessTokenStore {
    async fn load(&self, appid: &str) -> Result<Option<StoredAccessToken>, StoreError> {
        Ok(self.lock().tokens.get(appid).cloned())
    }

    async fn save(&self, appid: &str, token: &StoredAccessToken) -> Result<(), StoreError> {
        self.lock().tokens.insert(appid.to_string(), token.clone());
        Ok(())
    }

    async fn invalidate_if_current(
        &self,
        appid: &str,
        failed_token: &str,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state
            .tokens
            .get(appid)
            .is_some_and(|current| current.token == failed_token)
        {
            state.tokens.remove(appid);
        }
        Ok(())
    }

    async fn try_acquire_refresh_lease(
        &self,
        appid: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let now = Instant::now();
        let free = state
            .leases
            .get(appid)
            .is_none_or(|lease| lease.expires <= now || lease.holder == holder);
        if free {
            state.leases.insert(
                appid.to_string(),
                Lease {
                    holder: holder.to_string(),
                    expires: now + ttl,
                },
            );
        }
        Ok(free)
    }

    async fn release_refresh_lease(&self, appid: &str, holder: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state
            .leases
            .get(appid)
            .is_some_and(|lease| lease.holder == holder)
        {
            state.leases.remove(appid);
        }
        Ok(())
    }
}
