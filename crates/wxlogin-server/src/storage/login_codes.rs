//! Login codes seen recently, so that one `wx.login` code is exchanged with WeChat once
//! across all instances, and a retry of a code that already succeeded can be answered
//! like the first request instead of with WeChat's 40163.

use std::time::Duration;

use super::sessions::{insert_session, ExchangeSession, NewSession};
use super::sql::{query, On, Transaction};
use super::users::{unionid_is_new, NewIdentity};
use super::User;
use crate::domain::{AppId, LoginCodeHash, OpenId, UnionId, UserId};
use sha2::{Digest, Sha256};
use wxlogin_crypto::SessionKey;

use super::{StorageError, Store, UnixSeconds};

const IN_FLIGHT: &str = "in_flight";
const SUCCEEDED: &str = "succeeded";

/// The key a login code is stored under: hex SHA-256 of `appid`, a NUL and the code. The
/// code itself is never stored.
pub fn hash_login_code(appid: &AppId, code: &str) -> LoginCodeHash {
    let mut hasher = Sha256::new();
    hasher.update(appid.as_str().as_bytes());
    hasher.update([0u8]);
    hasher.update(code.as_bytes());
    LoginCodeHash::new(hex::encode(hasher.finalize()))
}

/// How a login's code was spent (for the metrics): the answer to a [`CodeClaim::Claimed`]
/// or to a [`CodeClaim::Succeeded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// The code was exchanged by this request (or the run it joined).
    Exchanged,
    /// A retry of a code already exchanged, answered from the first exchange.
    Retried,
}

/// The outcome of [`Store::claim_login_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeClaim {
    /// This caller owns the code: exchange it, then call `complete_login_code` or
    /// `release_login_code`.
    Claimed,
    /// Another request (maybe on another instance) is exchanging it right now.
    InFlight,
    /// The code was exchanged successfully at `completed_at` for this user.
    Succeeded {
        user_id: UserId,
        openid: OpenId,
        completed_at: UnixSeconds,
    },
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs())
        .unwrap_or(i64::MAX / 4)
        .max(1)
}

