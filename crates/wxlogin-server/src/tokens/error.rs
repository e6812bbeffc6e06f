use crate::storage::StorageError;

/// Why an access token was refused or a key operation failed. Messages never contain the
/// token or key material.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("access token is malformed")]
    Malformed,
    #[error("access token algorithm is not EdDSA")]
    UnsupportedAlgorithm,
    #[error("access token names no known signing key")]
    UnknownKey,
    #[error("access token signature does not verify")]
    BadSignature,
    #[error("access token has expired")]
    Expired,
    #[error("access token is not valid yet")]
    NotYetValid,
    #[error("access token audience is not a configured app")]
    WrongAudience,
    #[error("access token issuer is not this server")]
    WrongIssuer,
    #[error("no signing key is available")]
    NoSigningKey,
    #[error("signing failed: {0}")]
    Signing(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl TokenError {
    /// True when the failure is the database being unreachable (answer 503, not 401).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, TokenError::Storage(error) if error.is_unavailable())
    }
}
