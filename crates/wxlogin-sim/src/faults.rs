//! Fault injection: what the WeChat side does wrong on purpose, set at start or at run time.
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The WeChat-side endpoints, named as in faults, limits and `/sim/stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET /sns/jscode2session`
    Jscode2session,
    /// `GET /cgi-bin/token`
    Token,
    /// `POST /cgi-bin/stable_token`
    StableToken,
    /// `POST /wxa/business/getuserphonenumber`
    Getuserphonenumber,
    /// `GET /wxa/checksession`
    Checksession,
    /// `GET /wxa/resetusersessionkey`
    Resetusersessionkey,
}

impl Endpoint {
    pub const ALL: [Endpoint; 6] = [
        Endpoint::Jscode2session,
        Endpoint::Token,
        Endpoint::StableToken,
        Endpoint::Getuserphonenumber,
        Endpoint::Checksession,
        Endpoint::Resetusersessionkey,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Jscode2session => "jscode2session",
            Endpoint::Token => "token",
            Endpoint::StableToken => "stable_token",
            Endpoint::Getuserphonenumber => "getuserphonenumber",
            Endpoint::Checksession => "checksession",
            Endpoint::Resetusersessionkey => "resetusersessionkey",
        }
    }

    pub fn from_name(name: &str) -> Option<Endpoint> {
        Endpoint::ALL
            .into_iter()
            .find(|endpoint| endpoint.name() == name)
    }

    /// WeChat answers `/sns/*` with `Content-Type: text/plain` (observed), the rest as JSON.
    pub(crate) fn is_sns(self) -> bool {
        matches!(self, Endpoint::Jscode2session)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Faults applied to every WeChat-side call (never to `/sim/*`), in this order: latency,
/// dropped connection, `-1 system error`, forced errcode.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Added to every answer, in real milliseconds.
    pub latency_ms: u64,
    /// Share (0..=1) of calls answered `{"errcode":-1,"errmsg":"system error"}`.
    pub busy_ratio: f64,
    /// Share (0..=1) of calls whose connection is closed without any answer.
    pub drop_ratio: f64,
    /// Endpoints that answer this errcode (with WeChat's errmsg) on every call.
    pub forced_errcodes: BTreeMap<Endpoint, i64>,
}

/// A fault configuration that makes no sense.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultConfigError {
    #[error("{field} must be a share between 0 and 1, got {value}")]
    RatioOutOfRange { field: &'static str, value: f64 },
    #[error("forced errcode 0 for {endpoint} would be a success; remove the entry instead")]
    ForcedSuccess { endpoint: Endpoint },
}

impl FaultConfig {
    pub fn validate(&self) -> Result<(), FaultConfigError> {
        for (field, value) in [
            ("busy_ratio", self.busy_ratio),
            ("drop_ratio", self.drop_ratio),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultConfigError::RatioOutOfRange { field, value });
            }
        }
        if let Some((&endpoint, _)) = self.forced_errcodes.iter().find(|(_, &code)| code == 0) {
            return Err(FaultConfigError::ForcedSuccess { endpoint });
        }
        Ok(())
    }
}

/// What the fault layer decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultOutcome {
    Proceed,
    Hangup,
    Errcode(i64),
}

impl FaultConfig {
    /// `draw` returns a fresh uniform sample in [0, 1) each time it is called.
    pub(crate) fn decide(&self, endpoint: Endpoint, mut draw: impl FnMut() -> f64) -> FaultOutcome {
        if self.drop_ratio > 0.0 && draw() < self.drop_ratio {
            return FaultOutcome::Hangup;
        }
        if self.busy_ratio > 0.0 && draw() < self.busy_ratio {
            return FaultOutcome::Errcode(-1);
        }
        match self.forced_errcodes.get(&endpoint) {
            Some(&code) => FaultOutcome::Errcode(code),
            None => FaultOutcome::Proceed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_outside_zero_one_are_rejected() {
        let faults = FaultConfig {
            busy_ratio: 1.5,
            ..FaultConfig::default()
        };
        assert!(matches!(
            faults.validate(),
            Err(FaultConfigError::RatioOutOfRange {
                field: "busy_ratio",
                ..
            })
        ));
        let faults = FaultConfig {
            drop_ratio: -0.1,
            ..FaultConfig::default()
        };
        assert!(faults.validate().is_err());
        assert!(FaultConfig::default().validate().is_ok());
    }

    #[test]
    fn forced_errcodes_deserialize_by_endpoint_name() {
        let faults: FaultConfig =
            serde_json::from_str(r#"{"forced_errcodes":{"jscode2session":45011}}"#).unwrap();
        assert_eq!(
            faults.forced_errcodes.get(&Endpoint::Jscode2session),
            Some(&45011)
        );
        assert!(serde_json::from_str::<FaultConfig>(r#"{"forced_errcodes":{"nope":1}}"#).is_err());
    }

    #[test]
    fn drop_wins_over_busy_and_forced() {
        let mut faults = FaultConfig {
            drop_ratio: 1.0,
            busy_ratio: 1.0,
            ..FaultConfig::default()
        };
        faults.forced_errcodes.insert(Endpoint::Token, 40013);
        assert_eq!(faults.decide(Endpoint::Token, || 0.5), FaultOutcome::Hangup);
        faults.drop_ratio = 0.0;
        assert_eq!(
            faults.decide(Endpoint::Token, || 0.5),
            FaultOutcome::Errcode(-1)
        );
        faults.busy_ratio = 0.0;
        assert_eq!(
            faults.decide(Endpoint::Token, || 0.5),
            FaultOutcome::Errcode(40013)
        );
        assert_eq!(
            faults.decide(Endpoint::StableToken, || 0.5),
            FaultOutcome::Proceed
        );
    }
}
