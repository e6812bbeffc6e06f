//! Serialises schema migrations on a SQLite file across processes, as PostgreSQL's
//! advisory lock does there (SQLite has no such lock: two `wxlogin migrate`, or servers
//! starting together, would both see a migration missing and both apply it).
//!
//! The lock is `flock` on `<database file>.migrate-lock`, created 0600 beside it: it is
//! released by the kernel when the holder exits, however it exits, so a crashed migration
//! never leaves the next one waiting. The database file itself is never locked this way:
//! SQLite's own POSIX locks live on it, and any descriptor of it closed by us would drop
//! them.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::StorageError;
use crate::domain::path_beside;

/// How often a waiting migration tries the lock again.
const RETRY_INTERVAL: Duration = Duration::from_millis(20);

/// Held while migrating; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct MigrationLock {
    _file: File,
}

impl MigrationLock {
    /// The lock file's path for a database file.
    pub(crate) fn path_for(database: &Path) -> PathBuf {
        path_beside(database, ".migrate-lock")
    }

    /// Wait for the lock (as long as another migration holds it).
    pub(crate) async fn acquire(database: &Path) -> Result<MigrationLock, StorageError> {
        let path = Self::path_for(database);
        let failed = |error: std::io::Error| {
            StorageError::Migration(format!("cannot lock {}: {error}", path.display()))
        };
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(failed)?;
        // Polled instead of blocking a thread in flock(2): a caller that gives up (a
        // timeout, Ctrl-C) stops waiting at once.
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(MigrationLock { _file: file }),
                Err(TryLockError::WouldBlock) => tokio::time::sleep(RETRY_INTERVAL).await,
                Err(TryLockError::Error(error)) => return Err(failed(error)),
            }
        }
    }
}
