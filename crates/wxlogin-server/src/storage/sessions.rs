//! Sessions (one refresh-token family each; the id is the access token's `sid`) and their
//! refresh tokens, stored only as hashes.

use serde_json::json;

use super::events::{record_event, EventType, RevocationReason};
use super::sql::{query, Row, Transaction};
use crate::domain::{AppId, OpenId, RefreshTokenHash, SessionId, UserId};

use super::users::{user_from_row, USER_VIEW_COLUMNS};
use super::{StorageError, Store, UnixSeconds, User};

/// A session to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub appid: AppId,
    pub openid: OpenId,
    pub created_at: UnixSeconds,
    /// When its first refresh token expires; extended by every rotation.
    pub expires_at: UnixSeconds,
}

/// A login's session, created in the transaction that records its code exchange
/// ([`Store::record_code_exchange`]): the user it belongs to is only known there, and one
/// commit less is a tenth of a login's CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeSession {
    pub id: SessionId,
    pub refresh_token_hash: RefreshTokenHash,
    /// When its first refresh token expires.
    pub expires_at: UnixSeconds,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub user_id: UserId,
    pub appid: AppId,
    pub openid: OpenId,
    pub created_at: UnixSeconds,
    pub expires_at: UnixSeconds,
    pub revoked_at: Option<UnixSeconds>,
}

impl SessionRecord {
    /// Not revoked and not past its expiry.
    pub fn is_active(&self, now: UnixSeconds) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// The outcome of [`Store::rotate_refresh_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
// Returned once per refresh and taken apart at once, never stored: boxing would only add
// an allocation.
#[allow(clippy::large_enum_variant)]
pub enum RefreshRotation {
    /// The presented token is now spent and the new one is stored; the session as it is
    /// now, and its user as its identity gives it (none: the identity is no longer theirs).
    Rotated(SessionRecord, Option<User>),
    /// The presented token had been spent before: a copy is in someone else's hands. The
    /// whole session has been revoked.
    Reused { session_id: SessionId },
    /// The presented token is past its expiry.
    Expired,
    /// The session was revoked (logout, admin revoke, earlier reuse) or has expired.
    SessionEnded { session_id: SessionId },
    /// The session belongs to a mini program this server no longer serves. Nothing was
    /// changed: the token is not spent, so the session goes on if the app comes back.
    AppNotServed { session_id: SessionId },
    /// No such token.
    Unknown,
}

/// What [`Store::purge_expired`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub login_codes: u64,
    pub refresh_tokens: u64,
    pub sessions: u64,
}

const SESSION_COLUMNS: &str = "id, user_id, appid, openid, created_at, expires_at, revoked_at";

