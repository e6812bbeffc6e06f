//! The `watermark` inside decrypted open data: which app the data is for, and when the
//! user produced it. CBC has no MAC, so this check (with the JSON parse) is what tells
//! genuine data from garbage or data minted for another mini program.
use serde::{Deserialize, Serialize};

use crate::error::layout_reason;
use crate::CryptoError;

/// `{"appid": "...", "timestamp": 1637744274}` as found in decrypted payloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    /// The AppID the data was produced for.
    pub appid: String,
    /// When the user produced the data, Unix seconds.
    pub timestamp: i64,
}

impl Watermark {
    /// The watermark of an untyped payload (see [`crate::decrypt_value`]): `Ok(None)` when
    /// there is none, [`CryptoError::UnexpectedLayout`] when it is malformed.
    pub fn from_payload(payload: &serde_json::Value) -> Result<Option<Watermark>, CryptoError> {
        match payload.get("watermark") {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(found) => {
                Watermark::deserialize(found)
                    .map(Some)
                    .map_err(|e| CryptoError::UnexpectedLayout {
                        reason: format!("watermark: {}", layout_reason(&e.to_string())),
                    })
            }
        }
    }
}

/// What a caller accepts: the app the data must belong to and, optionally, how old it may
/// be (WeChat publishes no freshness window; the choice is the caller's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatermarkPolicy {
    /// The caller's own AppID.
    pub appid: String,
    /// Reject data older than this; `None` accepts any age.
    pub max_age_secs: Option<i64>,
}

impl WatermarkPolicy {
    /// Check `watermark` at time `now` (Unix seconds).
    ///
    /// Errors: [`CryptoError::MissingWatermark`], [`CryptoError::WatermarkAppIdMismatch`],
    /// [`CryptoError::WatermarkTooOld`]. A timestamp in the future (clock skew) is accepted.
    pub fn check(&self, watermark: Option<&Watermark>, now: i64) -> Result<(), CryptoError> {
        let watermark = watermark.ok_or(CryptoError::MissingWatermark)?;
        if watermark.appid != self.appid {
            return Err(CryptoError::WatermarkAppIdMismatch {
                expected: self.appid.clone(),
                found: watermark.appid.clone(),
            });
        }
        if let Some(max_age_secs) = self.max_age_secs {
            let age_secs = now.saturating_sub(watermark.timestamp);
            if age_secs > max_age_secs {
                return Err(CryptoError::WatermarkTooOld {
                    age_secs,
                    max_age_secs,
                });
            }
        }
        Ok(())
    }
}
