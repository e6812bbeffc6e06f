//! The two signatures derived from a session key.
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{CryptoError, SessionKey};

/// `lowercase_hex(sha1(rawData ‖ session_key_base64))`, over the exact rawData text as
/// received (it must not be re-serialized).
pub fn raw_data_signature(raw_data: &str, key: &SessionKey) -> String {
    let mut hasher = Sha1::new();
    hasher.update(raw_data.as_bytes());
    hasher.update(key.expose_base64().as_bytes());
    hex::encode(hasher.finalize())
}

/// Check a `signature` sent with `rawData`, in constant time. Upper-case hex is accepted.
pub fn verify_raw_data_signature(
    raw_data: &str,
    signature: &str,
    key: &SessionKey,
) -> Result<(), CryptoError> {
    let expected = raw_data_signature(raw_data, key);
    let given = signature.trim().to_ascii_lowercase();
    if expected.as_bytes().ct_eq(given.as_bytes()).into() {
        Ok(())
    } else {
        Err(CryptoError::SignatureMismatch)
    }
}

/// The signature `/wxa/checksession` and `/wxa/resetusersessionkey` expect:
/// `lowercase_hex(HMAC-SHA256(key = session_key as its base64 TEXT, message = ""))`.
/// WeChat keys the HMAC with the 24 characters, not the 16 decoded bytes
/// (wechat-api.md §4 shows the published example only reproduces that way).
pub fn checksession_signature(key: &SessionKey) -> String {
    hmac_sha256_hex(key.expose_base64().as_bytes(), b"")
}

pub(crate) fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mini-game doc's published example: hmac_sha256('{"foo":"bar"}', key text).
    #[test]
    fn hmac_is_keyed_with_the_base64_text() {
        // The doc prints 654571f7…aa0b; the full value was recomputed with Python's hmac.
        let sig = hmac_sha256_hex(b"o0q0otL8aEzpcZL/FT9WsQ==", br#"{"foo":"bar"}"#);
        assert_eq!(
            sig,
            "654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b"
        );
    }
}
