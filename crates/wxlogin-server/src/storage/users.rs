//! Users and their per-app identities. One user per person: a WeChat identity is
//! (appid, openid); a unionid seen on a new app's identity links it to the user that
//! already carries that unionid.

use std::fmt;

use super::sql::{query, Row};
use serde::Serialize;

use serde_json::json;

use super::error::is_unique_violation;
use super::events::{record_event, EventType};
use super::{StorageError, Store, UnixSeconds};
use crate::domain::Roles;

/// The user as the HTTP contract shows it, seen through one identity (the app the
/// caller's session belongs to). `created_at` is RFC 3339. `Debug` masks the phone number.
#[derive(Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub appid: String,
    pub openid: String,
    pub unionid: Option<String>,
    pub phone_number: Option<String>,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    /// RFC 3339, e.g. `2026-11-21T23:22:26Z`.
    pub created_at: String,
    /// Given by the team's backend (`PUT /admin/v1/users/{id}/roles`); carried by the
    /// access tokens as the `roles` claim.
    pub roles: Vec<String>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("appid", &self.appid)
            .field("openid", &self.openid)
            .field("unionid", &self.unionid)
            .field(
                "phone_number",
                &self.phone_number.as_deref().map(mask_phone_number),
            )
            .field("nickname", &self.nickname)
            .field("avatar_url", &self.avatar_url)
            .field("created_at", &self.created_at)
            .field("roles", &self.roles)
            .finish()
    }
}

/// A phone number as WeChat reports it. `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    /// With country code for foreign numbers, e.g. `+1 2025550123` or `13800138000`.
    pub phone_number: String,
    /// Without country code.
    pub pure_phone_number: String,
    pub country_code: String,
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneNumber")
            .field("phone_number", &mask_phone_number(&self.phone_number))
            .field("country_code", &self.country_code)
            .finish_non_exhaustive()
    }
}

/// A user with all their identities, for the admin CLI. `Debug` masks the phone number.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub unionid: Option<String>,
    pub phone: Option<PhoneNumber>,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
    /// (appid, openid) pairs, oldest first.
    pub identities: Vec<(String, String)>,
    pub roles: Vec<String>,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("unionid", &self.unionid)
            .field("phone", &self.phone)
            .field("nickname", &self.nickname)
            .field("avatar_url", &self.avatar_url)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("identities", &self.identities)
            .field("roles", &self.roles)
            .finish()
    }
}

