//! The key ring of access tokens, shared by every instance through the database: which key
//! signs, which keys verify and stay published, re-reading and rotating them. What a key
//! is (ES256 or EdDSA, its JWK, signing) lives in `jws.rs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, Validation};

use super::claim_checks::{check_claims, not_before, payload_text, CLOCK_SKEW_SECONDS};
use super::jws::{sign_compact, JwkSet, KeyPair, SigningAlgorithm};
use super::verified_cache::{SignedToken, VerifiedTokenCache};
use super::{AccessClaims, AccessTokenRules, TokenError};
use crate::storage::{NewSigningKey, Store, StoredSigningKey, UnixSeconds};

/// Longest a request with an unknown kid waits for the re-read throttle before the keys
/// are re-read for it; with a longer `min_reload_gap` such a request is refused at once.
const MAX_WAIT_FOR_UNKNOWN_KID: Duration = Duration::from_secs(1);

/// How long keys live in the JWKS and how often they are re-read from the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Lifetime of the access tokens the keys sign. A retired key stays published (and
    /// accepted) for this long plus `retirement_margin`, so its last tokens still verify.
    pub access_token_ttl: Duration,
    pub retirement_margin: Duration,
    /// Signing re-reads the keys at least this often (picks up a rotation made elsewhere).
    pub reload_interval: Duration,
    /// Least time between two re-reads triggered by an unknown `kid` or a JWKS request, so
    /// a flood of forged kids cannot hammer the database.
    pub min_reload_gap: Duration,
    /// Most access tokens remembered as signature-verified (0: verify every time).
    pub access_token_cache_size: usize,
    /// The algorithm of the keys this instance creates (first start, `rotate`), and that
    /// the current key is moved to at start when it differs.
    pub algorithm: SigningAlgorithm,
}

impl KeyPolicy {
    /// Defaults for access tokens living `access_token_ttl`: 5 minutes margin, reload every
    /// 30 s, at most one on-demand reload per second, 10,000 verified tokens remembered.
    pub fn new(access_token_ttl: Duration) -> Self {
        KeyPolicy {
            access_token_ttl,
            retirement_margin: Duration::from_secs(300),
            reload_interval: Duration::from_secs(30),
            min_reload_gap: Duration::from_secs(1),
            access_token_cache_size: super::TokenSettings::default().access_token_cache_size,
            algorithm: SigningAlgorithm::default(),
        }
    }

    fn published_for_seconds(&self) -> i64 {
        i64::try_from((self.access_token_ttl + self.retirement_margin).as_secs())
            .unwrap_or(i64::MAX / 4)
    }
}

impl Default for KeyPolicy {
    fn default() -> Self {
        KeyPolicy::new(Duration::from_secs(30 * 60))
    }
}

/// One key as `wxlogin keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySummary {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    pub created_at: UnixSeconds,
    pub retired_at: Option<UnixSeconds>,
    /// Signs new tokens.
    pub current: bool,
    /// In the JWKS and accepted for verification.
    pub published: bool,
}

struct LoadedKey {
    kid: String,
    created_at: UnixSeconds,
    retired_at: Option<UnixSeconds>,
    public_key: Arc<[u8]>,
    pair: KeyPair,
    decoding: DecodingKey,
}

struct KeySet {
    /// Oldest first, in the (created_at, kid) order every instance shares.
    keys: Vec<LoadedKey>,
    loaded_at: Instant,
}

impl KeySet {
    fn current(&self) -> Option<&LoadedKey> {
        self.keys.iter().rev().find(|key| key.retired_at.is_none())
    }

    fn is_published(key: &LoadedKey, now: UnixSeconds, policy: &KeyPolicy) -> bool {
        key.retired_at.is_none_or(|retired_at| {
            retired_at.saturating_add(policy.published_for_seconds()) > now
        })
    }

    fn published<'a>(
        &'a self,
        now: UnixSeconds,
        policy: &'a KeyPolicy,
    ) -> impl Iterator<Item = &'a LoadedKey> + 'a {
        self.keys
            .iter()
            .filter(move |key| KeySet::is_published(key, now, policy))
    }
}

struct Inner {
    store: Store,
    policy: KeyPolicy,
    set: RwLock<Arc<KeySet>>,
    last_reload_attempt: Mutex<Instant>,
    reload_lock: tokio::sync::Mutex<()>,
    verified: VerifiedTokenCache,
    /// Ed25519 verifications done by `verify` (cache misses); tests and benchmarks read it.
    signature_checks: AtomicU64,
}

