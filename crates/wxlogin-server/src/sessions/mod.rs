//! Login sessions: issuing token pairs, rotating refresh tokens, authenticating access
//! tokens against the database (so logout takes effect at once on every instance), with
//! a cache of recently authenticated sessions that the database keeps in step (`cache.rs`).

mod cache;
mod cache_follower;

pub use cache::{CachedSession, SessionCache, MAX_ENTRY_AGE};

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::domain::{AppId, OpenId, SessionId, UserId};

use crate::storage::{
    ExchangeSession, NewSession, RefreshRotation, RevocationReason, SessionRecord, StorageError,
    Store, UnixSeconds, User,
};
use crate::tokens::{
    hash_refresh_token, AccessClaims, AccessTokenRules, RefreshToken, SigningKeys, TokenError,
};

/// Lifetimes and what access tokens must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Access-token lifetime (default 30 minutes).
    pub access_token_ttl: Duration,
    /// Refresh-token lifetime, renewed by every rotation (default 30 days).
    pub refresh_token_ttl: Duration,
    /// `iss` of the access tokens (default `wxlogin`).
    pub issuer: String,
    /// The configured appids: the only accepted `aud` values.
    pub audiences: BTreeSet<String>,
    /// Seconds past `exp` still accepted (default 0).
    pub leeway_seconds: u64,
}

impl SessionPolicy {
    /// Default lifetimes and issuer for the given configured appids.
    pub fn new(audiences: impl IntoIterator<Item = String>) -> Self {
        Self::with_tokens(&crate::tokens::TokenSettings::default(), audiences)
    }

    /// The configured lifetimes and issuer for the given configured appids.
    pub fn with_tokens(
        tokens: &crate::tokens::TokenSettings,
        audiences: impl IntoIterator<Item = String>,
    ) -> Self {
        SessionPolicy {
            access_token_ttl: tokens.access_token_ttl,
            refresh_token_ttl: tokens.refresh_token_ttl,
            issuer: tokens.issuer.clone(),
            audiences: audiences.into_iter().collect(),
            leeway_seconds: 0,
        }
    }

    fn rules(&self) -> AccessTokenRules {
        AccessTokenRules {
            issuer: self.issuer.clone(),
            audiences: self.audiences.clone(),
            leeway_seconds: self.leeway_seconds,
        }
    }
}

fn whole_seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX / 4)
}

/// The token part of the login and refresh answers. `Debug` hides both tokens.
#[derive(Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &"<redacted>")
            .finish()
    }
}

/// Who an authenticated request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    pub user_id: UserId,
    pub appid: AppId,
    pub openid: OpenId,
    pub session_id: SessionId,
}

/// Why a refresh failed. All but `Storage`/`Token` mean "log in again" (401).
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("unknown refresh token")]
    Unknown,
    #[error("refresh token has expired")]
    Expired,
    #[error("refresh token was already used; the session has been revoked")]
    Reused,
    #[error("the session has ended")]
    SessionEnded,
    #[error("the session is for a mini program this server does not serve")]
    AppNotServed,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Why an access token was refused. All but `Storage` mean 401.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid access token: {0}")]
    InvalidToken(TokenError),
    #[error("the session has ended")]
    SessionEnded,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<TokenError> for AuthError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Storage(storage) => AuthError::Storage(storage),
            other => AuthError::InvalidToken(other),
        }
    }
}

/// The caller of a session that the access token's claims name and that is still live.
fn live_session_context(
    session: SessionRecord,
    claims: &AccessClaims,
) -> Result<AuthContext, AuthError> {
    if session.revoked_at.is_some() || session.user_id != claims.sub || session.appid != claims.aud
    {
        return Err(AuthError::SessionEnded);
    }
    Ok(AuthContext {
        user_id: session.user_id,
        appid: session.appid,
        openid: session.openid,
        session_id: session.id,
    })
}

/// A session made before it is stored: its rows and the refresh token they hash.
#[derive(Debug)]
pub struct PlannedSession {
    pub rows: ExchangeSession,
    refresh_token: RefreshToken,
}

