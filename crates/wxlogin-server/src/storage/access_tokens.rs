//! The upstream (WeChat) access-token cache shared by every instance: tokens sealed at
//! rest, and a refresh lease taken with one conditional UPDATE so that N instances make
//! one upstream refresh.

use std::fmt;
use std::time::Duration;

use super::sql::query;
use crate::domain::AppId;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{StorageError, Store};

/// A cached upstream access token. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub struct CachedAccessToken {
    pub token: Zeroizing<String>,
    pub expires_at_unix: i64,
}

impl fmt::Debug for CachedAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedAccessToken")
            .field("token", &"<redacted>")
            .field("expires_at_unix", &self.expires_at_unix)
            .finish()
    }
}

pub(super) fn access_token_binding(appid: &AppId) -> Vec<u8> {
    format!("access_token:{appid}").into_bytes()
}

/// The current unix time in milliseconds.
fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// The cached token of `appid`, if any.
    pub async fn load_access_token(
        &self,
        appid: &AppId,
    ) -> Result<Option<CachedAccessToken>, StorageError> {
        let row = query(
            "SELECT sealed_token, master_key_id, expires_at FROM access_tokens WHERE appid = $1",
        )
        .bind(appid)
        .fetch_optional(self.readers())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let sealed: Option<Vec<u8>> = row.try_get("sealed_token")?;
        let key_id: Option<String> = row.try_get("master_key_id")?;
        let expires_at: Option<i64> = row.try_get("expires_at")?;
        let (Some(sealed), Some(expires_at_unix)) = (sealed, expires_at) else {
            return Ok(None);
        };
        let opened =
            self.master_keys()
                .open(&sealed, key_id.as_deref(), &access_token_binding(appid))?;
        let token = String::from_utf8(opened.to_vec())
            .map_err(|_| StorageError::Corrupt("stored access token is not UTF-8".into()))?;
        Ok(Some(CachedAccessToken {
            token: Zeroizing::new(token),
            expires_at_unix,
        }))
    }

    /// Cache `token` for `appid` (replacing any), keeping the lease as it is.
    pub async fn save_access_token(
        &self,
        appid: &AppId,
        token: &CachedAccessToken,
    ) -> Result<(), StorageError> {
        let sealed = self
            .master_keys()
            .seal(token.token.as_bytes(), &access_token_binding(appid));
        query(
            "INSERT INTO access_tokens (appid, sealed_token, master_key_id, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (appid) DO UPDATE SET sealed_token = excluded.sealed_token, \
             master_key_id = excluded.master_key_id, expires_at = excluded.expires_at",
        )
        .bind(appid)
        .bind(sealed.blob)
        .bind(sealed.key_id)
        .bind(token.expires_at_unix)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Drop the cached token of `appid` only if it is still `failed_token` (a token another
    /// instance already replaced is kept).
    pub async fn invalidate_access_token_if_current(
        &self,
        appid: &AppId,
        failed_token: &str,
    ) -> Result<(), StorageError> {
        let row = query("SELECT sealed_token, master_key_id FROM access_tokens WHERE appid = $1")
            .bind(appid)
            .fetch_optional(self.readers())
            .await?;
        let Some(row) = row else {
            return Ok(());
        };
        let Some(sealed) = row.try_get::<Option<Vec<u8>>>("sealed_token")? else {
            return Ok(());
        };
        let key_id: Option<String> = row.try_get("master_key_id")?;
        let opened =
            self.master_keys()
                .open(&sealed, key_id.as_deref(), &access_token_binding(appid))?;
        if !bool::from(opened.as_slice().ct_eq(failed_token.as_bytes())) {
            return Ok(());
        }
        // Compare-and-clear on the exact ciphertext we read: a concurrent save wins.
        query(
            "UPDATE access_tokens SET sealed_token = NULL, expires_at = NULL WHERE appid = $1 AND sealed_token = $2",
        )
        .bind(appid)
        .bind(sealed)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Take the refresh lease of `appid` for `ttl` if it is free, expired, or already ours.
    /// One conditional UPDATE, so across all instances at most one holder at a time.
    pub async fn try_acquire_refresh_lease(
        &self,
        appid: &AppId,
        holder: &str,
        ttl: Duration,
        now_ms: i64,
    ) -> Result<bool, StorageError> {
        query("INSERT INTO access_tokens (appid) VALUES ($1) ON CONFLICT (appid) DO NOTHING")
            .bind(appid)
            .execute(self.writer())
            .await?;
        let until = now_ms.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2));
        let taken = query(
            "UPDATE access_tokens SET lease_holder = $2, lease_until_ms = $3 WHERE appid = $1 \
             AND (lease_holder IS NULL OR lease_until_ms IS NULL OR lease_until_ms <= $4 OR lease_holder = $2)",
        )
        .bind(appid)
        .bind(holder)
        .bind(until)
        .bind(now_ms)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    /// Count a `force_refresh` of `appid` (WeChat's limits are per AppID, so every
    /// instance counts in this one row): allowed when the last one is at least
    /// `min_spacing_secs` old and fewer than `daily_limit` were made in `day`.
    pub async fn reserve_force_refresh(
        &self,
        appid: &AppId,
        day: i64,
        now_secs: i64,
        min_spacing_secs: i64,
        daily_limit: i64,
    ) -> Result<bool, StorageError> {
        query("INSERT INTO access_tokens (appid) VALUES ($1) ON CONFLICT (appid) DO NOTHING")
            .bind(appid)
            .execute(self.writer())
            .await?;
        let reserved = query(
            "UPDATE access_tokens SET \
             force_count = CASE WHEN force_day = $2 THEN force_count + 1 ELSE 1 END, \
             force_day = $2, force_last_at = $3 \
             WHERE appid = $1 AND (force_last_at IS NULL OR force_last_at <= $4) \
             AND (force_day IS NULL OR force_day <> $2 OR force_count < $5)",
        )
        .bind(appid)
        .bind(day)
        .bind(now_secs)
        .bind(now_secs.saturating_sub(min_spacing_secs))
        .bind(daily_limit)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(reserved == 1)
    }

    /// Give the lease back if `holder` still holds it.
    pub async fn release_refresh_lease(
        &self,
        appid: &AppId,
        holder: &str,
    ) -> Result<(), StorageError> {
        query(
            "UPDATE access_tokens SET lease_holder = NULL, lease_until_ms = NULL WHERE appid = $1 AND lease_holder = $2",
        )
        .bind(appid)
        .bind(holder)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}

/// [`Store`] as the WeChat client's shared access-token store (wall-clock leases).
#[derive(Clone, Debug)]
pub struct DatabaseAccessTokenStore {
    store: Store,
}

impl DatabaseAccessTokenStore {
    pub fn new(store: Store) -> Self {
        DatabaseAccessTokenStore { store }
    }
}

fn client_error(error: StorageError) -> wxlogin_client::StoreError {
    wxlogin_client::StoreError(error.to_string())
}

#[async_trait::async_trait]
// The WeChat client names apps by their configured appid text.
impl wxlogin_client::AccessTokenStore for DatabaseAccessTokenStore {
    async fn load(
        &self,
        appid: &str,
    ) -> Result<Option<wxlogin_client::StoredAccessToken>, wxlogin_client::StoreError> {
        Ok(self
            .store
            .load_access_token(&AppId::configured(appid))
            .await
            .map_err(client_error)?
            .map(|cached| wxlogin_client::StoredAccessToken {
                token: cached.token.to_string(),
                expires_at_unix: cached.expires_at_unix,
            }))
    }

    async fn save(
        &self,
        appid: &str,
        token: &wxlogin_client::StoredAccessToken,
    ) -> Result<(), wxlogin_client::StoreError> {
        let cached = CachedAccessToken {
            token: Zeroizing::new(token.token.clone()),
            expires_at_unix: token.expires_at_unix,
        };
        self.store
            .save_access_token(&AppId::configured(appid), &cached)
            .await
            .map_err(client_error)
    }

    async fn invalidate_if_current(
        &self,
        appid: &str,
        failed_token: &str,
    ) -> Result<(), wxlogin_client::StoreError> {
        self.store
            .invalidate_access_token_if_current(&AppId::configured(appid), failed_token)
            .await
            .map_err(client_error)
    }

    async fn try_acquire_refresh_lease(
        &self,
        appid: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, wxlogin_client::StoreError> {
        self.store
            .try_acquire_refresh_lease(&AppId::configured(appid), holder, ttl, unix_now_ms())
            .await
            .map_err(client_error)
    }

    async fn release_refresh_lease(
        &self,
        appid: &str,
        holder: &str,
    ) -> Result<(), wxlogin_client::StoreError> {
        self.store
            .release_refresh_lease(&AppId::configured(appid), holder)
            .await
            .map_err(client_error)
    }

    async fn reserve_force_refresh(
        &self,
        appid: &str,
        day: i64,
        now_secs: i64,
        min_spacing_secs: i64,
        daily_limit: i64,
    ) -> Result<bool, wxlogin_client::StoreError> {
        self.store
            .reserve_force_refresh(
                &AppId::configured(appid),
                day,
                now_secs,
                min_spacing_secs,
                daily_limit,
            )
            .await
            .map_err(client_error)
    }
}