/// The signing keys, cached in memory and re-read from the database as needed. Cheap to clone.
#[derive(Clone)]
pub struct SigningKeys {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.snapshot();
        f.debug_struct("SigningKeys")
            .field(
                "kids",
                &set.keys
                    .iter()
                    .map(|key| key.kid.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn load_key(stored: &StoredSigningKey) -> Result<LoadedKey, TokenError> {
    let corrupt = |what: &str| {
        TokenError::Storage(crate::storage::StorageError::Corrupt(format!(
            "signing key {}: {what}",
            stored.kid
        )))
    };
    let algorithm: SigningAlgorithm = stored
        .algorithm
        .parse()
        .map_err(|_| corrupt("unknown algorithm"))?;
    let pair = KeyPair::from_secret(algorithm, &stored.secret_key)?;
    if pair.public_key() != stored.public_key {
        return Err(corrupt("does not match its public key"));
    }
    Ok(LoadedKey {
        kid: stored.kid.clone(),
        created_at: stored.created_at,
        retired_at: stored.retired_at,
        public_key: stored.public_key.as_slice().into(),
        decoding: pair.decoding_key()?,
        pair,
    })
}

impl SigningKeys {
    /// How far `iat`/`nbf` may be ahead of `now` (besides the leeway). Claims are whole
    /// seconds, so with no allowance an instance a millisecond ahead would write tokens
    /// the others refuse until their clock crosses the same second boundary.
    pub const CLOCK_SKEW_SECONDS: UnixSeconds = CLOCK_SKEW_SECONDS;

    /// Load the keys, creating the first one if no unretired key exists (first start).
    pub async fn load_or_create(
        store: Store,
        policy: KeyPolicy,
        now: UnixSeconds,
    ) -> Result<SigningKeys, TokenError> {
        let algorithm = policy.algorithm;
        let keys = SigningKeys::load(store, policy).await?;
        let current = keys.snapshot().current().map(|key| key.pair.algorithm());
        match current {
            None => {
                let kid = keys.add_key(now, algorithm).await?;
                tracing::info!(kid = %kid, %algorithm, "created the first access-token signing key");
            }
            // A deployment moving to another algorithm (the default became ES256): the old
            // key stays published until its tokens have expired, so nobody is logged out.
            Some(current) if current != algorithm => {
                let kid = keys.add_key(now, algorithm).await?;
                tracing::info!(kid = %kid, from = %current, to = %algorithm, "rotated the access-token signing key to the configured algorithm");
            }
            Some(_) => {}
        }
        Ok(keys)
    }

    /// Load the keys as they are (no key is created; signing fails until one exists).
    pub async fn load(store: Store, policy: KeyPolicy) -> Result<SigningKeys, TokenError> {
        let keys = SigningKeys {
            inner: Arc::new(Inner {
                store,
                set: RwLock::new(Arc::new(KeySet {
                    keys: Vec::new(),
                    loaded_at: Instant::now(),
                })),
                last_reload_attempt: Mutex::new(Instant::now()),
                reload_lock: tokio::sync::Mutex::new(()),
                verified: VerifiedTokenCache::new(policy.access_token_cache_size),
                signature_checks: AtomicU64::new(0),
                policy,
            }),
        };
        keys.reload().await?;
        Ok(keys)
    }

    pub fn policy(&self) -> &KeyPolicy {
        &self.inner.policy
    }

    /// Add a new current key and retire the older ones (they stay published until their
    /// tokens have expired). Returns the new kid.
    pub async fn rotate(&self, now: UnixSeconds) -> Result<String, TokenError> {
        self.rotate_to(self.inner.policy.algorithm, now).await
    }

    /// [`SigningKeys::rotate`] to a key of `algorithm` (how a running deployment moves
    /// between ES256 and EdDSA: tokens of the old kind verify until they expire).
    pub async fn rotate_to(
        &self,
        algorithm: SigningAlgorithm,
        now: UnixSeconds,
    ) -> Result<String, TokenError> {
        self.reload().await?;
        self.add_key(now, algorithm).await
    }

    async fn add_key(
        &self,
        now: UnixSeconds,
        algorithm: SigningAlgorithm,
    ) -> Result<String, TokenError> {
        let pair = KeyPair::generate(algorithm)?;
        let kid = pair.thumbprint();
        // Keys are ordered by creation second; a second rotation within one second must
        // still sort after the first.
        let newest = self.snapshot().keys.last().map(|key| key.created_at);
        let created_at = newest.map_or(now, |newest| now.max(newest.saturating_add(1)));
        self.inner
            .store
            .insert_signing_key(&NewSigningKey {
                kid: kid.clone(),
                algorithm: algorithm.as_str(),
                secret_key: pair.secret(),
                public_key: pair.public_key(),
                created_at,
            })
            .await?;
        self.inner
            .store
            .retire_signing_keys_except_newest(now)
            .await?;
        self.reload().await?;
        Ok(kid)
    }

    /// Re-read every key from the database now.
    pub async fn reload(&self) -> Result<(), TokenError> {
        let _reloading = self.inner.reload_lock.lock().await;
        self.reload_locked().await
    }

    async fn reload_locked(&self) -> Result<(), TokenError> {
        *self
            .inner
            .last_reload_attempt
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Instant::now();
        let stored = self.inner.store.signing_keys().await?;
        let keys = stored.iter().map(load_key).collect::<Result<Vec<_>, _>>()?;
        let set = Arc::new(KeySet {
            keys,
            loaded_at: Instant::now(),
        });
        *self
            .inner
            .set
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = set;
        Ok(())
    }

    /// Reload if the last successful load is older than `age` and no attempt was made in
    /// the last `min_reload_gap`.
    async fn reload_if_older_than(&self, age: Duration) -> Result<(), TokenError> {
        let due = || {
            let attempted = *self
                .inner
                .last_reload_attempt
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            self.snapshot().loaded_at.elapsed() >= age
                && attempted.elapsed() >= self.inner.policy.min_reload_gap
        };
        if !due() {
            return Ok(());
        }
        let _reloading = self.inner.reload_lock.lock().await;
        if !due() {
            return Ok(());
        }
        self.reload_locked().await
    }

    /// An unknown kid may name a key added elsewhere since the last re-read (a rotation, or
    /// a sibling instance's first key): re-read, after waiting out the rest of
    /// `min_reload_gap` when the last attempt was more recent and the wait is short. One
    /// re-read then serves every request waiting, and forged kids still cost the database
    /// one re-read per gap at most.
    async fn reload_for_unknown_kid(&self) -> Result<(), TokenError> {
        let since_attempt = self
            .inner
            .last_reload_attempt
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .elapsed();
        if let Some(rest) = self.inner.policy.min_reload_gap.checked_sub(since_attempt) {
            if rest > MAX_WAIT_FOR_UNKNOWN_KID {
                return Ok(());
            }
            tokio::time::sleep(rest).await;
        }
        self.reload_if_older_than(Duration::ZERO).await
    }

    /// A periodic reload that keeps the cached keys when the database is unreachable.
    async fn best_effort_reload(&self, age: Duration) {
        if let Err(error) = self.reload_if_older_than(age).await {
            tracing::warn!(error = %error, "could not re-read the signing keys; using the cached ones");
        }
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.inner
            .set
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The JWS algorithms of the keys that verify live tokens, the current key's first
    /// (for discovery metadata).
    pub fn algorithms(&self) -> Vec<&'static str> {
        let set = self.snapshot();
        let mut algorithms: Vec<&'static str> = set
            .current()
            .map(|key| key.pair.algorithm().as_str())
            .into_iter()
            .collect();
        for key in set.keys.iter().rev() {
            let algorithm = key.pair.algorithm().as_str();
            if !algorithms.contains(&algorithm) {
                algorithms.push(algorithm);
            }
        }
        algorithms
    }

    /// The kid that signs new tokens.
    pub fn current_kid(&self) -> Option<String> {
        self.snapshot().current().map(|key| key.kid.clone())
    }

    /// Sign `claims` with the current key (`kid` in the header).
    pub async fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        self.best_effort_reload(self.inner.policy.reload_interval)
            .await;
        let set = self.snapshot();
        let key = set.current().ok_or(TokenError::NoSigningKey)?;
        sign_compact(&key.kid, claims, &key.pair)
    }

    /// Verify an access token: ES256 or EdDSA as the key it names signs, a published `kid` (re-reading the keys once if
    /// it is unknown), signature, issuer, audience among the configured apps, expiry, and
    /// neither issued (`iat`) nor valid from (`nbf`) later than `now` plus the leeway and
    /// `CLOCK_SKEW_SECONDS`.
    ///
    /// The signature check of a token that verified before is remembered (by the SHA-256
    /// of its bytes, up to `access_token_cache_size` tokens); every other check is made on
    /// every call.
    pub async fn verify(
        &self,
        token: &str,
        rules: &AccessTokenRules,
        now: UnixSeconds,
    ) -> Result<AccessClaims, TokenError> {
        let digest = self.inner.verified.digest(token);
        if let Some(signed) = digest.as_ref().and_then(|key| self.inner.verified.get(key)) {
            // A key no longer published falls through: the full path refuses it exactly
            // as it refuses any token of that key.
            if self.is_published_key(&signed.kid, &signed.public_key, now) {
                check_claims(&signed, rules, now)?;
                return Ok(signed.claims.clone());
            }
        }
        let signed = self.verify_signature(token, now).await?;
        check_claims(&signed, rules, now)?;
        let claims = signed.claims.clone();
        if let Some(digest) = digest {
            self.inner.verified.insert(digest, Arc::new(signed));
        }
        Ok(claims)
    }

    /// Whether the key that signed a remembered token is still published at `now`, in the
    /// keys as last read (no re-read: a remembered key was known).
    fn is_published_key(&self, kid: &str, public_key: &[u8], now: UnixSeconds) -> bool {
        self.snapshot()
            .published(now, &self.inner.policy)
            .any(|key| key.kid == kid && &*key.public_key == public_key)
    }

    /// The part of verification that depends only on the token's bytes and the key:
    /// header, `kid` lookup, signature, and decoding the claims.
    async fn verify_signature(
        &self,
        token: &str,
        now: UnixSeconds,
    ) -> Result<SignedToken, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let algorithm =
            SigningAlgorithm::of_header(header.alg).ok_or(TokenError::UnsupportedAlgorithm)?;
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let payload = payload_text(token)?;
        let find = |set: &KeySet| {
            set.published(now, &self.inner.policy)
                .find(|key| key.kid == kid)
                .map(|key| {
                    (
                        key.decoding.clone(),
                        key.public_key.clone(),
                        key.pair.algorithm(),
                    )
                })
        };
        let (decoding, public_key, key_algorithm) = match find(&self.snapshot()) {
            Some(found) => found,
            None => {
                self.reload_for_unknown_kid().await?;
                find(&self.snapshot()).ok_or(TokenError::UnknownKey)?
            }
        };

        // The key decides the algorithm: an EdDSA key never verifies an ES256 header, nor
        // the other way round (no algorithm confusion).
        if key_algorithm != algorithm {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        let mut validation = Validation::new(algorithm.jwt());
        // Expiry, issuer and audience are checked by `check_claims` on every call, against
        // the caller's clock and rules; only the presence of the claims is checked here.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        self.inner.signature_checks.fetch_add(1, Ordering::Relaxed);
        let data = jsonwebtoken::decode::<AccessClaims>(token, &decoding, &validation).map_err(
            |error| match error.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    TokenError::UnsupportedAlgorithm
                }
                _ => TokenError::Malformed,
            },
        )?;
        Ok(SignedToken {
            kid: kid.into_boxed_str(),
            public_key,
            claims: data.claims,
            not_before: not_before(&payload),
        })
    }