/// `13812345678` → `138****5678`: keeps the first three and last four digits of a number
/// long enough to hide something, else masks everything but the last two characters.
pub fn mask_phone_number(number: &str) -> String {
    let characters: Vec<char> = number.chars().collect();
    let count = characters.len();
    if count >= 11 {
        let head: String = characters[..count - 8].iter().collect();
        let tail: String = characters[count - 4..].iter().collect();
        format!("{head}****{tail}")
    } else if count > 2 {
        let tail: String = characters[count - 2..].iter().collect();
        format!("{}{tail}", "*".repeat(count - 2))
    } else {
        "*".repeat(count)
    }
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
        phone_number: store.open_phone(row, "id")?.map(|phone| phone.phone_number),
        nickname: row.try_get("nickname")?,
        avatar_url: row.try_get("avatar_url")?,
        created_at: rfc3339(row.try_get("created_at")?),
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
        appid: &str,
        openid: &str,
        unionid: Option<&str>,
        now: UnixSeconds,
    ) -> Result<User, StorageError> {
        if let Some(user) = self.user_by_identity(appid, openid).await? {
            return match unionid {
                Some(unionid) if user.unionid.as_deref() != Some(unionid) => {
                    self.record_unionid(&user.id, appid, openid, unionid)
                        .await?;
                    self.user_by_identity(appid, openid).await?.ok_or_else(|| {
                        StorageError::Database("identity vanished while linking its unionid".into())
                    })
                }
                _ => Ok(user),
            };
        }

        let mut transaction = self.begin().await?;
        let candidate_id = uuid::Uuid::new_v4().to_string();
        let user_id: String = match unionid {
            Some(unionid) => {
                query(
                    "INSERT INTO users (id, unionid, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                     ON CONFLICT (unionid) DO NOTHING",
                )
                .bind(&candidate_id)
                .bind(unionid)
                .bind(now)
                .execute(&mut transaction)
                .await?;
                query("SELECT id FROM users WHERE unionid = $1")
                    .bind(unionid)
                    .fetch_one(&mut transaction)
                    .await?
                    .try_get("id")?
            }
            None => {
                query("INSERT INTO users (id, created_at, updated_at) VALUES ($1, $2, $2)")
                    .bind(&candidate_id)
                    .bind(now)
                    .execute(&mut transaction)
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
        .execute(&mut transaction)
        .await?
        .rows_affected();
        if inserted == 1 {
            // A unionid already carried by a user links this identity to it: not a new user.
            if user_id == candidate_id {
                record_event(
                    &mut transaction,
                    EventType::UserCreated,
                    Some(&user_id),
                    json!({"appid": appid}),
                    now,
                )
                .await?;
                transaction.commit().await?;
                // Everything of a user just created is known: no read back (a read right
                // after a commit finds every reader's page cache reset, BENCHMARKS.md).
                return Ok(User {
                    id: user_id,
                    appid: appid.to_owned(),
                    openid: openid.to_owned(),
                    unionid: unionid.map(str::to_owned),
                    phone_number: None,
                    nickname: None,
                    avatar_url: None,
                    created_at: rfc3339(now),
                    roles: Vec::new(),
                });
            }
            transaction.commit().await?;
        } else {
            // Another login created this identity first: drop our candidate user with it.
            transaction.rollback().await?;
        }
        let user = self.user_by_identity(appid, openid).await?.ok_or_else(|| {
            StorageError::Database("identity missing right after its creation".into())
        })?;
        match unionid {
            Some(unionid) if user.unionid.as_deref() != Some(unionid) => {
                self.record_unionid(&user.id, appid, openid, unionid)
                    .await?;
                self.user_by_identity(appid, openid).await?.ok_or_else(|| {
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
        user_id: &str,
        appid: &str,
        openid: &str,
        unionid: &str,
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
        appid: &str,
        openid: &str,
    ) -> Result<Option<User>, StorageError> {
        let sql = format!(
            "SELECT {USER_VIEW_COLUMNS} FROM identities i JOIN users u ON u.id = i.user_id \
             WHERE i.appid = $1 AND i.openid = $2"
        );
        let row = query(&sql)
            .bind(appid)
            .bind(openid)
            .fetch_optional(self.readers())
            .await?;
        row.as_ref().map(|row| user_from_row(row, self)).transpose()
    }

    /// User `user_id` as seen through identity (appid, openid); `None` if that identity does
    /// not belong to that user.
    pub async fn user(
        &self,
        user_id: &str,
        appid: &str,
        openid: &str,
    ) -> Result<Option<User>, StorageError> {
        Ok(self
            .user_by_identity(appid, openid)
            .await?
            .filter(|user| user.id == user_id))
    }

    /// A user with every identity, for administration.
    pub async fn user_record(&self, user_id: &str) -> Result<Option<UserRecord>, StorageError> {
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
        let id: String = row.try_get("id")?;
        let identities = query(
            "SELECT appid, openid FROM identities WHERE user_id = $1 ORDER BY created_at, appid, openid",
        )
        .bind(&id)
        .fetch_all(self.readers())
        .await?
        .iter()
        .map(|identity| Ok((identity.try_get("appid")?, identity.try_get("openid")?)))
        .collect::<Result<Vec<(String, String)>, super::error::SqlError>>()?;
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
        user_id: &str,
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
        Ok(affected == 1)
    }

    /// Store the given profile fields and answer the user as this write left it, seen
    /// through identity (appid, openid); `None` if the user or identity is gone. The update
    /// and the read share one transaction, so a concurrent update of the same user cannot
    /// slip between them and make this answer show the other request's values.
    pub async fn update_profile_and_read(
        &self,
        user_id: &str,
        appid: &str,
        openid: &str,
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
        Ok(user)
    }

    /// Store the user's phone number (and its `user.phone_bound` event, which does not
    /// carry the number). False if the user does not exist.
    pub async fn set_phone_number(
        &self,
        user_id: &str,
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
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_masked() {
        assert_eq!(mask_phone_number("13812345678"), "138****5678");
        assert_eq!(mask_phone_number("+8613812345678"), "+86138****5678");
        assert_eq!(mask_phone_number("12345"), "***45");
        assert_eq!(mask_phone_number("1"), "*");
    }

    #[test]
    fn timestamps_render_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn debug_output_hides_full_phone_numbers() {
        let phone = PhoneNumber {
            phone_number: "13812345678".into(),
            pure_phone_number: "13812345678".into(),
            country_code: "86".into(),
        };
        let rendered = format!("{phone:?}");
        assert!(!rendered.contains("13812345678"), "{rendered}");
        let user = User {
            id: "u".into(),
            appid: "a".into(),
            openid: "o".into(),
            unionid: None,
            phone_number: Some("13812345678".into()),
            nickname: None,
            avatar_url: None,
            created_at: rfc3339(0),
            roles: Vec::new(),
        };
        let rendered = format!("{user:?}");
        assert!(
            !rendered.contains("13812345678") && rendered.contains("138****5678"),
            "{rendered}"
        );
    }
}