impl Store {
    /// Claim `code_hash` for an exchange. Exactly one of any number of concurrent callers
    /// (on any instance) gets [`CodeClaim::Claimed`]; the claim lapses after `in_flight_ttl`
    /// (so a crashed instance does not block the code forever). An expired row of either
    /// state counts as absent.
    pub async fn claim_login_code(
        &self,
        code_hash: &LoginCodeHash,
        appid: &AppId,
        now: UnixSeconds,
        in_flight_ttl: Duration,
    ) -> Result<CodeClaim, StorageError> {
        let claimed = query(
            "INSERT INTO login_codes (code_hash, appid, state, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (code_hash) DO UPDATE SET appid = excluded.appid, state = excluded.state, \
             user_id = NULL, openid = NULL, completed_at = NULL, created_at = excluded.created_at, \
             expires_at = excluded.expires_at WHERE login_codes.expires_at <= $4",
        )
        .bind(code_hash)
        .bind(appid)
        .bind(IN_FLIGHT)
        .bind(now)
        .bind(now.saturating_add(seconds(in_flight_ttl)))
        .execute(self.writer())
        .await?
        .rows_affected();
        if claimed == 1 {
            return Ok(CodeClaim::Claimed);
        }
        let row = query(
            "SELECT state, user_id, openid, completed_at FROM login_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(self.readers())
        .await?;
        let Some(row) = row else {
            // Released between our insert and our read: the caller may simply retry.
            return Ok(CodeClaim::InFlight);
        };
        let state: String = row.try_get("state")?;
        if state != SUCCEEDED {
            return Ok(CodeClaim::InFlight);
        }
        let user_id: Option<UserId> = row.try_get("user_id")?;
        let openid: Option<OpenId> = row.try_get("openid")?;
        let completed_at: Option<i64> = row.try_get("completed_at")?;
        match (user_id, openid, completed_at) {
            (Some(user_id), Some(openid), Some(completed_at)) => Ok(CodeClaim::Succeeded {
                user_id,
                openid,
                completed_at,
            }),
            _ => Err(StorageError::Corrupt(
                "succeeded login code without its user".into(),
            )),
        }
    }

    /// Record that the claimed code was exchanged for `user_id`/`openid`; the row answers
    /// retries (and refuses replays) for `keep_for`, after which it counts as absent.
    pub async fn complete_login_code(
        &self,
        code_hash: &LoginCodeHash,
        user_id: &UserId,
        openid: &OpenId,
        now: UnixSeconds,
        keep_for: Duration,
    ) -> Result<(), StorageError> {
        mark_code_succeeded(self.writer(), code_hash, user_id, openid, now, keep_for).await
    }

    /// The end of a successful exchange in one write transaction: the identity's new
    /// session key saved and the code completed ([`Store::save_session_key`] and
    /// [`Store::complete_login_code`], one commit instead of two on every login).
    pub async fn finish_code_exchange(
        &self,
        exchange: &FinishedExchange<'_>,
    ) -> Result<(), StorageError> {
        let mut transaction = self.begin().await?;
        self.finish_code_exchange_in(&mut transaction, exchange)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The end of a successful exchange: the identity's user (created on first sight, as
    /// [`Store::find_or_create_user`] does), its new session key, the code completed and
    /// the login's session, if it has one.
    /// A first login and a returning one do all of it in one write transaction; a login
    /// that links a new unionid, or a first login that another login or a known unionid
    /// got ahead of, completes the code in a transaction of its own.
    pub async fn record_code_exchange(
        &self,
        exchange: &CodeExchange<'_>,
    ) -> Result<User, StorageError> {
        // The identity is looked up inside the write transaction: a returning user's login
        // then commits once too, and the read finds the writer's cache warm.
        let mut transaction = self.begin().await?;
        let known = self
            .user_by_identity_on(&mut transaction, exchange.appid, exchange.openid)
            .await?;
        let user = match known {
            Some(user) if !unionid_is_new(&user, exchange.unionid) => {
                self.finish_code_exchange_in(&mut transaction, &exchange.finished_by(&user.id))
                    .await?;
                transaction.commit().await?;
                return Ok(user);
            }
            Some(user) => {
                // Linking a new unionid writes outside this transaction.
                transaction.rollback().await?;
                self.with_unionid(user, exchange.unionid).await?
            }
            None => {
                let identity = self
                    .insert_identity(
                        &mut transaction,
                        exchange.appid,
                        exchange.openid,
                        exchange.unionid,
                        exchange.now,
                    )
                    .await?;
                match identity {
                    NewIdentity::OfNewUser(user) => {
                        self.finish_code_exchange_in(
                            &mut transaction,
                            &exchange.finished_by(&user.id),
                        )
                        .await?;
                        transaction.commit().await?;
                        return Ok(user);
                    }
                    other => {
                        self.settle_identity(
                            transaction,
                            other,
                            exchange.appid,
                            exchange.openid,
                            exchange.unionid,
                        )
                        .await?
                    }
                }
            }
        };
        self.finish_code_exchange(&exchange.finished_by(&user.id))
            .await?;
        Ok(user)
    }

    async fn finish_code_exchange_in(
        &self,
        transaction: &mut Transaction,
        exchange: &FinishedExchange<'_>,
    ) -> Result<(), StorageError> {
        self.upsert_session_key(
            &mut *transaction,
            exchange.appid,
            exchange.openid,
            exchange.session_key,
            exchange.now,
        )
        .await?;
        mark_code_succeeded(
            &mut *transaction,
            exchange.code_hash,
            exchange.user_id,
            exchange.openid,
            exchange.now,
            exchange.keep_for,
        )
        .await?;
        if let Some(session) = exchange.session {
            let rows = NewSession {
                id: session.id.clone(),
                user_id: exchange.user_id.clone(),
                appid: exchange.appid.clone(),
                openid: exchange.openid.clone(),
                created_at: exchange.now,
                expires_at: session.expires_at,
            };
            insert_session(transaction, &rows, &session.refresh_token_hash).await?;
        }
        Ok(())
    }

    /// Give up a claim after a failed exchange, so a retry reaches WeChat and gets WeChat's
    /// own answer. A code that already succeeded is left alone.
    pub async fn release_login_code(&self, code_hash: &LoginCodeHash) -> Result<(), StorageError> {
        query("DELETE FROM login_codes WHERE code_hash = $1 AND state = $2")
            .bind(code_hash)
            .bind(IN_FLIGHT)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}

/// A successful code exchange, for [`Store::record_code_exchange`].
pub struct CodeExchange<'a> {
    pub code_hash: &'a LoginCodeHash,
    pub appid: &'a AppId,
    pub openid: &'a OpenId,
    /// As WeChat sent it with this login.
    pub unionid: Option<&'a UnionId>,
    pub session_key: &'a SessionKey,
    pub now: UnixSeconds,
    /// How long the code's row answers retries and refuses replays.
    pub keep_for: Duration,
    /// The login's session, created with the rest (none: the caller makes its own).
    pub session: Option<&'a ExchangeSession>,
}

impl<'a> CodeExchange<'a> {
    fn finished_by(&self, user_id: &'a UserId) -> FinishedExchange<'a> {
        FinishedExchange {
            code_hash: self.code_hash,
            user_id,
            appid: self.appid,
            openid: self.openid,
            session_key: self.session_key,
            now: self.now,
            keep_for: self.keep_for,
            session: self.session,
        }
    }
}

/// What a successful code exchange leaves behind ([`Store::finish_code_exchange`]).
pub struct FinishedExchange<'a> {
    pub code_hash: &'a LoginCodeHash,
    pub user_id: &'a UserId,
    pub appid: &'a AppId,
    pub openid: &'a OpenId,
    pub session_key: &'a SessionKey,
    pub now: UnixSeconds,
    /// How long the code's row answers retries and refuses replays.
    pub keep_for: Duration,
    /// The login's session, created in the same transaction (none: the caller makes its
    /// own).
    pub session: Option<&'a ExchangeSession>,
}

async fn mark_code_succeeded<'a>(
    on: impl Into<On<'a>>,
    code_hash: &LoginCodeHash,
    user_id: &UserId,
    openid: &OpenId,
    now: UnixSeconds,
    keep_for: Duration,
) -> Result<(), StorageError> {
    query(
        "UPDATE login_codes SET state = $2, user_id = $3, openid = $4, completed_at = $5, expires_at = $6 \
         WHERE code_hash = $1",
    )
    .bind(code_hash)
    .bind(SUCCEEDED)
    .bind(user_id)
    .bind(openid)
    .bind(now)
    .bind(now.saturating_add(seconds(keep_for)))
    .execute(on)
    .await?;
    Ok(())
}
