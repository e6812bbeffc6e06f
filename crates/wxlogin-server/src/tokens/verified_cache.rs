//! Access tokens whose signature has already been checked. A client presents the same
//! token on every request of its life, and the Ed25519 verification was the largest cost
//! of `GET /v1/me`; with this it is paid once per token.
//!
//! An entry says only what never changes for the same bytes: "these bytes carry a valid
//! signature by this key and decode to these claims". Everything that depends on the
//! clock, the rules or the published keys is checked again by the caller on every use.

use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, OptionsBuilder, UnitWeighter};
use sha2::{Digest, Sha256};

use super::AccessClaims;
use crate::storage::UnixSeconds;

/// Fewer entries than this per shard and the cache uses fewer shards (as quick_cache
/// itself would), so the capacity splits evenly and the total never exceeds it.
const MIN_ENTRIES_PER_SHARD: usize = 32;

/// SHA-256 of a token's bytes: the key of an entry. Tokens are secrets, so the cache never
/// holds their text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct TokenDigest([u8; 32]);

/// The optional `nbf` claim as read from a signed payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NotBefore {
    Absent,
    At(UnixSeconds),
    /// Present but not a number: the token is malformed, which is reported only after the
    /// earlier checks, as it always was. Such a token is never cached.
    Unreadable,
}

/// A token whose signature verified, with what its payload says.
pub(super) struct SignedToken {
    pub(super) kid: Box<str>,
    /// The key that verified it; the kid is its thumbprint, but the key itself is what
    /// the signature was checked against.
    pub(super) public_key: [u8; 32],
    pub(super) claims: AccessClaims,
    pub(super) not_before: NotBefore,
}

/// A bounded cache of verified tokens; with capacity 0, none (every use verifies).
pub(super) struct VerifiedTokenCache {
    entries: Option<Cache<TokenDigest, Arc<SignedToken>>>,
}

impl VerifiedTokenCache {
    pub(super) fn new(capacity: usize) -> Self {
        if capacity == 0 {
            return VerifiedTokenCache { entries: None };
        }
        let mut shards = std::thread::available_parallelism()
            .map_or(1, |cores| cores.get())
            .saturating_mul(4)
            .next_power_of_two();
        while shards > 1 && capacity / shards < MIN_ENTRIES_PER_SHARD {
            shards /= 2;
        }
        // quick_cache gives each shard capacity / shards rounded up; rounding the total
        // down to a multiple keeps the sum within the configured size.
        let capacity = capacity - capacity % shards;
        let options = OptionsBuilder::new()
            .shards(shards)
            .estimated_items_capacity(capacity)
            .weight_capacity(u64::try_from(capacity).unwrap_or(u64::MAX))
            .build();
        let entries = options.ok().map(|options| {
            Cache::with_options(
                options,
                UnitWeighter,
                DefaultHashBuilder::default(),
                Default::default(),
            )
        });
        VerifiedTokenCache { entries }
    }

    /// The key of `token`, or `None` when caching is off (no hashing then).
    pub(super) fn digest(&self, token: &str) -> Option<TokenDigest> {
        self.entries
            .as_ref()
            .map(|_| TokenDigest(Sha256::digest(token.as_bytes()).into()))
    }

    pub(super) fn get(&self, digest: &TokenDigest) -> Option<Arc<SignedToken>> {
        self.entries.as_ref()?.get(digest)
    }

    pub(super) fn insert(&self, digest: TokenDigest, token: Arc<SignedToken>) {
        if let Some(entries) = &self.entries {
            entries.insert(digest, token);
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, Cache::len)
    }

    /// Most entries it can hold (0 when off).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> u64 {
        self.entries.as_ref().map_or(0, Cache::capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(sub: &str) -> Arc<SignedToken> {
        Arc::new(SignedToken {
            kid: "kid-1".into(),
            public_key: [1; 32],
            claims: AccessClaims {
                iss: "wxlogin".into(),
                sub: sub.into(),
                aud: "wxapp1".into(),
                sid: "session-1".into(),
                iat: 1_700_000_000,
                exp: 1_700_001_800,
                roles: Vec::new(),
            },
            not_before: NotBefore::Absent,
        })
    }

    #[test]
    fn holds_no_more_than_its_capacity_for_any_size() {
        for configured in [1, 2, 7, 31, 33, 100, 257, 1_000] {
            let cache = VerifiedTokenCache::new(configured);
            assert!(cache.capacity() <= configured as u64, "{configured}");
            assert!(cache.capacity() > 0, "{configured}");
            for index in 0..configured * 3 {
                let token = format!("token-{index}");
                cache.insert(cache.digest(&token).unwrap(), signed(&token));
                assert!(cache.len() <= configured, "{configured}: {}", cache.len());
            }
            let last = format!("token-{}", configured * 3 - 1);
            assert!(
                cache.get(&cache.digest(&last).unwrap()).is_some(),
                "{configured}: the newest entry is kept"
            );
        }
    }

    #[test]
    fn size_zero_keeps_nothing_and_hashes_nothing() {
        let cache = VerifiedTokenCache::new(0);
        assert!(cache.digest("token").is_none());
        assert_eq!(cache.capacity(), 0);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn entries_are_found_by_the_exact_bytes_only() {
        let cache = VerifiedTokenCache::new(16);
        cache.insert(cache.digest("token-a").unwrap(), signed("a"));
        let found = cache.get(&cache.digest("token-a").unwrap()).unwrap();
        assert_eq!(found.claims.sub, "a");
        assert!(cache.get(&cache.digest("token-b").unwrap()).is_none());
        assert!(cache.get(&cache.digest("token-a ").unwrap()).is_none());
    }
}
