//! Users and their per-app identities. One user per person: a WeChat identity is
//! (appid, openid); a unionid seen on a new app's identity links it to the user that
//! already carries that unionid.

use serde_json::json;

use super::error::is_unique_violation;
use super::events::{record_event, EventType};
use super::sql::{query, On, Row, Transaction};
use super::{StorageError, Store, UnixSeconds};
use crate::domain::{AppId, OpenId, PhoneNumber, PhoneText, Roles, UnionId, UserId};

/// A user seen through one identity (the app the caller's session belongs to); the HTTP
/// contract's shape of it is `routes::user::UserBody`. `Debug` masks the phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub appid: AppId,
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub phone_number: Option<PhoneText>,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: UnixSeconds,
    /// Given by the team's backend (`PUT /admin/v1/users/{id}/roles`); carried by the
    /// access tokens as the `roles` claim.
    pub roles: Vec<String>,
}

/// What [`Store::insert_identity`] did.
pub(super) enum NewIdentity {
    /// Created with a new user, answered as written (no read back).
    OfNewUser(User),
    /// Created under the user that already carries its unionid.
    OfExistingUser,
    /// Another login created it first.
    AlreadyThere,
}

/// A user with all their identities, for the admin CLI. `Debug` masks the phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub unionid: Option<UnionId>,
    pub phone: Option<PhoneNumber>,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
    /// (appid, openid) pairs, oldest first.
    pub identities: Vec<(AppId, OpenId)>,
    pub roles: Vec<String>,
}

/// Unix seconds as RFC 3339 UTC (`1970-01-01T00:00:00Z` for out-of-range values).
pub fn rfc3339(unix: UnixSeconds) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

/// Set the profile fields that are given ($2 nickname, $3 avatar) of user $1 at $4.
const UPDATE_PROFILE_SQL: &str = "UPDATE users SET nickname = COALESCE($2, nickname), \
     avatar_url = COALESCE($3, avatar_url), updated_at = $4 WHERE id = $1";

pub(super) const USER_VIEW_COLUMNS: &str =
    "u.id, i.appid, i.openid, COALESCE(u.unionid, i.unionid) AS unionid, \
     u.phone_sealed, u.master_key_id AS phone_key_id, u.nickname, u.avatar_url, u.created_at, u.roles";

/// A user of a row with [`USER_VIEW_COLUMNS`] (its phone number opened with `store`'s
/// master keys).
pub(super) fn user_from_row(row: &Row, store: &Store) -> Result<User, StorageError> {
    Ok(User {
        id: row.try_get("id")?,
        appid: row.try_get("appid")?,
        openid: row.try_get("openid")?,
        unionid: row.try_get("unionid")?,
        phone_number: store
            .open_phone(row, "id")?
            .map(|phone| PhoneText::new(phone.phone_number)),
        nickname: row.try_get("nickname")?,
        avatar_url: row.try_get("avatar_url")?,
        created_at: row.try_get("created_at")?,
        roles: Roles::from_stored(&row.try_get::<String>("roles")?),
    })
}

impl Store {
    /// The user of identity (appid, openid), creating user and identity on first sight.
    ///
    /// Atomic across instances: concurrent first logins of one identity create exactly one
    /// user. A new identity whose `unionid` is already carried by a user is linked to that
    /// user; an existing identity that lacked a unionid gets it recorded.
    pub async fn find_or_create_user(
        &self,
        appid: &AppId,
        openid: &OpenId,
        unionid: Option<&UnionId>,
        now: UnixSeconds,
    ) -> Result<User, StorageError> {
        if let Some(user) = self.user_by_identity(appid, openid).await? {
            return self.with_unionid(user, unionid).await;
        }

        let mut transaction = self.begin().await?;
        let identity = self
            .insert_identity(&mut transaction, appid, openid, unionid, now)
            .await?;
        self.settle_identity(transaction, identity, appid, openid, unionid)
            .await
    }

