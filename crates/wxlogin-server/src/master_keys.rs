//! The master keys a store holds: one current key that seals, and previous keys that still
//! open what they sealed, so that the master key can be replaced while instances run.
//!
//! Every sealed value is stored beside the id of the key that sealed it
//! ([`MasterKey::id`]), so a reader opens with the right key at once, and `wxlogin
//! master-key rotate` finds the values still under an old key with one `WHERE` clause.
//! Values written before key ids existed (id NULL) are tried with the current key, then
//! with each previous key: AES-GCM's tag tells a wrong key apart, so trying is safe.
//!
//! The roll (docs/production.md, "Rotating the master key"): instances restart with the new
//! key as a previous key (opening only), then again with it current and the old one
//! previous; `wxlogin master-key rotate` re-seals what is still under the old key; then the
//! previous key is dropped. "Previous" means "opens, never seals", whichever key is older.

use std::fmt;
use std::io::Write;
use std::path::Path;

use zeroize::Zeroizing;

use crate::at_rest::{AtRestError, MasterKey};

/// A value just sealed, and the id of the key that sealed it (stored beside it).
pub struct Sealed {
    pub blob: Vec<u8>,
    pub key_id: String,
}

/// The current master key and the previous ones still accepted for opening.
#[derive(Clone)]
pub struct MasterKeys {
    current: MasterKey,
    current_id: String,
    previous: Vec<(String, MasterKey)>,
}

impl MasterKeys {
    /// Only `current`: what it did not seal does not open.
    pub fn new(current: MasterKey) -> Self {
        let current_id = current.id();
        MasterKeys {
            current,
            current_id,
            previous: Vec::new(),
        }
    }

    /// Also open what `previous` sealed. The current key given again is ignored.
    pub fn with_previous(mut self, previous: MasterKey) -> Self {
        let id = previous.id();
        if id != self.current_id && !self.previous.iter().any(|(known, _)| *known == id) {
            self.previous.push((id, previous));
        }
        self
    }

    /// The key every new value is sealed with.
    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    pub fn current_id(&self) -> &str {
        &self.current_id
    }

