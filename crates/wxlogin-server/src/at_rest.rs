//! Encryption at rest under the master key (AES-256-GCM).
//!
//! Every secret the server keeps in its database (session keys, upstream access tokens,
//! signing keys) is sealed with [`MasterKey::seal`]. The associated data names the row a
//! ciphertext belongs to (for example `session_key:APPID:OPENID`), so a blob copied into
//! another row no longer opens.
//!
//! The master key comes from `--master-key` / `WXLOGIN_MASTER_KEY`; for local development
//! beside a SQLite database it may instead live in a 0600 file next to the database
//! ([`resolve_master_key`] is the one rule `serve` and the admin CLI share).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

use crate::domain::DatabaseUrl;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a master key could not be loaded or a sealed value could not be opened.
/// Messages never contain key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum AtRestError {
    #[error("the master key must be standard base64 of exactly 32 bytes")]
    InvalidMasterKey,
    #[error(
        "no master key: set --master-key or WXLOGIN_MASTER_KEY (standard base64 of 32 random bytes, \
         e.g. `head -c32 /dev/urandom | base64`); a generated key file is only used beside a SQLite database"
    )]
    MasterKeyRequired,
    #[error("master key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    #[error("sealed value is malformed or was not sealed for this row under this master key")]
    OpenFailed,
    #[error(
        "sealed value is under master key id {key_id}, which is neither the current nor a previous \
         master key here (set --previous-master-key / WXLOGIN_PREVIOUS_MASTER_KEY to the key that sealed it)"
    )]
    UnknownMasterKey { key_id: String },
}

/// The 32-byte key that seals secrets at rest. Zeroed on drop; `Debug` shows nothing.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub const LEN: usize = 32;

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }

    /// A fresh random key (used for the dev key file and in tests).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        MasterKey(bytes)
    }

    /// Parse standard base64 (surrounding whitespace ignored) of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, AtRestError> {
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| AtRestError::InvalidMasterKey)?,
        );
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| AtRestError::InvalidMasterKey)?;
        Ok(MasterKey(bytes))
    }

    /// The key's public name: 16 hex digits of SHA-256 over a label and the key. Stored
    /// beside every value the key seals (see [`crate::master_keys`]); it says which key to
    /// open with and reveals nothing of the key.
    pub fn id(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(b"wxlogin master key id\0")
            .chain_update(self.0)
            .finalize();
        hex::encode(&digest[..8])
    }

    /// The key as standard base64 (what the key file and `WXLOGIN_MASTER_KEY` hold).
    pub fn expose_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(self.0))
    }

    /// Load the dev-only key file at `path`, or create it (mode 0600) with a fresh key.
    /// Returns the key and whether the file was just created, so the caller can warn.
    pub fn load_or_create_dev_file(path: &Path) -> Result<(MasterKey, bool), AtRestError> {
        let file_error = |reason: String| AtRestError::KeyFile {
            path: path.to_path_buf(),
            reason,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                refuse_if_others_can_access(path).map_err(file_error)?;
                let key = MasterKey::from_base64(&text)
                    .map_err(|_| file_error("does not hold standard base64 of 32 bytes".into()))?;
                return Ok((key, false));
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(file_error(error.to_string())),
        }
        let key = MasterKey::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                let mut line = key.expose_base64();
                line.push('\n');
                file.write_all(line.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|error| file_error(error.to_string()))?;
                Ok((key, true))
            }
            // Another process created it between our read and our create: use theirs.
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = Zeroizing::new(
                    std::fs::read_to_string(path).map_err(|error| file_error(error.to_string()))?,
                );
                let key = MasterKey::from_base64(&text)
                    .map_err(|_| file_error("does not hold standard base64 of 32 bytes".into()))?;
                Ok((key, false))
            }
            Err(error) => Err(file_error(error.to_string())),
        }
    }

    /// Encrypt `plaintext` with AES-256-GCM under a random 96-bit nonce, bound to
    /// `associated_data`. Output: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Vec<u8> {
        let cipher = Aes256Gcm::new_from_slice(&self.0).expect("AES-256 key is 32 bytes");
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: associated_data,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Decrypt what [`MasterKey::seal`] produced with the same associated data.
    pub fn open(
        &self,
        sealed: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AtRestError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(AtRestError::OpenFailed);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let cipher = Aes256Gcm::new_from_slice(&self.0).expect("AES-256 key is 32 bytes");
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated_data,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| AtRestError::OpenFailed)
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// The dev key file opens every sealed session key: one that group or others can read (or
/// write) is refused rather than used, as ssh refuses such a private key.
fn refuse_if_others_can_access(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|error| error.to_string())?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "is accessible to group or others (mode {mode:04o}); run chmod 600 on it"
            ));
        }
    }
    let _ = path;
    Ok(())
}