    /// End the transaction of [`Store::insert_identity`] and answer the identity's user:
    /// a new user as it was written, else as the identity reads once committed (with
    /// `unionid` recorded on it).
    pub(super) async fn settle_identity(
        &self,
        transaction: Transaction,
        identity: NewIdentity,
        appid: &AppId,
        openid: &OpenId,
        unionid: Option<&UnionId>,
    ) -> Result<User, StorageError> {
        match identity {
            NewIdentity::OfNewUser(user) => {
                transaction.commit().await?;
                return Ok(user);
            }
            NewIdentity::OfExistingUser => transaction.commit().await?,
            // Another login created this identity first: drop our candidate user with it.
            NewIdentity::AlreadyThere => transaction.rollback().await?,
        }
        let user = self.user_by_identity(appid, openid).await?.ok_or_else(|| {
            StorageError::Database("identity missing right after its creation".into())
        })?;
        self.with_unionid(user, unionid).await
    }

    /// Insert identity (appid, openid) in `transaction`, under the user that carries
    /// `unionid` or else a new user (and its `user.created` event). The caller commits,
    /// or rolls back when the identity was [`NewIdentity::AlreadyThere`] (which also drops
    /// the candidate user).
    pub(super) async fn insert_identity(
        &self,
        transaction: &mut Transaction,
        appid: &AppId,
        openid: &OpenId,
        unionid: Option<&UnionId>,
        now: UnixSeconds,
    ) -> Result<NewIdentity, StorageError> {
        let candidate_id = UserId::random();
        let user_id: UserId = match unionid {
            Some(unionid) => {
                query(
                    "INSERT INTO users (id, unionid, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                     ON CONFLICT (unionid) DO NOTHING",
                )
                .bind(&candidate_id)
                .bind(unionid)
                .bind(now)
                .execute(&mut *transaction)
                .await?;
                query("SELECT id FROM users WHERE unionid = $1")
                    .bind(unionid)
                    .fetch_one(&mut *transaction)
                    .await?
                    .try_get("id")?
            }
            None => {
                query("INSERT INTO users (id, created_at, updated_at) VALUES ($1, $2, $2)")
                    .bind(&candidate_id)
                    .bind(now)
                    .execute(&mut *transaction)
                    .await?;
                candidate_id.clone()
            }
        };
        let inserted = query(
            "INSERT INTO identities (appid, openid, user_id, unionid, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (appid, openid) DO NOTHING",
        )
        .bind(appid)
        .bind(openid)
        .bind(&user_id)
        .bind(unionid)
        .bind(now)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        if inserted == 1 {
            // A unionid already carried by a user links this identity to it: not a new user.
            if user_id == candidate_id {
                record_event(
                    &mut *transaction,
                    EventType::UserCreated,
                    Some(&user_id),
                    json!({"appid": appid}),
                    now,
                )
                .await?;
                // Everything of a user just created is known: no read back (a read right
                // after a commit finds every reader's page cache reset, BENCHMARKS.md).
                return Ok(NewIdentity::OfNewUser(User {
                    id: user_id,
                    appid: appid.clone(),
                    openid: openid.clone(),
                    unionid: unionid.cloned(),
                    phone_number: None,
                    nickname: None,
                    avatar_url: None,
                    created_at: now,
                    roles: Vec::new(),
                }));
            }
            return Ok(NewIdentity::OfExistingUser);
        }
        Ok(NewIdentity::AlreadyThere)
    }

    /// `user` as it is once `unionid` (WeChat sent it with this login) is recorded on its
    /// identity: itself if it already carries it.
    pub(super) async fn with_unionid(
        &self,
        user: User,
        unionid: Option<&UnionId>,
    ) -> Result<User, StorageError> {
        match unionid {
            Some(unionid) if unionid_is_new(&user, Some(unionid)) => {
                self.record_unionid(&user.id, &user.appid, &user.openid, unionid)
                    .await?;
                self.user_by_identity(&user.appid, &user.openid)
                    .await?
                    .ok_or_else(|| {
                        StorageError::Database("identity vanished while linking its unionid".into())
                    })
            }
            _ => Ok(user),
        }
    }

