use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use crate::base64_repair::{decode_lenient, encode};
use crate::{Base64Field, CryptoError};

/// A user's WeChat `session_key`: 16 AES bytes. It lives only on the server, is zeroed
/// when dropped, and neither `Debug` nor `Display` reveals it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey([u8; 16]);

impl SessionKey {
    pub const LEN: usize = 16;

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        SessionKey(bytes)
    }

    /// Parse the 24-character base64 text WeChat sends.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let decoded = Zeroizing::new(decode_lenient(text, Base64Field::SessionKey)?);
        let bytes: [u8; 16] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::InvalidKeyLength { len: decoded.len() })?;
        Ok(SessionKey(bytes))
    }

    /// The raw key bytes, for AES.
    pub fn expose_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The key as WeChat writes it (24 characters of standard base64). The signatures of
    /// rawData and checksession are computed over this text, not over the bytes.
    pub fn expose_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(encode(&self.0))
    }
}

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