/// Why issuing tokens failed (a server fault or the database being unavailable).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// How often (at most, per instance) issuing a session also deletes expired login codes,
/// refresh tokens and sessions in the background.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// The session service. Cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    keys: SigningKeys,
    policy: Arc<SessionPolicy>,
    last_purge: Arc<Mutex<Option<Instant>>>,
    cache: Arc<SessionCache>,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("store", &self.store)
            .field("policy", &self.policy)
            .field("cached_users", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions that read every authentication from the database (no session cache).
    pub fn new(store: Store, keys: SigningKeys, policy: SessionPolicy) -> Self {
        let cache = Arc::new(SessionCache::new(0, store.database().clone()));
        Sessions {
            store,
            keys,
            policy: Arc::new(policy),
            last_purge: Arc::new(Mutex::new(None)),
            cache,
        }
    }

    /// Remember the sessions of up to `capacity` users between requests (`cache.rs`); 0
    /// for none. Nothing is served from it until [`Sessions::follow_database`] runs.
    pub fn with_session_cache(mut self, capacity: usize) -> Self {
        self.cache = Arc::new(SessionCache::new(capacity, self.store.database().clone()));
        self
    }

    /// Start the task that keeps the session cache in step with the database (`None` when
    /// the cache is off). It ends once every clone of these sessions is dropped.
    pub fn follow_database(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.cache
            .is_on()
            .then(|| cache_follower::spawn(&self.cache, self.store.clone()))
    }

    /// The session cache (for metrics and tests).
    pub fn cache(&self) -> &SessionCache {
        &self.cache
    }

    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Start a session for `user` in the app of its identity (`user.appid`, `user.openid`):
    /// a new refresh-token family and its first token pair.
    pub async fn issue(&self, user: &User, now: UnixSeconds) -> Result<TokenPair, SessionError> {
        let planned = self.plan(now);
        let session = NewSession {
            id: planned.rows.id.clone(),
            user_id: user.id.clone(),
            appid: user.appid.clone(),
            openid: user.openid.clone(),
            created_at: now,
            expires_at: planned.rows.expires_at,
        };
        self.store
            .create_session(&session, &planned.rows.refresh_token_hash)
            .await?;
        self.issue_planned(user, planned, now).await
    }

    /// A session for a login whose code exchange is about to be recorded: its rows go into
    /// the exchange's transaction ([`crate::storage::CodeExchange::session`]), and
    /// [`Sessions::issue_planned`] signs its tokens once they are stored.
    pub fn plan(&self, now: UnixSeconds) -> PlannedSession {
        let refresh_token = RefreshToken::generate();
        PlannedSession {
            rows: ExchangeSession {
                id: SessionId::random(),
                refresh_token_hash: refresh_token.hash(),
                expires_at: now.saturating_add(whole_seconds(self.policy.refresh_token_ttl)),
            },
            refresh_token,
        }
    }

    /// The token pair of a planned session, once its rows are stored for `user`.
    pub async fn issue_planned(
        &self,
        user: &User,
        planned: PlannedSession,
        now: UnixSeconds,
    ) -> Result<TokenPair, SessionError> {
        let access_token = self
            .sign_access_token(&user.id, &user.appid, &planned.rows.id, &user.roles, now)
            .await?;
        self.purge_expired_if_due(now);
        Ok(self.pair(access_token, &planned.refresh_token))
    }

    /// Delete expired rows in the background, at most once per [`PURGE_INTERVAL`] per
    /// instance, so the tables do not grow without bound.
    fn purge_expired_if_due(&self, now: UnixSeconds) {
        {
            let mut last_purge = self
                .last_purge
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if last_purge.is_some_and(|at| at.elapsed() < PURGE_INTERVAL) {
                return;
            }
            *last_purge = Some(Instant::now());
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            match store.purge_expired(now).await {
                Ok(report) => tracing::debug!(?report, "purged expired rows"),
                Err(error) => tracing::warn!(error = %error, "could not purge expired rows"),
            }
        });
    }

    /// Rotate a refresh token: the presented one is spent, a new pair is issued for the
    /// same session. Of two concurrent refreshes with one token exactly one succeeds;
    /// presenting a spent token revokes the whole session.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        now: UnixSeconds,
    ) -> Result<(TokenPair, User), RefreshError> {
        let successor = RefreshToken::generate();
        let new_expires_at = now.saturating_add(whole_seconds(self.policy.refresh_token_ttl));
        // An app removed from the configuration ends its sessions here as it does for
        // access tokens (whose `aud` must be a configured appid).
        let audiences = &self.policy.audiences;
        let rotation = self
            .store
            .rotate_refresh_token(
                &hash_refresh_token(refresh_token),
                &successor.hash(),
                now,
                new_expires_at,
                &|appid| audiences.contains(appid.as_str()),
            )
            .await?;
        let (session, user) = match rotation {
            RefreshRotation::Rotated(session, user) => (session, user),
            RefreshRotation::Reused { session_id } => {
                tracing::warn!(session_id = %session_id, "refresh token reused; session revoked");
                return Err(RefreshError::Reused);
            }
            RefreshRotation::Expired => return Err(RefreshError::Expired),
            RefreshRotation::SessionEnded { .. } => return Err(RefreshError::SessionEnded),
            RefreshRotation::AppNotServed { session_id } => {
                tracing::info!(session_id = %session_id, "refresh refused: the session's app is not configured here");
                return Err(RefreshError::AppNotServed);
            }
            RefreshRotation::Unknown => return Err(RefreshError::Unknown),
        };
        let user = user.ok_or(RefreshError::SessionEnded)?;
        let access_token = self
            .sign_access_token(
                &session.user_id,
                &session.appid,
                &session.id,
                &user.roles,
                now,
            )
            .await?;
        Ok((self.pair(access_token, &successor), user))
    }

    /// The claims of an access token whose signature, expiry, audience and issuer hold
    /// and whose session is still live in the database (RFC 7662 introspection).
    pub async fn live_claims(
        &self,
        access_token: &str,
        now: UnixSeconds,
    ) -> Result<AccessClaims, AuthError> {
        let claims = self
            .keys
            .verify(access_token, &self.policy.rules(), now)
            .await?;
        let (session, _) = self.live_session(&claims, now).await?;
        live_session_context(session, &claims)?;
        Ok(claims)
    }

    /// Verify an access token and check that its session is still live in the database.
    pub async fn authenticate(
        &self,
        access_token: &str,
        now: UnixSeconds,
    ) -> Result<AuthContext, AuthError> {
        let claims = self
            .keys
            .verify(access_token, &self.policy.rules(), now)
            .await?;
        let (session, _) = self.live_session(&claims, now).await?;
        live_session_context(session, &claims)
    }

    /// [`Sessions::authenticate`] plus the caller's user (`None` if its identity no longer
    /// belongs to it), read together in one statement.
    pub async fn authenticate_with_user(
        &self,
        access_token: &str,
        now: UnixSeconds,
    ) -> Result<(AuthContext, Option<User>), AuthError> {
        let claims = self
            .keys
            .verify(access_token, &self.policy.rules(), now)
            .await?;
        let (session, user) = self.live_session(&claims, now).await?;
        let context = live_session_context(session, &claims)?;
        Ok((context, user))
    }

    /// The session the claims name and its user: remembered if the cache may answer,
    /// else read from the database (and remembered when live).
    async fn live_session(
        &self,
        claims: &AccessClaims,
        now: UnixSeconds,
    ) -> Result<(SessionRecord, Option<User>), AuthError> {
        if let Some(cached) = self.cache.get(&claims.sub, &claims.sid, now) {
            crate::metrics::record_session_cache(true);
            return Ok((cached.session.clone(), Some(cached.user.clone())));
        }
        if self.cache.is_on() {
            crate::metrics::record_session_cache(false);
        }
        let ticket = self.cache.ticket();
        let (session, user) = self
            .store
            .session_with_user(&claims.sid)
            .await?
            .ok_or(AuthError::SessionEnded)?;
        if let (Some(ticket), Some(user)) = (ticket, &user) {
            if session.is_active(now) && session.user_id == claims.sub {
                self.cache.fill(ticket, session.clone(), user.clone());
            }
        }
        Ok((session, user))
    }

    /// End one session (logout). False if it was already ended.
    pub async fn logout(
        &self,
        session_id: &SessionId,
        now: UnixSeconds,
    ) -> Result<bool, StorageError> {
        self.store
            .revoke_session(session_id, RevocationReason::Logout, now)
            .await
    }

    /// Sessions neither revoked nor expired (for metrics).
    pub async fn count_active_sessions(&self, now: UnixSeconds) -> Result<i64, StorageError> {
        self.store.count_active_sessions(now).await
    }

    async fn sign_access_token(
        &self,
        user_id: &UserId,
        appid: &AppId,
        session_id: &SessionId,
        roles: &[String],
        now: UnixSeconds,
    ) -> Result<String, TokenError> {
        let claims = AccessClaims {
            iss: self.policy.issuer.clone(),
            sub: user_id.clone(),
            aud: appid.clone(),
            sid: session_id.clone(),
            iat: now,
            exp: now.saturating_add(whole_seconds(self.policy.access_token_ttl)),
            roles: roles.to_vec(),
        };
        self.keys.sign(&claims).await
    }

    fn pair(&self, access_token: String, refresh_token: &RefreshToken) -> TokenPair {
        TokenPair {
            access_token,
            token_type: "Bearer",
            expires_in: self.policy.access_token_ttl.as_secs(),
            refresh_token: refresh_token.expose().to_string(),
        }
    }
}