    /// Note a unionid on an identity and, if the user has none and no other user carries
    /// it, on the user. (Two users that turn out to share a unionid are not merged.)
    async fn record_unionid(
        &self,
        user_id: &UserId,
        appid: &AppId,
        openid: &OpenId,
        unionid: &UnionId,
    ) -> Result<(), StorageError> {
        query("UPDATE identities SET unionid = $3 WHERE appid = $1 AND openid = $2 AND unionid IS NULL")
            .bind(appid)
            .bind(openid)
            .bind(unionid)
            .execute(self.writer())
            .await?;
        let result = query(
            "UPDATE users SET unionid = $2 WHERE id = $1 AND unionid IS NULL \
             AND NOT EXISTS (SELECT 1 FROM users AS other WHERE other.unionid = $2)",
        )
        .bind(user_id)
        .bind(unionid)
        .execute(self.writer())
        .await;
        match result {
            Ok(_) => Ok(()),
            // Another instance gave this unionid to another user in the meantime.
            Err(error) if is_unique_violation(&error) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// The user of identity (appid, openid), if known.
    pub async fn user_by_identity(
        &self,
        appid: &AppId,
        openid: &OpenId,
    ) -> Result<Option<User>, StorageError> {
        self.user_by_identity_on(self.readers(), appid, openid)
            .await
    }

    /// [`Store::user_by_identity`], read where the caller says: inside a write transaction,
    /// the writer's page cache is warm, where a reader's was just reset by the last commit.
    pub(super) async fn user_by_identity_on<'a>(
        &self,
        on: impl Into<On<'a>>,
        appid: &AppId,
        openid: &OpenId,
    ) -> Result<Option<User>, StorageError> {
        let sql = format!(
            "SELECT {USER_VIEW_COLUMNS} FROM identities i JOIN users u ON u.id = i.user_id \
             WHERE i.appid = $1 AND i.openid = $2"
        );
        let row = query(&sql)
            .bind(appid)
            .bind(openid)
            .fetch_optional(on)
            .await?;
        row.as_ref().map(|row| user_from_row(row, self)).transpose()
    }

    /// User `user_id` as seen through identity (appid, openid); `None` if that identity does
    /// not belong to that user.
    pub async fn user(
        &self,
        user_id: &UserId,
        appid: &AppId,
        openid: &OpenId,
    ) -> Result<Option<User>, StorageError> {
        Ok(self
            .user_by_identity(appid, openid)
            .await?
            .filter(|user| &user.id == user_id))
    }

    /// A user with every identity, for administration.
    pub async fn user_record(&self, user_id: &UserId) -> Result<Option<UserRecord>, StorageError> {
        let row = query(
            "SELECT id, unionid, phone_sealed, master_key_id AS phone_key_id, nickname, avatar_url, \
             created_at, updated_at, roles FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.readers())
        .await?;
        match row {
            Some(row) => Ok(Some(self.user_record_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    /// Users oldest first, `limit` of them after skipping `offset`.
    pub async fn list_users(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<UserRecord>, StorageError> {
        let rows = query(
            "SELECT id, unionid, phone_sealed, master_key_id AS phone_key_id, nickname, avatar_url, \
             created_at, updated_at, roles FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2",
        )
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(self.readers())
        .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            records.push(self.user_record_from_row(row).await?);
        }
        Ok(records)
    }

    /// How many users exist.
    pub async fn count_users(&self) -> Result<i64, StorageError> {
        Ok(query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(self.readers())
            .await?
            .try_get("n")?)
    }

    pub(super) async fn user_record_from_row(&self, row: &Row) -> Result<UserRecord, StorageError> {
        let id: UserId = row.try_get("id")?;
        let identities = query(
            "SELECT appid, openid FROM identities WHERE user_id = $1 ORDER BY created_at, appid, openid",
        )
        .bind(&id)
        .fetch_all(self.readers())
        .await?
        .iter()
        .map(|identity| Ok((identity.try_get("appid")?, identity.try_get("openid")?)))
        .collect::<Result<Vec<(AppId, OpenId)>, super::error::SqlError>>()?;
        let phone = self.open_phone(row, "id")?;
        Ok(UserRecord {
            id,
            unionid: row.try_get("unionid")?,
            phone,
            nickname: row.try_get("nickname")?,
            avatar_url: row.try_get("avatar_url")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            identities,
            roles: Roles::from_stored(&row.try_get::<String>("roles")?),
        })
    }

    /// Change the profile; `None` leaves a field as it is. False if the user does not exist.
    pub async fn update_profile(
        &self,
        user_id: &UserId,
        nickname: Option<&str>,
        avatar_url: Option<&str>,
        now: UnixSeconds,
    ) -> Result<bool, StorageError> {
        let affected = query(UPDATE_PROFILE_SQL)
            .bind(user_id)
            .bind(nickname)
            .bind(avatar_url)
            .bind(now)
            .execute(self.writer())
            .await?
            .rows_affected();
        self.changes_hold_everywhere().await;
        Ok(affected == 1)
    }

    /// Store the given profile fields and answer the user as this write left it, seen
    /// through identity (appid, openid); `None` if the user or identity is gone. The update
    /// and the read share one transaction, so a concurrent update of the same user cannot
    /// slip between them and make this answer show the other request's values.
    pub async fn update_profile_and_read(
        &self,
        user_id: &UserId,
        appid: &AppId,
        openid: &OpenId,
        nickname: Option<&str>,
        avatar_url: Option<&str>,
        now: UnixSeconds,
    ) -> Result<Option<User>, StorageError> {
        let mut transaction = self.begin().await?;
        let affected = query(UPDATE_PROFILE_SQL)
            .bind(user_id)
            .bind(nickname)
            .bind(avatar_url)
            .bind(now)
            .execute(&mut transaction)
            .await?
            .rows_affected();
        if affected != 1 {
            return Ok(None);
        }
        let fields: Vec<&str> = [("nickname", nickname), ("avatar_url", avatar_url)]
            .into_iter()
            .filter_map(|(field, value)| value.map(|_| field))
            .collect();
        record_event(
            &mut transaction,
            EventType::UserProfileUpdated,
            Some(user_id),
            json!({"appid": appid, "fields": fields}),
            now,
        )
        .await?;
        let sql = format!(
            "SELECT {USER_VIEW_COLUMNS} FROM identities i JOIN users u ON u.id = i.user_id \
             WHERE i.appid = $1 AND i.openid = $2 AND u.id = $3"
        );
        let row = query(&sql)
            .bind(appid)
            .bind(openid)
            .bind(user_id)
            .fetch_optional(&mut transaction)
            .await?;
        let user = row
            .as_ref()
            .map(|row| user_from_row(row, self))
            .transpose()?;
        transaction.commit().await?;
        self.changes_hold_everywhere().await;
        Ok(user)
    }

    /// Store the user's phone number (and its `user.phone_bound` event, which does not
    /// carry the number). False if the user does not exist.
    pub async fn set_phone_number(
        &self,
        user_id: &UserId,
        phone: &PhoneNumber,
        now: UnixSeconds,
    ) -> Result<bool, StorageError> {
        let stored = self.seal_phone(user_id, phone).await?;
        let mut transaction = self.begin().await?;
        let affected = query(
            "UPDATE users SET phone_sealed = $2, master_key_id = $3, phone_index = $4, \
             pure_phone_index = $5, phone_number = NULL, pure_phone_number = NULL, \
             country_code = NULL, updated_at = $6 WHERE id = $1",
        )
        .bind(user_id)
        .bind(stored.sealed)
        .bind(stored.key_id)
        .bind(stored.phone_index)
        .bind(stored.pure_phone_index)
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
            EventType::UserPhoneBound,
            Some(user_id),
            json!({"fields": ["phone_number"]}),
            now,
        )
        .await?;
        transaction.commit().await?;
        self.changes_hold_everywhere().await;
        Ok(true)
    }
}

/// Whether WeChat sent a unionid that `user` does not carry yet (so it must be recorded).
pub(super) fn unionid_is_new(user: &User, unionid: Option<&UnionId>) -> bool {
    unionid.is_some_and(|unionid| user.unionid.as_ref() != Some(unionid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn debug_output_hides_full_phone_numbers() {
        let user = User {
            id: UserId::new("u"),
            appid: AppId::configured("a"),
            openid: OpenId::new("o"),
            unionid: None,
            phone_number: Some("13812345678".into()),
            nickname: None,
            avatar_url: None,
            created_at: 0,
            roles: Vec::new(),
        };
        let rendered = format!("{user:?}");
        assert!(
            !rendered.contains("13812345678") && rendered.contains("138****5678"),
            "{rendered}"
        );
    }
}
