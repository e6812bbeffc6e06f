//! The `watermark` inside decrypted open data: which app the data is for, and when the
//! user produced it.
use serde::{Deserialize, Serialize};

use crate::CryptoError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub appid: String,
    /// Unix seconds.
    pub timestamp: i64,
}

/// What a caller accepts: the app the data must belong to and, optionally, how old it may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatermarkPolicy {
    pub appid: String,
    pub max_age_secs: Option<i64>,
}

impl WatermarkPolicy {
    /// Check `watermark` at time `now` (Unix seconds). A missing watermark fails.
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
                return Err(CryptoError::WatermarkTooOld { age_secs, max_age_secs });
            }
        }
        Ok(())
    }
}
