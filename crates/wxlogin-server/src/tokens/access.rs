use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::domain::{AppId, SessionId, UserId};
use crate::storage::UnixSeconds;

/// The claims of an access token (DESIGN.md): issuer, user id, appid, session id, issued
/// at, expiry, and the user's roles when they have any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The user id.
    pub sub: UserId,
    /// The appid of the session.
    pub aud: AppId,
    /// The session id (refresh-token family).
    pub sid: SessionId,
    pub iat: UnixSeconds,
    pub exp: UnixSeconds,
    /// The user's roles when the token was issued (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// What a verifier demands of an access token besides a valid EdDSA signature by a
/// published key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRules {
    /// The `iss` this server writes and accepts.
    pub issuer: String,
    /// The configured appids; `aud` must be one of them.
    pub audiences: BTreeSet<String>,
    /// Seconds past `exp` still accepted (clock skew between instances).
    pub leeway_seconds: u64,
}
