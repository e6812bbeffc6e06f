//! What the simulator is told at start: the apps it knows and the limits it enforces.
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::faults::FaultConfig;

/// A mini program registered with the simulator.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimApp {
    pub appid: String,
    pub secret: String,
    /// Apps naming the same open-platform account share each user's unionid; apps without
    /// one get no unionid at all, as on WeChat.
    #[serde(default)]
    pub open_platform: Option<String>,
}

impl SimApp {
    /// AppID of [`SimApp::demo`].
    pub const DEMO_APPID: &'static str = "wx0000000000demo";
    /// AppSecret of [`SimApp::demo`]; public on purpose, it only ever opens the simulator.
    pub const DEMO_SECRET: &'static str = "0000000000000000000000000000demo";

    pub fn new(appid: impl Into<String>, secret: impl Into<String>) -> Self {
        SimApp {
            appid: appid.into(),
            secret: secret.into(),
            open_platform: None,
        }
    }

    /// Put the app into an open-platform account (apps of one account share unionids).
    pub fn with_open_platform(mut self, open_platform: impl Into<String>) -> Self {
        self.open_platform = Some(open_platform.into());
        self
    }

    /// The fixed demo app: appid `wx0000000000demo`, secret `0000000000000000000000000000demo`.
    pub fn demo() -> SimApp {
        SimApp::new(Self::DEMO_APPID, Self::DEMO_SECRET)
    }
}

impl fmt::Debug for SimApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimApp")
            .field("appid", &self.appid)
            .field("secret", &"<redacted>")
            .field("open_platform", &self.open_platform)
            .finish()
    }
}

/// Everything [`crate::Simulator::new`] needs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub apps: Vec<SimApp>,
    /// Keep a user's session_key across code exchanges instead of minting a new one each time.
    pub keep_session_key: bool,
    pub faults: FaultConfig,
}

impl Default for SimConfig {
    /// The demo app, rotating session keys, no faults.
    fn default() -> Self {
        SimConfig {
            apps: vec![SimApp::demo()],
            keep_session_key: false,
            faults: FaultConfig::default(),
        }
    }
}

/// Frequency limits. WeChat's documented numbers are the defaults; the others are guesses
/// (marked), kept configurable so load tests can raise or lower them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// jscode2session per (app, user) per minute → 45011. Documented: 100.
    pub jscode2session_per_user_per_minute: u32,
    /// Classic /cgi-bin/token per app per day → 45009. Guess: 10,000 (observed quota of a
    /// mini program; the Official-Account table says 2,000).
    pub token_per_app_per_day: u32,
    /// /cgi-bin/stable_token per app per minute → 45011. Documented: 10,000.
    pub stable_token_per_app_per_minute: u32,
    /// /cgi-bin/stable_token per app per day → 45009. Documented: 500,000.
    pub stable_token_per_app_per_day: u32,
    /// Effective force_refresh per app per day; one more → 45009. Documented: 20.
    pub force_refresh_per_app_per_day: u32,
    /// A force_refresh sooner than this after the previous one refreshes nothing. Documented: 30.
    pub force_refresh_min_interval_secs: i64,
    /// getuserphonenumber per app per minute → 45011. Guess: 10,000 (WeChat publishes none).
    pub getuserphonenumber_per_app_per_minute: u32,
    /// checksession per app per minute → 45011. Guess: 60,000 (as reset).
    pub checksession_per_app_per_minute: u32,
    /// resetusersessionkey per app per minute → 45011. Documented: 60,000.
    pub resetusersessionkey_per_app_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            jscode2session_per_user_per_minute: 100,
            token_per_app_per_day: 10_000,
            stable_token_per_app_per_minute: 10_000,
            stable_token_per_app_per_day: 500_000,
            force_refresh_per_app_per_day: 20,
            force_refresh_min_interval_secs: 30,
            getuserphonenumber_per_app_per_minute: 10_000,
            checksession_per_app_per_minute: 60_000,
            resetusersessionkey_per_app_per_minute: 60_000,
        }
    }
}
