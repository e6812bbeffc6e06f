//! What the team's backend and operators do to users: search, roles, deletion. Each change
//! writes its event (and, for admin keys and operators, its audit entry) in its own
//! transaction.

use serde_json::json;

use super::events::{record_audit, record_event, Actor, EventType, RevocationReason};
use super::sessions::{record_revocations, revoke_all_of_user};
use super::sql::query;
use super::{StorageError, Store, UnixSeconds, UserRecord};
use crate::domain::Roles;
use crate::domain::{AppId, OpenId, UnionId, UserId};

/// Where a page of users starts: after the user created at `created_at` with id `id` (the
/// order is `created_at, id`, stable while users are added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCursor {
    pub created_at: UnixSeconds,
    pub id: UserId,
}

impl UserCursor {
    /// The opaque text handed out as `next_cursor`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.id)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (created_at, id) = text.split_once('.')?;
        let id_ok = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !id_ok {
            return None;
        }
        Some(UserCursor {
            created_at: created_at.parse().ok()?,
            id: UserId::new(id),
        })
    }
}

/// The users a non-empty `q` ($1) matches, each exact match an index look-up: user id,
/// openid, unionid, the blind index of a full phone number ($6), or a nickname prefix as a
/// range (an index range scan on both databases, with no LIKE escaping: every string that
/// starts with q sorts in [q, q + U+10FFFF) = [$1, $5)), then `page`.
fn matching_users_sql(page: &str) -> String {
    format!(
        "SELECT {RECORD_COLUMNS} FROM users u WHERE u.id IN ( \
           SELECT id FROM users WHERE id = $1 \
           UNION SELECT user_id FROM identities WHERE openid = $1 \
           UNION SELECT id FROM users WHERE unionid = $1 \
           UNION SELECT user_id FROM identities WHERE unionid = $1 \
           UNION SELECT id FROM users WHERE phone_index = $6 \
           UNION SELECT id FROM users WHERE pure_phone_index = $6 \
           UNION SELECT id FROM users WHERE nickname >= $1 AND nickname < $5 \
         ) AND {page}"
    )
}

const RECORD_COLUMNS: &str = "u.id, u.unionid, u.phone_sealed, u.master_key_id AS phone_key_id, \
     u.nickname, u.avatar_url, u.created_at, u.updated_at, u.roles";

