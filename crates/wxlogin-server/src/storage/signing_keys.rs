//! Signing keys for access tokens (ES256 or EdDSA): the 32-byte secret sealed, the public
//! key and the algorithm clear.

use std::fmt;

use super::sql::query;
use zeroize::Zeroizing;

use super::{StorageError, Store, UnixSeconds};

/// A key to store.
pub struct NewSigningKey {
    pub kid: String,
    /// `ES256` or `EdDSA`.
    pub algorithm: &'static str,
    /// The P-256 scalar or Ed25519 seed. Sealed before it is written.
    pub secret_key: Zeroizing<[u8; 32]>,
    pub public_key: Vec<u8>,
    pub created_at: UnixSeconds,
}

/// A stored key, opened.
#[derive(Clone)]
pub struct StoredSigningKey {
    pub kid: String,
    pub algorithm: String,
    pub secret_key: Zeroizing<[u8; 32]>,
    pub public_key: Vec<u8>,
    pub created_at: UnixSeconds,
    pub retired_at: Option<UnixSeconds>,
}

impl fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

pub(super) fn signing_key_binding(kid: &str) -> Vec<u8> {
    format!("signing_key:{kid}").into_bytes()
}

impl Store {
    /// Store a new signing key.
    pub async fn insert_signing_key(&self, key: &NewSigningKey) -> Result<(), StorageError> {
        let sealed = self
            .master_keys()
            .seal(key.secret_key.as_slice(), &signing_key_binding(&key.kid));
        query(
            "INSERT INTO signing_keys (kid, sealed_private, master_key_id, public_key, created_at, alg) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.kid)
        .bind(sealed.blob)
        .bind(sealed.key_id)
        .bind(key.public_key.as_slice())
        .bind(key.created_at)
        .bind(key.algorithm)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Every signing key, oldest first (ties broken by kid, so every instance orders alike).
    pub async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StorageError> {
        let rows = query(
            "SELECT kid, sealed_private, master_key_id, public_key, created_at, retired_at, alg \
             FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(self.readers())
        .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let kid: String = row.try_get("kid")?;
            let sealed: Vec<u8> = row.try_get("sealed_private")?;
            let key_id: Option<String> = row.try_get("master_key_id")?;
            let opened =
                self.master_keys()
                    .open(&sealed, key_id.as_deref(), &signing_key_binding(&kid))?;
            let mut secret_key = Zeroizing::new([0u8; 32]);
            if opened.len() != 32 {
                return Err(StorageError::Corrupt(format!(
                    "signing key {kid} has a secret of the wrong length"
                )));
            }
            secret_key.copy_from_slice(&opened);
            let public_key: Vec<u8> = row.try_get("public_key")?;
            keys.push(StoredSigningKey {
                kid,
                algorithm: row.try_get("alg")?,
                secret_key,
                public_key,
                created_at: row.try_get("created_at")?,
                retired_at: row.try_get("retired_at")?,
            });
        }
        Ok(keys)
    }

    /// Retire (as of `now`) every unretired key but the newest in the (created_at, kid)
    /// order; already retired keys keep their date. Called after every insert, so however
    /// inserts on several instances interleave, exactly one key is left current.
    /// Returns how many keys were newly retired.
    pub async fn retire_signing_keys_except_newest(
        &self,
        now: UnixSeconds,
    ) -> Result<u64, StorageError> {
        Ok(query(
            "UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL AND kid <> \
             (SELECT newest.kid FROM signing_keys AS newest ORDER BY newest.created_at DESC, newest.kid DESC LIMIT 1)",
        )
        .bind(now)
        .execute(self.writer())
        .await?
        .rows_affected())
    }
}