fn session_from_row(row: &Row) -> Result<SessionRecord, StorageError> {
    Ok(SessionRecord {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        appid: row.try_get("appid")?,
        openid: row.try_get("openid")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    /// Create a session and its first refresh token (stored as `refresh_token_hash`,
    /// expiring with the session).
    pub async fn create_session(
        &self,
        session: &NewSession,
        refresh_token_hash: &RefreshTokenHash,
    ) -> Result<(), StorageError> {
        let mut transaction = self.begin().await?;
        insert_session(&mut transaction, session, refresh_token_hash).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Spend the presented refresh token and store its successor, atomically: of several
    /// concurrent rotations of one token (on any instances) exactly one gets
    /// [`RefreshRotation::Rotated`]. Presenting a token that was already spent revokes the
    /// whole session ([`RefreshRotation::Reused`]). A session whose appid `is_served`
    /// refuses is left as it was ([`RefreshRotation::AppNotServed`]).
    pub async fn rotate_refresh_token(
        &self,
        presented_hash: &RefreshTokenHash,
        new_hash: &RefreshTokenHash,
        now: UnixSeconds,
        new_expires_at: UnixSeconds,
        is_served: &(dyn Fn(&AppId) -> bool + Sync),
    ) -> Result<RefreshRotation, StorageError> {
        let mut transaction = self.begin().await?;
        // Writing first takes SQLite's write lock at once, so the busy timeout applies.
        let spent = query(
            "UPDATE refresh_tokens SET spent_at = $2 WHERE hash = $1 AND spent_at IS NULL AND expires_at > $2 \
             RETURNING session_id",
        )
        .bind(presented_hash)
        .bind(now)
        .fetch_optional(&mut transaction)
        .await?;
        if let Some(spent) = spent {
            let session_id: SessionId = spent.try_get("session_id")?;
            // Extending a live session and reading it back is one statement (RETURNING gives
            // the row as updated, in SQLite >= 3.35 and PostgreSQL alike): one B-tree
            // search, and on PostgreSQL one round trip.
            let sql = format!(
                "UPDATE sessions SET expires_at = CASE WHEN expires_at < $2 THEN $2 ELSE expires_at END \
                 WHERE id = $1 AND revoked_at IS NULL AND expires_at > $3 \
                 RETURNING {SESSION_COLUMNS}"
            );
            let session = query(&sql)
                .bind(&session_id)
                .bind(new_expires_at)
                .bind(now)
                .fetch_optional(&mut transaction)
                .await?
                .as_ref()
                .map(session_from_row)
                .transpose()?;
            let Some(session) = session else {
                transaction.commit().await?;
                return Ok(RefreshRotation::SessionEnded { session_id });
            };
            if !is_served(&session.appid) {
                transaction.rollback().await?;
                return Ok(RefreshRotation::AppNotServed { session_id });
            }
            query("INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(new_hash)
                .bind(&session_id)
                .bind(now)
                .bind(new_expires_at)
                .execute(&mut transaction)
                .await?;
            // Read in the transaction: the writer's cache is warm, where a reader's was
            // just reset by the last commit.
            let user = self
                .user_by_identity_on(&mut transaction, &session.appid, &session.openid)
                .await?
                .filter(|user| user.id == session.user_id);
            transaction.commit().await?;
            return Ok(RefreshRotation::Rotated(session, user));
        }
        transaction.rollback().await?;

        let row = query("SELECT session_id, spent_at FROM refresh_tokens WHERE hash = $1")
            .bind(presented_hash)
            .fetch_optional(self.readers())
            .await?;
        let Some(row) = row else {
            return Ok(RefreshRotation::Unknown);
        };
        let session_id: SessionId = row.try_get("session_id")?;
        let spent_at: Option<i64> = row.try_get("spent_at")?;
        if spent_at.is_some() {
            self.revoke_session(&session_id, RevocationReason::ReuseDetected, now)
                .await?;
            return Ok(RefreshRotation::Reused { session_id });
        }
        Ok(RefreshRotation::Expired)
    }

    /// A session by id.
    pub async fn session(
        &self,
        session_id: &SessionId,
    ) -> Result<Option<SessionRecord>, StorageError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1");
        query(&sql)
            .bind(session_id)
            .fetch_optional(self.readers())
            .await?
            .as_ref()
            .map(session_from_row)
            .transpose()
    }

    /// Session `session_id` and, if its identity still belongs to its user, that user: one
    /// statement instead of two (one reader taken, one round trip on PostgreSQL), on the
    /// path of every authenticated request the session cache does not answer.
    pub async fn session_with_user(
        &self,
        session_id: &SessionId,
    ) -> Result<Option<(SessionRecord, Option<User>)>, StorageError> {
        let sql = format!(
            "SELECT s.id AS session_id, s.user_id AS session_user_id, \
             s.appid AS session_appid, s.openid AS session_openid, \
             s.created_at AS session_created_at, s.expires_at AS session_expires_at, \
             s.revoked_at AS session_revoked_at, {USER_VIEW_COLUMNS} \
             FROM sessions s \
             LEFT JOIN identities i ON i.appid = s.appid AND i.openid = s.openid \
             LEFT JOIN users u ON u.id = i.user_id AND u.id = s.user_id \
             WHERE s.id = $1"
        );
        let Some(row) = query(&sql)
            .bind(session_id)
            .fetch_optional(self.readers())
            .await?
        else {
            return Ok(None);
        };
        let session = SessionRecord {
            id: row.try_get("session_id")?,
            user_id: row.try_get("session_user_id")?,
            appid: row.try_get("session_appid")?,
            openid: row.try_get("session_openid")?,
            created_at: row.try_get("session_created_at")?,
            expires_at: row.try_get("session_expires_at")?,
            revoked_at: row.try_get("session_revoked_at")?,
        };
        let user_id: Option<String> = row.try_get("id")?;
        let user = match user_id {
            Some(_) => Some(user_from_row(&row, self)?),
            None => None,
        };
        Ok(Some((session, user)))
    }

    /// Revoke one session (its access and refresh tokens stop working at once), with its
    /// `session.revoked` event. False if it did not exist or was already revoked.
    pub async fn revoke_session(
        &self,
        session_id: &SessionId,
        reason: RevocationReason,
        now: UnixSeconds,
    ) -> Result<bool, StorageError> {
        let mut transaction = self.begin().await?;
        let revoked = query(
            "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL \
             RETURNING id, user_id",
        )
        .bind(session_id)
        .bind(now)
        .fetch_all(&mut transaction)
        .await?;
        record_revocations(&mut transaction, &revoked, reason, now).await?;
        transaction.commit().await?;
        self.changes_hold_everywhere().await;
        Ok(!revoked.is_empty())
    }

    /// Revoke every session of a user, each with its `session.revoked` event; returns how
    /// many were still unrevoked.
    pub async fn revoke_user_sessions(
        &self,
        user_id: &UserId,
        reason: RevocationReason,
        now: UnixSeconds,
    ) -> Result<u64, StorageError> {
        let mut transaction = self.begin().await?;
        let revoked = revoke_all_of_user(&mut transaction, user_id, now).await?;
        record_revocations(&mut transaction, &revoked, reason, now).await?;
        transaction.commit().await?;
        self.changes_hold_everywhere().await;
        Ok(revoked.len() as u64)
    }

    /// Sessions of one user, newest first (for administration).
    pub async fn user_sessions(
        &self,
        user_id: &UserId,
    ) -> Result<Vec<SessionRecord>, StorageError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id"
        );
        query(&sql)
            .bind(user_id)
            .fetch_all(self.readers())
            .await?
            .iter()
            .map(session_from_row)
            .collect()
    }

    /// Sessions neither revoked nor expired.
    pub async fn count_active_sessions(&self, now: UnixSeconds) -> Result<i64, StorageError> {
        Ok(
            query(
                "SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NULL AND expires_at > $1",
            )
            .bind(now)
            .fetch_one(self.readers())
            .await?
            .try_get("n")?,
        )
    }

    /// Live sessions of one user (for the admin CLI).
    pub async fn count_active_user_sessions(
        &self,
        user_id: &UserId,
        now: UnixSeconds,
    ) -> Result<i64, StorageError> {
        Ok(query(
            "SELECT COUNT(*) AS n FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(user_id)
        .bind(now)
        .fetch_one(self.readers())
        .await?
        .try_get("n")?)
    }

    /// Delete expired login codes, refresh tokens and sessions (with their tokens).
    pub async fn purge_expired(&self, now: UnixSeconds) -> Result<PurgeReport, StorageError> {
        let login_codes = query("DELETE FROM login_codes WHERE expires_at <= $1")
            .bind(now)
            .execute(self.writer())
            .await?
            .rows_affected();
        let refresh_tokens = query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(self.writer())
            .await?
            .rows_affected();
        let sessions = query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(self.writer())
            .await?
            .rows_affected();
        Ok(PurgeReport {
            login_codes,
            refresh_tokens,
            sessions,
        })
    }
}

/// End every live session of `user_id` inside `transaction`; the (id, user_id) rows of the
/// sessions it ended.
pub(super) async fn revoke_all_of_user(
    transaction: &mut Transaction,
    user_id: &UserId,
    now: UnixSeconds,
) -> Result<Vec<Row>, StorageError> {
    Ok(query(
        "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL \
         RETURNING id, user_id",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(transaction)
    .await?)
}

/// One `session.revoked` event per ended session (rows of `id, user_id`).
pub(super) async fn record_revocations(
    transaction: &mut Transaction,
    revoked: &[Row],
    reason: RevocationReason,
    now: UnixSeconds,
) -> Result<(), StorageError> {
    for row in revoked {
        let session_id: SessionId = row.try_get("id")?;
        let user_id: UserId = row.try_get("user_id")?;
        record_event(
            &mut *transaction,
            EventType::SessionRevoked,
            Some(&user_id),
            json!({"session_id": session_id, "reason": reason.as_str()}),
            now,
        )
        .await?;
    }
    Ok(())
}

/// A session's rows, inside the caller's transaction: the session and its first refresh
/// token (expiring with it).
pub(super) async fn insert_session(
    transaction: &mut Transaction,
    session: &NewSession,
    refresh_token_hash: &RefreshTokenHash,
) -> Result<(), StorageError> {
    query(
        "INSERT INTO sessions (id, user_id, appid, openid, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&session.id)
    .bind(&session.user_id)
    .bind(&session.appid)
    .bind(&session.openid)
    .bind(session.created_at)
    .bind(session.expires_at)
    .execute(&mut *transaction)
    .await?;
    query("INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(refresh_token_hash)
        .bind(&session.id)
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&mut *transaction)
        .await?;
    Ok(())
}
