//! The crate's one error type and what its messages may say: every reason names the
//! problem and the next step, and none quotes key material, plaintext or payload values
//! (serde's messages do, so [`layout_reason`] strips them for every parse of a payload).
use std::fmt;

/// Which base64 input could not be decoded, so the caller can tell the client exactly
/// which field it mangled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64Field {
    /// Displayed as `session_key`.
    SessionKey,
    /// Displayed as `iv`.
    Iv,
    /// Displayed as `encrypted_data`.
    EncryptedData,
}

impl fmt::Display for Base64Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Base64Field::SessionKey => "session_key",
            Base64Field::Iv => "iv",
            Base64Field::EncryptedData => "encrypted_data",
        })
    }
}

/// Everything that can go wrong with open data. Each message says what to do next;
/// none of them ever contains key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The named field is not standard base64 (after repairing spaces and line breaks).
    #[error("{field} is not valid standard base64; send it unchanged in a JSON body")]
    InvalidBase64 {
        /// The input that failed to decode.
        field: Base64Field,
    },

    /// The session_key does not decode to 16 bytes.
    #[error("session_key must decode to 16 bytes (24 base64 characters), got {len}; use the session_key from code2Session unchanged")]
    InvalidKeyLength {
        /// Decoded byte count.
        len: usize,
    },

    /// The iv does not decode to 16 bytes.
    #[error("iv must decode to 16 bytes (24 base64 characters), got {len}; send the iv that came with encryptedData unchanged")]
    InvalidIvLength {
        /// Decoded byte count.
        len: usize,
    },

    /// The ciphertext is empty or not whole AES blocks.
    #[error("encrypted_data must be a non-empty multiple of 16 bytes, got {len}; it was truncated or is not WeChat open data")]
    InvalidCiphertextLength {
        /// Decoded byte count.
        len: usize,
    },

    /// Almost always a stale session_key: the client called wx.login after getting the data.
    #[error("decryption failed (invalid padding): the session_key is almost certainly stale; the client must call wx.login again, then fetch the data anew")]
    InvalidPadding,

    /// The padding happened to be valid (about 1 in 256 for a wrong key) but the text is not JSON.
    #[error("decrypted data is not JSON: the session_key is probably stale; the client must call wx.login again")]
    NotJson,

    /// Valid JSON of the wrong shape; `reason` never quotes payload values.
    #[error("decrypted data lacks the expected field layout: {reason}")]
    UnexpectedLayout {
        /// What serde objected to, with payload values removed.
        reason: String,
    },

    /// The payload carries no watermark, so its app cannot be checked.
    #[error("decrypted data has no watermark, so it cannot be tied to this mini program; it is not WeChat open data for it")]
    MissingWatermark,

    /// The data was produced for another AppID.
    #[error("watermark belongs to appid {found}, expected {expected}: the data was produced for another mini program")]
    WatermarkAppIdMismatch {
        /// The caller's AppID.
        expected: String,
        /// The AppID in the watermark.
        found: String,
    },

    /// Older than the caller's maximum age.
    #[error("watermark is {age_secs} s old, older than the allowed {max_age_secs} s: fetch the data again")]
    WatermarkTooOld {
        /// `now - watermark.timestamp`.
        age_secs: i64,
        /// The caller's limit.
        max_age_secs: i64,
    },

    /// rawData does not match its signature.
    #[error("signature does not match rawData: the data was altered or signed with another session_key; call wx.login again")]
    SignatureMismatch,
}

/// serde's messages quote the offending value (`invalid type: integer `13800138000`,
/// expected a string`), which may be a phone number: keep only what names the problem.
pub(crate) fn layout_reason(serde_message: &str) -> String {
    const SAFE_PREFIXES: [&str; 4] = [
        "missing field",
        "duplicate field",
        "unknown field",
        "invalid length",
    ];
    if SAFE_PREFIXES.iter().any(|p| serde_message.starts_with(p)) {
        return serde_message.to_owned();
    }
    let kind = serde_message
        .split_once(':')
        .map(|(kind, _)| kind)
        .filter(|kind| matches!(*kind, "invalid type" | "invalid value"));
    match (kind, serde_message.rsplit_once(", expected ")) {
        (Some(kind), Some((_, expected))) => format!("{kind}, expected {expected}"),
        _ => "a field has an unexpected type or value".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_reason_never_quotes_values() {
        let reason = layout_reason("invalid type: integer `13800138000`, expected a string");
        assert_eq!(reason, "invalid type, expected a string");
        assert_eq!(
            layout_reason("missing field `phoneNumber`"),
            "missing field `phoneNumber`"
        );
        let odd = layout_reason("something `13800138000` odd");
        assert!(!odd.contains("13800138000"), "{odd}");
    }
}
