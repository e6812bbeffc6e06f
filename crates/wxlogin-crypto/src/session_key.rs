use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::base64_repair::{decode_lenient, encode};
use crate::{Base64Field, CryptoError};

/// A user's WeChat `session_key`: 16 AES bytes. It lives only on the server, is zeroed
/// when dropped, and neither `Debug` nor `Display` reveals it. Equality is constant-time.
#[derive(Clone)]
pub struct SessionKey([u8; 16]);

impl SessionKey {
    /// Length of the decoded key in bytes (AES-128).
    pub const LEN: usize = 16;

    /// Wrap raw key bytes (the simulator mints keys this way).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        SessionKey(bytes)
    }

    /// Parse the 24-character base64 text WeChat sends. A `+` that became a space and
    /// line breaks are repaired, as for every base64 input of this crate.
    ///
    /// Errors: [`CryptoError::InvalidBase64`] naming [`Base64Field::SessionKey`], or
    /// [`CryptoError::InvalidKeyLength`] when it does not decode to 16 bytes.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let decoded = Zeroizing::new(decode_lenient(text, Base64Field::SessionKey)?);
        let bytes: [u8; 16] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::InvalidKeyLength { len: decoded.len() })?;
        Ok(SessionKey(bytes))
    }

    /// The raw key bytes, for AES. The name is a reminder that the result is secret.
    pub fn expose_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The key as WeChat writes it (24 characters of standard base64), zeroed when dropped.
    /// The signatures of rawData and checksession are computed over this text, not over
    /// the bytes; stores keep the key in this form too.
    pub fn expose_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(encode(&self.0))
    }
}

impl PartialEq for SessionKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SessionKey {}

impl Drop for SessionKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted session_key>")
    }
}
