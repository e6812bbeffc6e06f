//! The in-process access-token cache: per appid, the current token and the refresh in
//! flight, so concurrent callers share one refresh.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::future::{BoxFuture, Shared};

use crate::{AccessToken, ClientError};

pub(crate) type SharedRefresh = Shared<BoxFuture<'static, Result<AccessToken, ClientError>>>;

#[derive(Default)]
pub(crate) struct TokenCache {
    slots: Mutex<HashMap<String, Arc<TokenSlot>>>,
}

impl TokenCache {
    pub fn slot(&self, appid: &str) -> Arc<TokenSlot> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(appid.to_string()).or_default().clone()
    }
}

#[derive(Default)]
pub(crate) struct TokenSlot {
    state: Mutex<SlotState>,
}

#[derive(Default)]
pub(crate) struct SlotState {
    pub cached: Option<CachedToken>,
    pub refresh_in_flight: Option<SharedRefresh>,
    /// The token WeChat last refused (40001/40014/42001), until a new one replaces it: a
    /// refresh that gets this same token back from stable_token must force a new one.
    pub refused: Option<String>,
}

impl SlotState {
    /// A token to hand out from now on; whatever was refused before is replaced.
    pub fn replace(&mut self, cached: CachedToken) {
        self.cached = Some(cached);
        self.refused = None;
    }
}

#[derive(Clone)]
pub(crate) struct CachedToken {
    pub token: AccessToken,
    /// When to stop handing this token out and refresh it.
    pub refresh_at: Instant,
}

impl CachedToken {
    pub fn is_fresh(&self) -> bool {
        Instant::now() < self.refresh_at
    }

    /// Not expired yet, though maybe due for refresh.
    pub fn is_usable(&self) -> bool {
        unix_now() < self.token.expires_at_unix()
    }
}

impl TokenSlot {
    pub fn lock(&self) -> MutexGuard<'_, SlotState> {
        // Every update under this lock is a single assignment, so a poisoned lock still
        // holds a consistent state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forget the cached token only if it is still `failed_token`, remembering that WeChat
    /// refused it.
    pub fn invalidate_if_current(&self, failed_token: &str) {
        let mut state = self.lock();
        if state
            .cached
            .as_ref()
            .is_some_and(|cached| cached.token.expose() == failed_token)
        {
            state.cached = None;
            state.refused = Some(failed_token.to_string());
        }
    }
}

/// Clears the slot's in-flight refresh when the refresh task ends, however it ends
/// (success, error or panic), so the next caller starts a new one instead of waiting on
/// a refresh that will never finish.
pub(crate) struct RefreshInFlightGuard(pub Arc<TokenSlot>);

impl Drop for RefreshInFlightGuard {
    fn drop(&mut self) {
        self.0.lock().refresh_in_flight = None;
    }
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs() as i64)
        .unwrap_or_default()
}

pub(crate) fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A token WeChat just issued for `expires_in` seconds: refreshed `margin` before its
/// end, or at half its life if that is shorter than twice the margin.
pub(crate) fn freshly_fetched(token: String, expires_in: i64, margin: Duration) -> CachedToken {
    let lifetime = Duration::from_secs(expires_in.max(0) as u64);
    let effective_margin = margin.min(lifetime / 2);
    CachedToken {
        token: AccessToken::new(token, unix_now() + expires_in),
        refresh_at: Instant::now() + (lifetime - effective_margin),
    }
}

/// A token read from a store: refreshed `margin` before its end (at once if that is past).
pub(crate) fn loaded(token: String, expires_at_unix: i64, margin: Duration) -> CachedToken {
    let remaining = Duration::from_secs(expires_at_unix.saturating_sub(unix_now()).max(0) as u64);
    CachedToken {
        token: AccessToken::new(token, expires_at_unix),
        refresh_at: Instant::now() + remaining.saturating_sub(margin),
    }
}

/// A token another instance just stored that is already inside the margin: use it for
/// half of what is left rather than refreshing again at once.
pub(crate) fn loaded_short_lived(token: String, expires_at_unix: i64) -> CachedToken {
    let remaining = Duration::from_secs(expires_at_unix.saturating_sub(unix_now()).max(0) as u64);
    CachedToken {
        token: AccessToken::new(token, expires_at_unix),
        refresh_at: Instant::now() + remaining / 2,
    }
}