/// Where the master key in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `--master-key` / `WXLOGIN_MASTER_KEY`.
    Configured,
    /// The dev key file beside the SQLite database; `created` is true when it was just
    /// generated (the caller should warn that this is for development only).
    DevFile { path: PathBuf, created: bool },
    /// An in-memory SQLite database: a throw-away key that lives as long as the process.
    Ephemeral,
}

/// A master key and where it came from.
#[derive(Debug)]
pub struct ResolvedMasterKey {
    pub key: MasterKey,
    pub source: MasterKeySource,
}

/// The one rule `wxlogin serve` and the admin CLI share: a configured key wins; otherwise,
/// beside a SQLite database file, the dev key file (`<database file>.master-key`) is
/// loaded or created; an in-memory SQLite database gets a throw-away key; any other
/// database (PostgreSQL) requires a configured key.
pub fn resolve_master_key(
    configured: Option<&str>,
    database_url: &DatabaseUrl,
) -> Result<ResolvedMasterKey, AtRestError> {
    if let Some(text) = configured.filter(|text| !text.trim().is_empty()) {
        return Ok(ResolvedMasterKey {
            key: MasterKey::from_base64(text)?,
            source: MasterKeySource::Configured,
        });
    }
    if let Some(path) = database_url.dev_master_key_file() {
        let (key, created) = MasterKey::load_or_create_dev_file(&path)?;
        return Ok(ResolvedMasterKey {
            key,
            source: MasterKeySource::DevFile { path, created },
        });
    }
    match database_url {
        DatabaseUrl::SqliteMemory => Ok(ResolvedMasterKey {
            key: MasterKey::generate(),
            source: MasterKeySource::Ephemeral,
        }),
        DatabaseUrl::SqliteFile(_) | DatabaseUrl::Postgres(_) => {
            Err(AtRestError::MasterKeyRequired)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"secret bytes", b"row:1");
        assert_ne!(&sealed[NONCE_LEN..NONCE_LEN + 12], b"secret bytes");
        assert_eq!(
            key.open(&sealed, b"row:1").unwrap().as_slice(),
            b"secret bytes"
        );
    }

    #[test]
    fn open_refuses_other_row_other_key_and_tampering() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"secret bytes", b"row:1");
        assert!(matches!(
            key.open(&sealed, b"row:2"),
            Err(AtRestError::OpenFailed)
        ));
        assert!(matches!(
            MasterKey::generate().open(&sealed, b"row:1"),
            Err(AtRestError::OpenFailed)
        ));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(
            key.open(&tampered, b"row:1"),
            Err(AtRestError::OpenFailed)
        ));
        assert!(matches!(
            key.open(&sealed[..20], b"row:1"),
            Err(AtRestError::OpenFailed)
        ));
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let key = MasterKey::generate();
        assert_ne!(key.seal(b"same", b"ad"), key.seal(b"same", b"ad"));
    }

    #[test]
    fn base64_parsing_demands_32_bytes_and_debug_is_redacted() {
        let key = MasterKey::generate();
        let text = key.expose_base64();
        let parsed = MasterKey::from_base64(&format!("  {}\n", text.as_str())).unwrap();
        assert_eq!(parsed.0, key.0);
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("not base64 at all!").is_err());
        assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
    }

    #[test]
    fn dev_key_file_is_created_0600_then_reused() {
        let dir = std::env::temp_dir().join(format!("wxlogin-at-rest-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url =
            DatabaseUrl::parse(&format!("sqlite://{}", dir.join("test.db").display())).unwrap();
        let first = resolve_master_key(None, &url).unwrap();
        let path = dir.join("test.db.master-key");
        assert_eq!(
            first.source,
            MasterKeySource::DevFile {
                path: path.clone(),
                created: true
            }
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let second = resolve_master_key(None, &url).unwrap();
        assert_eq!(
            second.source,
            MasterKeySource::DevFile {
                path,
                created: false
            }
        );
        assert_eq!(first.key.0, second.key.0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn configured_key_wins_and_postgres_requires_one() {
        let url = |text: &str| DatabaseUrl::parse(text).unwrap();
        let key = MasterKey::generate();
        let resolved =
            resolve_master_key(Some(&key.expose_base64()), &url("postgres://localhost/db"))
                .unwrap();
        assert_eq!(resolved.source, MasterKeySource::Configured);
        assert!(matches!(
            resolve_master_key(None, &url("postgres://localhost/db")),
            Err(AtRestError::MasterKeyRequired)
        ));
        assert!(matches!(
            resolve_master_key(Some("bad"), &url("sqlite::memory:")),
            Err(AtRestError::InvalidMasterKey)
        ));
    }
}
