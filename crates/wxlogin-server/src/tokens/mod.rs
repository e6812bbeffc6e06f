//! Access tokens (ES256 or EdDSA JWT), signing keys and refresh tokens.
//!
//! * [`SigningKeys`]: the key ring, kept sealed in the database; the newest unretired key
//!   signs, every key whose tokens may still be alive verifies and is published in the
//!   JWKS, of either algorithm. Rotation on any instance is picked up by all (reload on
//!   unknown `kid`, rate-limited, and periodically). Tokens whose signature verified are
//!   remembered (bounded, by SHA-256), so a client's repeated token costs one check.
//! * `jws.rs`: the two kinds of key ([`SigningAlgorithm`]), their JWK and signing.
//! * [`AccessClaims`] and [`AccessTokenRules`]: what an access token says and what a
//!   verifier demands of it.
//! * [`RefreshToken`]: 32 random bytes, base64url; only its SHA-256 is stored.
//! * [`TokenSettings`]: issuer, lifetimes, algorithm and cache size, as configured.

mod access;
mod claim_checks;
mod error;
mod jws;
mod refresh;
mod settings;
mod signing_keys;
mod verified_cache;

pub use access::{AccessClaims, AccessTokenRules};
pub use error::TokenError;
pub use jws::{Jwk, JwkSet, SigningAlgorithm};
pub use refresh::{hash_refresh_token, RefreshToken};
pub use settings::{TokenLayer, TokenSettings};
pub use signing_keys::{KeyPolicy, KeySummary, SigningKeys};
