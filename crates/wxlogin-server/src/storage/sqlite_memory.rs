//! An in-memory SQLite database (`sqlite::memory:`): one rusqlite connection for reading and
//! writing alike.
//!
//! Every connection to `:memory:` is a database of its own, empty, so there is exactly one,
//! and every statement and transaction waits its turn for it in a fair async queue (as
//! writes to a SQLite file wait for its one writer, `sqlite.rs`). There are no files to
//! watch and nothing to checkpoint; the data is gone with the process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::OwnedMutexGuard;

use super::error::SqlError;
use super::sqlite::STATEMENT_CACHE_CAPACITY;
use super::StoreOptions;

pub(crate) struct SqliteMemory {
    connection: Arc<tokio::sync::Mutex<Connection>>,
    acquire_timeout: Duration,
    /// Set by [`SqliteMemory::close`]: the connection is lent to no one after.
    closed: AtomicBool,
}

impl SqliteMemory {
    pub(crate) fn open(options: &StoreOptions) -> Result<SqliteMemory, SqlError> {
        let connection = Connection::open_in_memory()?;
        connection.busy_timeout(options.sqlite_busy_timeout)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        connection.pragma_update(None, "foreign_keys", "ON")?;
        // As on a file: deleted content is zeroed, not left in free pages.
        connection.pragma_update(None, "secure_delete", "ON")?;
        Ok(SqliteMemory {
            connection: Arc::new(tokio::sync::Mutex::new(connection)),
            acquire_timeout: options.acquire_timeout,
            closed: AtomicBool::new(false),
        })
    }

    /// The connection, once every earlier caller is done with it.
    pub(crate) async fn connection(&self) -> Result<OwnedMutexGuard<Connection>, SqlError> {
        let connection =
            tokio::time::timeout(self.acquire_timeout, self.connection.clone().lock_owned())
                .await
                .map_err(|_| SqlError::TimedOut)?;
        if self.closed.load(Ordering::Acquire) {
            return Err(SqlError::Unavailable("connection pool closed".into()));
        }
        Ok(connection)
    }

    /// Refuse every later statement, once the one running (if any) is done, as a closed
    /// pool does.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        drop(self.connection.lock().await);
    }
}
