use std::fmt;

/// Which base64 input could not be decoded, so the caller can tell the client exactly
/// which field it mangled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64Field {
    SessionKey,
    Iv,
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
    #[error("{field} is not valid standard base64; send it unchanged in a JSON body")]
    InvalidBase64 { field: Base64Field },

    #[error("session_key must decode to 16 bytes, got {len}")]
    InvalidKeyLength { len: usize },

    #[error("iv must decode to 16 bytes, got {len}")]
    InvalidIvLength { len: usize },

    #[error("encrypted_data must be a non-empty multiple of 16 bytes, got {len}; it was truncated or is not WeChat open data")]
    InvalidCiphertextLength { len: usize },

    #[error("decryption failed (invalid padding): the session_key is almost certainly stale; the client must call wx.login again, then fetch the data anew")]
    InvalidPadding,

    #[error("decrypted data is not JSON: the session_key is probably stale; the client must call wx.login again")]
    NotJson,

    #[error("decrypted data lacks the expected field layout: {reason}")]
    UnexpectedLayout { reason: String },

    #[error("decrypted data has no watermark")]
    MissingWatermark,

    #[error("watermark belongs to appid {found}, expected {expected}: the data was produced for another mini program")]
    WatermarkAppIdMismatch { expected: String, found: String },

    #[error("watermark is {age_secs} s old, older than the allowed {max_age_secs} s: fetch the data again")]
    WatermarkTooOld { age_secs: i64, max_age_secs: i64 },

    #[error("signature does not match rawData: the data was altered or signed with another session_key; call wx.login again")]
    SignatureMismatch,
}
