//! Phone numbers sealed at rest. A user's number (with its pure form and country code) is
//! one value sealed under the master key and bound to the user's row, like session keys;
//! the admin search by full number goes through keyed blind indexes: HMAC-SHA256 under a
//! key of its own, generated once, kept sealed in `server_secrets` (so a master-key roll
//! re-seals it and the indexes stay valid). Rows written before sealing existed are
//! sealed by [`Store::seal_clear_phone_numbers`] when the schema is migrated.

use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::sql::{query, Row};
use super::{StorageError, Store};
use crate::domain::{PhoneNumber, UserId};

const INDEX_KEY_NAME: &str = "phone_index_key";

/// The associated data that binds a sealed phone number to its user.
pub(crate) fn phone_binding(user_id: &UserId) -> Vec<u8> {
    format!("user_phone:{user_id}").into_bytes()
}

/// The associated data of a server secret.
pub(crate) fn server_secret_binding(name: &str) -> Vec<u8> {
    format!("server_secret:{name}").into_bytes()
}

/// What is sealed.
#[derive(Serialize, Deserialize)]
struct SealedPhone {
    phone_number: String,
    pure_phone_number: String,
    country_code: String,
}

/// A phone number as stored: the sealed value, its master key id and both indexes.
pub(super) struct StoredPhone {
    pub(super) sealed: Vec<u8>,
    pub(super) key_id: String,
    pub(super) phone_index: String,
    pub(super) pure_phone_index: String,
}

impl Store {
    /// The key of the blind indexes: read (or, on the very first use, created) once per
    /// process. Instances racing to create it agree on the first one written.
    async fn phone_index_key(&self) -> Result<&Zeroizing<[u8; 32]>, StorageError> {
        self.phone_index_key
            .get_or_try_init(|| async {
                if let Some(key) = self.read_index_key().await? {
                    return Ok(key);
                }
                let mut fresh = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng.fill_bytes(fresh.as_mut());
                let sealed = self
                    .master_keys()
                    .seal(fresh.as_ref(), &server_secret_binding(INDEX_KEY_NAME));
                query(
                    "INSERT INTO server_secrets (name, sealed_value, master_key_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(INDEX_KEY_NAME)
                .bind(sealed.blob)
                .bind(sealed.key_id)
                .execute(self.writer())
                .await?;
                self.read_index_key().await?.ok_or_else(|| {
                    StorageError::Database("the phone index key vanished after its creation".into())
                })
            })
            .await
    }

    async fn read_index_key(&self) -> Result<Option<Zeroizing<[u8; 32]>>, StorageError> {
        let row = query("SELECT sealed_value, master_key_id FROM server_secrets WHERE name = $1")
            .bind(INDEX_KEY_NAME)
            .fetch_optional(self.writer())
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let sealed: Vec<u8> = row.try_get("sealed_value")?;
        let key_id: Option<String> = row.try_get("master_key_id")?;
        let opened = self.master_keys().open(
            &sealed,
            key_id.as_deref(),
            &server_secret_binding(INDEX_KEY_NAME),
        )?;
        let mut key = Zeroizing::new([0u8; 32]);
        if opened.len() != key.len() {
            return Err(StorageError::Corrupt(
                "the phone index key has the wrong length".into(),
            ));
        }
        key.copy_from_slice(&opened);
        Ok(Some(key))
    }

    /// The blind index of a full phone number (as given: `13812345678` or
    /// `+1 2025550123`, whitespace ignored).
    pub(super) async fn phone_index(&self, number: &str) -> Result<String, StorageError> {
        let key = self.phone_index_key().await?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_ref())
            .map_err(|_| StorageError::Corrupt("phone index key".into()))?;
        let normalized: String = number.chars().filter(|c| !c.is_whitespace()).collect();
        mac.update(normalized.as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    /// Seal `phone` for user `user_id`, with its indexes.
    pub(super) async fn seal_phone(
        &self,
        user_id: &UserId,
        phone: &PhoneNumber,
    ) -> Result<StoredPhone, StorageError> {
        let plain = Zeroizing::new(
            serde_json::to_vec(&SealedPhone {
                phone_number: phone.phone_number.clone(),
                pure_phone_number: phone.pure_phone_number.clone(),
                country_code: phone.country_code.clone(),
            })
            .map_err(|error| StorageError::Corrupt(error.to_string()))?,
        );
        let sealed = self.master_keys().seal(&plain, &phone_binding(user_id));
        Ok(StoredPhone {
            sealed: sealed.blob,
            key_id: sealed.key_id,
            phone_index: self.phone_index(&phone.phone_number).await?,
            pure_phone_index: self.phone_index(&phone.pure_phone_number).await?,
        })
    }

    /// The phone number of a row holding `phone_sealed` and `phone_key_id` (the user's id
    /// in `id_column`), if it has one.
    pub(super) fn open_phone(
        &self,
        row: &Row,
        id_column: &str,
    ) -> Result<Option<PhoneNumber>, StorageError> {
        let sealed: Option<Vec<u8>> = row.try_get("phone_sealed")?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let user_id: UserId = row.try_get(id_column)?;
        let key_id: Option<String> = row.try_get("phone_key_id")?;
        let opened =
            self.master_keys()
                .open(&sealed, key_id.as_deref(), &phone_binding(&user_id))?;
        let phone: SealedPhone = serde_json::from_slice(&opened)
            .map_err(|_| StorageError::Corrupt("a sealed phone number is not readable".into()))?;
        Ok(Some(PhoneNumber {
            phone_number: phone.phone_number,
            pure_phone_number: phone.pure_phone_number,
            country_code: phone.country_code,
        }))
    }

    /// Seal every phone number still stored in clear (rows from before sealing) and clear
    /// the plain columns; returns how many. Idempotent, and safe while instances run: a row
    /// is only changed while it still holds the number that was read.
    pub async fn seal_clear_phone_numbers(&self) -> Result<u64, StorageError> {
        let mut sealed_rows = 0;
        loop {
            let rows = query(
                "SELECT id, phone_number, pure_phone_number, country_code FROM users \
                 WHERE phone_number IS NOT NULL ORDER BY id LIMIT 500",
            )
            .fetch_all(self.writer())
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let id: UserId = row.try_get("id")?;
                let phone_number: String = row.try_get("phone_number")?;
                let phone = PhoneNumber {
                    pure_phone_number: row
                        .try_get::<Option<String>>("pure_phone_number")?
                        .unwrap_or_else(|| phone_number.clone()),
                    country_code: row
                        .try_get::<Option<String>>("country_code")?
                        .unwrap_or_default(),
                    phone_number: phone_number.clone(),
                };
                let stored = self.seal_phone(&id, &phone).await?;
                query(
                    "UPDATE users SET phone_sealed = $2, master_key_id = $3, phone_index = $4, \
                     pure_phone_index = $5, phone_number = NULL, pure_phone_number = NULL, \
                     country_code = NULL WHERE id = $1 AND phone_number = $6",
                )
                .bind(&id)
                .bind(stored.sealed)
                .bind(stored.key_id)
                .bind(stored.phone_index)
                .bind(stored.pure_phone_index)
                .bind(&phone_number)
                .execute(self.writer())
                .await?;
                sealed_rows += 1;
            }
        }
        Ok(sealed_rows)
    }
}
