//! Calls received per WeChat endpoint and app, for `/sim/stats`.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::faults::Endpoint;

/// Calls are attributed to this name when the app could not be told (no appid, bad token).
pub const UNKNOWN_APP: &str = "-";

/// `{"calls":{"stable_token":{"wx…":3}}}`: every call that reached a WeChat endpoint,
/// faulted or failed ones included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    pub calls: BTreeMap<String, BTreeMap<String, u64>>,
}

impl SimStats {
    pub(crate) fn record(&mut self, endpoint: Endpoint, appid: &str) {
        let per_app = self.calls.entry(endpoint.name().to_owned()).or_default();
        *per_app.entry(appid.to_owned()).or_default() += 1;
    }

    /// Calls to `endpoint` attributed to `appid`.
    pub fn calls_to(&self, endpoint: Endpoint, appid: &str) -> u64 {
        self.calls
            .get(endpoint.name())
            .and_then(|per_app| per_app.get(appid))
            .copied()
            .unwrap_or(0)
    }

    /// Calls to `endpoint`, all apps together.
    pub fn total_calls_to(&self, endpoint: Endpoint) -> u64 {
        self.calls
            .get(endpoint.name())
            .map_or(0, |per_app| per_app.values().sum())
    }
}
