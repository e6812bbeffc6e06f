//! Admin API keys: the team's backend and operators authenticate with one. Only the key's
//! hash is stored; the name is what the audit log shows.

use super::error::is_unique_violation;
use super::sql::{query, Row};
use super::{StorageError, Store, UnixSeconds};
use crate::domain::{AdminKeyHash, AdminKeyName, AdminKeySecret, AdminScopes};

/// How often (at most) a key's `last_used_at` is written: every use would turn every admin
/// read into a write.
const LAST_USED_RESOLUTION_SECS: i64 = 60;

/// A stored key (never its text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminKeyRecord {
    pub name: String,
    pub scopes: AdminScopes,
    pub created_at: UnixSeconds,
    pub last_used_at: Option<UnixSeconds>,
}

/// Why a key could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateAdminKeyError {
    #[error("an admin key named {0} exists already; revoke it first or pick another name")]
    NameTaken(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn key_from_row(row: &Row) -> Result<AdminKeyRecord, StorageError> {
    let scopes: String = row.try_get("scopes")?;
    Ok(AdminKeyRecord {
        name: row.try_get("name")?,
        scopes: AdminScopes::parse(&scopes)
            .map_err(|error| StorageError::Corrupt(format!("admin key scopes: {error}")))?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

impl Store {
    /// Create a key; its text is returned once and never stored.
    pub async fn create_admin_key(
        &self,
        name: &AdminKeyName,
        scopes: &AdminScopes,
        now: UnixSeconds,
    ) -> Result<AdminKeySecret, CreateAdminKeyError> {
        let secret = AdminKeySecret::generate();
        let inserted = query(
            "INSERT INTO admin_keys (name, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(name.as_str())
        .bind(&secret.hash())
        .bind(scopes.to_string())
        .bind(now)
        .execute(self.writer())
        .await;
        match inserted {
            Ok(_) => Ok(secret),
            Err(error) if is_unique_violation(&error) => {
                Err(CreateAdminKeyError::NameTaken(name.to_string()))
            }
            Err(error) => Err(StorageError::from(error).into()),
        }
    }

    /// Every key, by name.
    pub async fn admin_keys(&self) -> Result<Vec<AdminKeyRecord>, StorageError> {
        query("SELECT name, scopes, created_at, last_used_at FROM admin_keys ORDER BY name")
            .fetch_all(self.readers())
            .await?
            .iter()
            .map(key_from_row)
            .collect()
    }

    /// Delete a key; it stops working at once on every instance. False if there was none.
    pub async fn revoke_admin_key(&self, name: &AdminKeyName) -> Result<bool, StorageError> {
        let done = query("DELETE FROM admin_keys WHERE name = $1")
            .bind(name.as_str())
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The key whose text hashes to `key_hash`, noting its use (at most once a minute).
    pub async fn admin_key_by_hash(
        &self,
        key_hash: &AdminKeyHash,
        now: UnixSeconds,
    ) -> Result<Option<AdminKeyRecord>, StorageError> {
        let row = query(
            "SELECT name, scopes, created_at, last_used_at FROM admin_keys WHERE key_hash = $1",
        )
        .bind(key_hash)
        .fetch_optional(self.readers())
        .await?;
        let Some(record) = row.as_ref().map(key_from_row).transpose()? else {
            return Ok(None);
        };
        let stale = record
            .last_used_at
            .is_none_or(|at| now - at >= LAST_USED_RESOLUTION_SECS);
        if stale {
            query("UPDATE admin_keys SET last_used_at = $2 WHERE key_hash = $1")
                .bind(key_hash)
                .bind(now)
                .execute(self.writer())
                .await?;
        }
        Ok(Some(record))
    }
}