impl Store {
    /// Users matching `q` exactly by user id, openid, unionid or full phone number, or by
    /// nickname prefix (every user when `q` is empty), in a stable order, `limit` after
    /// `after`. Each exact match is an index look-up.
    pub async fn search_users(
        &self,
        q: &str,
        after: Option<&UserCursor>,
        limit: u32,
    ) -> Result<Vec<UserRecord>, StorageError> {
        let (after_created, after_id) = after.map_or((i64::MIN, ""), |cursor| {
            (cursor.created_at, cursor.id.as_str())
        });
        let q = q.trim();
        let page = "(u.created_at > $2 OR (u.created_at = $2 AND u.id > $3)) \
                    ORDER BY u.created_at, u.id LIMIT $4";
        let rows = if q.is_empty() {
            let sql = format!("SELECT {RECORD_COLUMNS} FROM users u WHERE $1 = '' AND {page}");
            query(&sql)
                .bind(q)
                .bind(after_created)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(self.readers())
                .await?
        } else {
            let sql = matching_users_sql(page);
            query(&sql)
                .bind(q)
                .bind(after_created)
                .bind(after_id)
                .bind(i64::from(limit))
                .bind(format!("{q}\u{10FFFF}"))
                .bind(self.phone_index(q).await?)
                .fetch_all(self.readers())
                .await?
        };
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            records.push(self.user_record_from_row(row).await?);
        }
        Ok(records)
    }

    /// Replace a user's roles; tokens issued from now on carry them. False if there is no
    /// such user.
    pub async fn set_roles(
        &self,
        user_id: &UserId,
        roles: &Roles,
        actor: Actor<'_>,
        now: UnixSeconds,
    ) -> Result<bool, StorageError> {
        let mut transaction = self.begin().await?;
        let affected = query("UPDATE users SET roles = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(roles.to_stored())
            .bind(now)
            .execute(&mut transaction)
            .await?
            .rows_affected();
        if affected != 1 {
            transaction.rollback().await?;
            return Ok(false);
        }
        record_event(
            &mut transaction,
            EventType::UserRolesChanged,
            Some(user_id),
            json!({"roles": roles.as_slice(), "by": actor.as_str()}),
            now,
        )
        .await?;
        record_audit(
            &mut transaction,
            actor,
            "user.roles_changed",
            Some(user_id),
            now,
        )
        .await?;
        transaction.commit().await?;
        self.changes_hold_everywhere().await;
        Ok(true)
    }

    /// End every session of a user at once (admin revoke); returns how many were live.
    pub async fn revoke_user(
        &self,
        user_id: &UserId,
        actor: Actor<'_>,
        now: UnixSeconds,
    ) -> Result<u64, StorageError> {
        let mut transaction = self.begin().await?;
        let revoked = revoke_all_of_user(&mut transaction, user_id, now).await?;
        record_revocations(&mut transaction, &revoked, RevocationReason::Admin, now).await?;
        record_audit(
            &mut transaction,
            actor,
            "user.sessions_revoked",
            Some(user_id),
            now,
        )
        .await?;
        transaction.commit().await?;
        self.changes_hold_everywhere().await;
        Ok(revoked.len() as u64)
    }

    /// Delete a user and everything that is theirs, in one transaction: identities, session
    /// keys, sessions and refresh tokens, login codes, and their earlier events. What stays
    /// is the deletion's own events (`session.revoked` with reason `deleted` for each live
    /// session, then `user.deleted`). The same WeChat user's next login creates a new user.
    /// False if there was no such user.
    pub async fn delete_user(
        &self,
        user_id: &UserId,
        actor: Actor<'_>,
        now: UnixSeconds,
    ) -> Result<bool, StorageError> {
        let mut transaction = self.begin().await?;
        // Writing first takes SQLite's write lock at once (the busy timeout applies).
        let revoked = revoke_all_of_user(&mut transaction, user_id, now).await?;
        let identities = query("SELECT appid, openid FROM identities WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&mut transaction)
            .await?;
        for identity in &identities {
            let appid: String = identity.try_get("appid")?;
            let openid: String = identity.try_get("openid")?;
            query("DELETE FROM session_keys WHERE appid = $1 AND openid = $2")
                .bind(&appid)
                .bind(&openid)
                .execute(&mut transaction)
                .await?;
        }
        query("DELETE FROM login_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut transaction)
            .await?;
        query("DELETE FROM events WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut transaction)
            .await?;
        // Identities, sessions and their refresh tokens go with the user (ON DELETE CASCADE).
        let deleted = query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&mut transaction)
            .await?
            .rows_affected();
        if deleted != 1 {
            transaction.rollback().await?;
            return Ok(false);
        }
        record_revocations(&mut transaction, &revoked, RevocationReason::Deleted, now).await?;
        record_event(
            &mut transaction,
            EventType::UserDeleted,
            Some(user_id),
            json!({"by": actor.as_str()}),
            now,
        )
        .await?;
        record_audit(&mut transaction, actor, "user.deleted", Some(user_id), now).await?;
        transaction.commit().await?;
        self.changes_hold_everywhere().await;
        Ok(true)
    }
}

/// One WeChat identity of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRecord {
    pub appid: AppId,
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub created_at: UnixSeconds,
}

impl Store {
    /// Whether a user with this id exists (reads nothing sealed).
    pub async fn user_exists(&self, user_id: &UserId) -> Result<bool, StorageError> {
        Ok(query("SELECT 1 AS found FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(self.readers())
            .await?
            .is_some())
    }

    /// A user's identities, oldest first.
    pub async fn user_identities(
        &self,
        user_id: &UserId,
    ) -> Result<Vec<IdentityRecord>, StorageError> {
        query(
            "SELECT appid, openid, unionid, created_at FROM identities WHERE user_id = $1 \
             ORDER BY created_at, appid, openid",
        )
        .bind(user_id)
        .fetch_all(self.readers())
        .await?
        .iter()
        .map(|row| {
            Ok(IdentityRecord {
                appid: row.try_get("appid")?,
                openid: row.try_get("openid")?,
                unionid: row.try_get("unionid")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at_rest::MasterKey;
    use crate::storage::StoreOptions;

    /// Each way of finding a user is an index look-up, never a table scan, so the search
    /// stays flat however many users there are (on the SQLite file driver the server uses).
    #[tokio::test]
    async fn every_match_of_the_search_is_an_index_lookup() {
        let dir = std::env::temp_dir().join(format!("wxlogin-plan-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("plan.db").display());
        let store = Store::connect(&url, &StoreOptions::default(), MasterKey::generate())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let page = "(u.created_at > $2 OR (u.created_at = $2 AND u.id > $3)) \
                    ORDER BY u.created_at, u.id LIMIT $4";
        let plan = query(&format!("EXPLAIN QUERY PLAN {}", matching_users_sql(page)))
            .bind("13800000000")
            .bind(0i64)
            .bind("")
            .bind(10i64)
            .bind("13800000000\u{10FFFF}")
            .bind("index")
            .fetch_all(store.readers())
            .await
            .unwrap();
        let steps: Vec<String> = plan
            .iter()
            .map(|row| row.try_get::<String>("detail").unwrap())
            .collect();
        // SEARCH is an index look-up; SCAN would read a whole table (or index).
        let scans: Vec<&String> = steps
            .iter()
            .filter(|step| step.starts_with("SCAN"))
            .collect();
        assert!(
            scans.is_empty(),
            "table scans in the search plan: {steps:#?}"
        );
        for index in [
            "users_phone_index",
            "users_pure_phone_index",
            "identities_openid",
            "users_nickname",
        ] {
            assert!(
                steps.iter().any(|step| step.contains(index)),
                "{index} unused: {steps:#?}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
