//! WeChat session keys, sealed under the master key and bound to their (appid, openid) row.

use super::sql::{query, On};
use crate::domain::{AppId, OpenId};
use wxlogin_crypto::SessionKey;

use super::{StorageError, Store, UnixSeconds};

/// The associated data that binds a sealed session key to its row (public for tools that
/// write rows directly, like the benchmark seeder).
pub fn session_key_binding(appid: &AppId, openid: &OpenId) -> Vec<u8> {
    format!("session_key:{appid}:{openid}").into_bytes()
}

impl Store {
    /// Keep the session key of identity (appid, openid), sealed. A key saved with an older
    /// `now` than the stored one does not replace it (the newest login wins).
    pub async fn save_session_key(
        &self,
        appid: &AppId,
        openid: &OpenId,
        session_key: &SessionKey,
        now: UnixSeconds,
    ) -> Result<(), StorageError> {
        self.upsert_session_key(self.writer(), appid, openid, session_key, now)
            .await
    }

    /// [`Store::save_session_key`] on a connection or in a transaction.
    pub(super) async fn upsert_session_key<'a>(
        &self,
        on: impl Into<On<'a>>,
        appid: &AppId,
        openid: &OpenId,
        session_key: &SessionKey,
        now: UnixSeconds,
    ) -> Result<(), StorageError> {
        let sealed = self.master_keys().seal(
            session_key.expose_bytes(),
            &session_key_binding(appid, openid),
        );
        query(
            "INSERT INTO session_keys (appid, openid, sealed, master_key_id, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (appid, openid) DO UPDATE SET sealed = excluded.sealed, master_key_id = excluded.master_key_id, \
             updated_at = excluded.updated_at \
             WHERE session_keys.updated_at <= excluded.updated_at",
        )
        .bind(appid)
        .bind(openid)
        .bind(sealed.blob)
        .bind(sealed.key_id)
        .bind(now)
        .execute(on)
        .await?;
        Ok(())
    }

    /// The stored session key of identity (appid, openid), if any.
    pub async fn session_key(
        &self,
        appid: &AppId,
        openid: &OpenId,
    ) -> Result<Option<SessionKey>, StorageError> {
        let row = query(
            "SELECT sealed, master_key_id FROM session_keys WHERE appid = $1 AND openid = $2",
        )
        .bind(appid)
        .bind(openid)
        .fetch_optional(self.readers())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let sealed: Vec<u8> = row.try_get("sealed")?;
        let key_id: Option<String> = row.try_get("master_key_id")?;
        let opened = self.master_keys().open(
            &sealed,
            key_id.as_deref(),
            &session_key_binding(appid, openid),
        )?;
        let bytes: [u8; SessionKey::LEN] = opened
            .as_slice()
            .try_into()
            .map_err(|_| StorageError::Corrupt("stored session key has the wrong length".into()))?;
        Ok(Some(SessionKey::from_bytes(bytes)))
    }
}
