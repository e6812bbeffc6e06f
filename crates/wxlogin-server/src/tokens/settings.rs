//! The settings of the tokens: who issues them, how long they live, how they are signed
//! and how many verified ones are remembered.
use std::time::Duration;

use super::{KeyPolicy, SigningAlgorithm};
use crate::layered::{given_as_itself, settings_group, Seconds};

given_as_itself!(SigningAlgorithm);

settings_group! {
    /// The access and refresh tokens.
    pub struct TokenSettings, layer TokenLayer {
        /// `iss` claim of the access tokens
        #[arg(long, env = "WXLOGIN_ISSUER")]
        pub issuer: String = "wxlogin".to_owned(),
        /// Access-token lifetime in seconds
        #[arg(long, env = "WXLOGIN_ACCESS_TOKEN_TTL", value_name = "SECS")]
        pub access_token_ttl: Duration as Seconds = Duration::from_secs(1800),
        /// Refresh-token lifetime in seconds, renewed on each use
        #[arg(long, env = "WXLOGIN_REFRESH_TOKEN_TTL", value_name = "SECS")]
        pub refresh_token_ttl: Duration as Seconds = Duration::from_secs(30 * 24 * 3600),
        // A few MiB at most, and enough for the tokens of the clients active within one
        // token lifetime at a few thousand requests/s.
        /// Most access tokens whose signature check is remembered, so a client's repeated
        /// token is verified once (a few hundred bytes each); 0 turns the cache off
        #[arg(long, env = "WXLOGIN_ACCESS_TOKEN_CACHE_SIZE", value_name = "N")]
        pub access_token_cache_size: usize = 10_000,
        // A few MiB at most (one user's row and session, a few hundred bytes), like the
        // verified-token cache beside it.
        /// Most users whose live sessions are remembered between requests, so a repeated
        /// `GET /v1/me` does not read the database; the database announces every logout,
        /// revocation and profile change, which drops the user's entries at once on every
        /// instance; 0 turns the cache off
        #[arg(long, env = "WXLOGIN_SESSION_CACHE_SIZE", value_name = "N")]
        pub session_cache_size: usize = 10_000,
        /// Algorithm of the access tokens: ES256 (P-256; every backend stack verifies it) or
        /// EdDSA (Ed25519). A different algorithm than the current key's rotates the key at
        /// start; old tokens verify until they expire
        #[arg(long, env = "WXLOGIN_ACCESS_TOKEN_ALG", value_name = "ALG")]
        pub access_token_alg: SigningAlgorithm = SigningAlgorithm::default(),
    }
}

impl From<&TokenSettings> for KeyPolicy {
    fn from(tokens: &TokenSettings) -> Self {
        KeyPolicy {
            access_token_cache_size: tokens.access_token_cache_size,
            algorithm: tokens.access_token_alg,
            ..KeyPolicy::new(tokens.access_token_ttl)
        }
    }
}
