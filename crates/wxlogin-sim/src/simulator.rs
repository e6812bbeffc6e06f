//! The simulator itself: shared state behind an `Arc`, and what tests call on it in
//! process. Its HTTP side (routes, serving) is `server.rs`, which builds on this file and
//! on the handlers; this file imports neither.
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock::SimClock;
use crate::codes::CodeBook;
use crate::config::{RateLimits, SimApp, SimConfig};
use crate::faults::{FaultConfig, FaultConfigError};
use crate::quota::QuotaCounters;
use crate::stats::SimStats;
use crate::tokens::TokenBook;
use crate::users::UserBook;

/// Everything WeChat would know, under one lock: calls are short and never await inside it.
/// No `Debug`: it holds live codes, tokens and session keys.
pub(crate) struct World {
    pub(crate) apps: HashMap<String, SimApp>,
    pub(crate) keep_session_key: bool,
    pub(crate) limits: RateLimits,
    pub(crate) users: UserBook,
    pub(crate) codes: CodeBook,
    pub(crate) tokens: TokenBook,
    pub(crate) quotas: QuotaCounters,
    pub(crate) stats: SimStats,
}

struct Shared {
    clock: SimClock,
    world: Mutex<World>,
    faults: Mutex<FaultConfig>,
}

/// A WeChat server simulator. Cheap to clone; clones share one state.
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
}

impl Simulator {
    /// A simulator with WeChat's documented frequency limits (see [`RateLimits`]).
    pub fn new(config: SimConfig) -> Self {
        Self::with_limits(config, RateLimits::default())
    }

    pub fn with_limits(config: SimConfig, limits: RateLimits) -> Self {
        let apps = config
            .apps
            .into_iter()
            .map(|app| (app.appid.clone(), app))
            .collect();
        let world = World {
            apps,
            keep_session_key: config.keep_session_key,
            limits,
            users: UserBook::default(),
            codes: CodeBook::default(),
            tokens: TokenBook::default(),
            quotas: QuotaCounters::default(),
            stats: SimStats::default(),
        };
        Simulator {
            shared: Arc::new(Shared {
                clock: SimClock::default(),
                world: Mutex::new(world),
                faults: Mutex::new(config.faults),
            }),
        }
    }

    /// Simulated Unix time, seconds.
    pub fn now_unix(&self) -> i64 {
        self.shared.clock.now()
    }

    /// Move the simulated clock forward; returns the new simulated time. The clock stops
    /// about 1000 years ahead of real time.
    pub fn advance_clock(&self, seconds: u64) -> i64 {
        self.shared.clock.advance(seconds)
    }

    pub fn faults(&self) -> FaultConfig {
        lock(&self.shared.faults).clone()
    }

    pub fn set_faults(&self, faults: FaultConfig) -> Result<(), FaultConfigError> {
        faults.validate()?;
        *lock(&self.shared.faults) = faults;
        Ok(())
    }

    pub fn stats(&self) -> SimStats {
        self.world().stats.clone()
    }

    pub fn reset_stats(&self) {
        self.world().stats = SimStats::default();
    }

    /// Make `appid`'s current stable token refused (40001) by the APIs that take a token,
    /// while normal-mode stable_token keeps handing it back, as developers report WeChat
    /// doing; only a force refresh (or the token's own rotation) replaces it. False when the
    /// app has no usable stable token.
    pub fn refuse_stable_token(&self, appid: &str) -> bool {
        let now = self.now_unix();
        self.world().tokens.refuse_current_stable(appid, now)
    }

    /// The openid `user` has in `appid` (stable, derived; the app need not be registered).
    pub fn openid(&self, appid: &str, user: &str) -> String {
        crate::ids::openid(appid, user)
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.shared.world)
    }
}

/// Shows the registered appids and the simulated time, nothing secret.
impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut appids: Vec<String> = self.world().apps.keys().cloned().collect();
        appids.sort();
        f.debug_struct("Simulator")
            .field("appids", &appids)
            .field("now_unix", &self.now_unix())
            .finish_non_exhaustive()
    }
}

/// A poisoned lock only means a handler panicked mid-update; the state is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_names_apps_but_no_secrets() {
        let simulator = Simulator::new(SimConfig::default());
        let code = simulator
            .login_code(SimApp::DEMO_APPID, "alice")
            .unwrap()
            .code;
        let shown = format!("{simulator:?}");
        assert!(shown.contains(SimApp::DEMO_APPID), "{shown}");
        assert!(!shown.contains(SimApp::DEMO_SECRET), "{shown}");
        assert!(!shown.contains(&code), "{shown}");
        assert!(!format!("{:?}", SimApp::demo()).contains(SimApp::DEMO_SECRET));
    }
}