    /// The ids of the keys accepted for opening only, in the order given.
    pub fn previous_ids(&self) -> Vec<&str> {
        self.previous.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// Seal under the current key (see [`MasterKey::seal`]).
    pub fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Sealed {
        Sealed {
            blob: self.current.seal(plaintext, associated_data),
            key_id: self.current_id.clone(),
        }
    }

    /// Open a value stored with `key_id` (None: sealed before key ids were stored).
    pub fn open(
        &self,
        sealed: &[u8],
        key_id: Option<&str>,
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AtRestError> {
        let Some(key_id) = key_id else {
            return self.open_with_any(sealed, associated_data);
        };
        if key_id == self.current_id {
            return self.current.open(sealed, associated_data);
        }
        match self.previous.iter().find(|(id, _)| id == key_id) {
            Some((_, key)) => key.open(sealed, associated_data),
            None => Err(AtRestError::UnknownMasterKey {
                key_id: key_id.to_owned(),
            }),
        }
    }

    fn open_with_any(
        &self,
        sealed: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, AtRestError> {
        std::iter::once(&self.current)
            .chain(self.previous.iter().map(|(_, key)| key))
            .find_map(|key| key.open(sealed, associated_data).ok())
            .ok_or(AtRestError::OpenFailed)
    }
}

impl From<MasterKey> for MasterKeys {
    fn from(current: MasterKey) -> Self {
        MasterKeys::new(current)
    }
}

impl fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeys")
            .field("current_id", &self.current_id)
            .field("previous_ids", &self.previous_ids())
            .finish()
    }
}

/// Replace the development key file at `path` with `key`, atomically: a 0600 file beside
/// it, synced, then renamed over it, so a crash leaves either the old key or the new one.
pub fn replace_dev_key_file(path: &Path, key: &MasterKey) -> Result<(), AtRestError> {
    let file_error = |error: std::io::Error| AtRestError::KeyFile {
        path: path.to_path_buf(),
        reason: error.to_string(),
    };
    let mut temporary = path.as_os_str().to_os_string();
    temporary.push(format!(".new-{}", uuid::Uuid::new_v4().simple()));
    let temporary = std::path::PathBuf::from(temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&temporary).and_then(|mut file| {
        let mut line = key.expose_base64();
        line.push('\n');
        file.write_all(line.as_bytes())?;
        file.sync_all()
    });
    if let Err(error) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(file_error(error));
    }
    if let Some(directory) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::File::open(directory)
            .and_then(|directory| directory.sync_all())
            .map_err(file_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_keys_without_showing_them() {
        let key = MasterKey::generate();
        let id = key.id();
        assert_eq!(id.len(), 16);
        assert_eq!(id, key.clone().id(), "an id is stable");
        assert_ne!(id, MasterKey::generate().id());
        assert!(!key.expose_base64().contains(&id));
        let keys = MasterKeys::new(key).with_previous(MasterKey::generate());
        let shown = format!("{keys:?}");
        assert!(shown.contains(&id), "{shown}");
    }

    #[test]
    fn the_current_key_seals_and_previous_keys_still_open() {
        let old = MasterKey::generate();
        let new = MasterKey::generate();
        let before = MasterKeys::new(old.clone()).seal(b"secret", b"row");
        assert_eq!(before.key_id, old.id());

        let rolling = MasterKeys::new(new.clone()).with_previous(old.clone());
        let opened = rolling
            .open(&before.blob, Some(&before.key_id), b"row")
            .unwrap();
        assert_eq!(opened.as_slice(), b"secret");
        let after = rolling.seal(b"secret", b"row");
        assert_eq!(after.key_id, new.id(), "always sealed with the current key");

        let new_only = MasterKeys::new(new);
        assert!(matches!(
            new_only.open(&before.blob, Some(&before.key_id), b"row"),
            Err(AtRestError::UnknownMasterKey { key_id }) if key_id == old.id()
        ));
        assert_eq!(
            new_only
                .open(&after.blob, Some(&after.key_id), b"row")
                .unwrap()
                .as_slice(),
            b"secret"
        );
    }

    #[test]
    fn values_without_a_key_id_are_tried_with_every_key() {
        let old = MasterKey::generate();
        let new = MasterKey::generate();
        let legacy = old.seal(b"secret", b"row");
        let rolling = MasterKeys::new(new.clone()).with_previous(old);
        assert_eq!(
            rolling.open(&legacy, None, b"row").unwrap().as_slice(),
            b"secret"
        );
        assert!(matches!(
            MasterKeys::new(new).open(&legacy, None, b"row"),
            Err(AtRestError::OpenFailed)
        ));
    }

    #[test]
    fn a_wrong_key_under_a_known_id_still_fails_and_the_current_key_is_not_previous() {
        let key = MasterKey::generate();
        let keys = MasterKeys::new(key.clone()).with_previous(key.clone());
        assert!(keys.previous_ids().is_empty());
        let sealed = key.seal(b"secret", b"row");
        assert!(matches!(
            keys.open(&sealed, Some(&key.id()), b"other row"),
            Err(AtRestError::OpenFailed)
        ));
    }

    #[test]
    fn the_dev_key_file_is_replaced_whole_and_stays_0600() {
        let dir = std::env::temp_dir().join(format!("wxlogin-keyfile-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.db.master-key");
        let (old, created) = MasterKey::load_or_create_dev_file(&path).unwrap();
        assert!(created);
        let new = MasterKey::generate();
        replace_dev_key_file(&path, &new).unwrap();
        let (loaded, created) = MasterKey::load_or_create_dev_file(&path).unwrap();
        assert!(!created);
        assert_eq!(loaded.id(), new.id());
        assert_ne!(loaded.id(), old.id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left beside the key file");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