    /// How many Ed25519 signature checks `verify` has made (tokens not found among the
    /// remembered ones).
    pub fn signature_checks(&self) -> u64 {
        self.inner.signature_checks.load(Ordering::Relaxed)
    }

    /// How many verified tokens are remembered now (at most `access_token_cache_size`).
    pub fn cached_tokens(&self) -> usize {
        self.inner.verified.len()
    }

    /// The JWKS: every published key (current and recently retired), re-reading the
    /// database at most once per `min_reload_gap` so a rotation elsewhere shows promptly.
    pub async fn jwks(&self, now: UnixSeconds) -> JwkSet {
        self.best_effort_reload(Duration::ZERO).await;
        let set = self.snapshot();
        let keys = set
            .published(now, &self.inner.policy)
            .map(|key| key.pair.jwk(&key.kid))
            .collect();
        JwkSet { keys }
    }

    /// Every key with its state, oldest first (for `wxlogin keys list`).
    pub fn summaries(&self, now: UnixSeconds) -> Vec<KeySummary> {
        let set = self.snapshot();
        let current = set.current().map(|key| key.kid.clone());
        set.keys
            .iter()
            .map(|key| KeySummary {
                kid: key.kid.clone(),
                algorithm: key.pair.algorithm(),
                created_at: key.created_at,
                retired_at: key.retired_at,
                current: current.as_deref() == Some(key.kid.as_str()),
                published: KeySet::is_published(key, now, &self.inner.policy),
            })
            .collect()
    }
}
