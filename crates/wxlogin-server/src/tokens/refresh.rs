use base64::Engine;
use wxlogin_crypto::Redacted;

use crate::domain::RefreshTokenHash;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// A freshly minted refresh token: 32 random bytes as unpadded base64url. `Debug` hides it.
#[derive(Debug)]
pub struct RefreshToken(Redacted<Zeroizing<String>>);

impl RefreshToken {
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        RefreshToken(Redacted::new(Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref()),
        )))
    }

    /// The token text handed to the client.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// What the database keeps.
    pub fn hash(&self) -> RefreshTokenHash {
        hash_refresh_token(self.expose())
    }
}

/// Hex SHA-256 of a presented refresh token: the only form in which it is stored.
pub fn hash_refresh_token(token: &str) -> RefreshTokenHash {
    RefreshTokenHash::new(hex::encode(Sha256::digest(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_43_char_base64url_and_hashed() {
        let first = RefreshToken::generate();
        let second = RefreshToken::generate();
        assert_ne!(first.expose(), second.expose());
        assert_eq!(first.expose().len(), 43);
        assert!(first
            .expose()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(first.hash(), hash_refresh_token(first.expose()));
        assert_eq!(first.hash().as_str().len(), 64);
        assert!(!first.hash().as_str().contains(first.expose()));
        assert_eq!(format!("{first:?}"), "RefreshToken(<redacted>)");
    }
}
