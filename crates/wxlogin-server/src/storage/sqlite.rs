//! The connections to a SQLite file: one writer, and readers opened as needed.
//!
//! Statements run in the calling task (see `sql.rs` for why). SQLite admits one writer at a
//! time; with several writing connections the losers of each race sleep in SQLite's busy
//! handler (1, 2, 5 … 100 ms between tries), so every write and every transaction here
//! waits its turn for the one writer in a fair async queue instead. Readers never wait for
//! the writer (WAL mode) and are `query_only`, so a write sent to them fails loudly.
//!
//! Copying the WAL back into the database file (a checkpoint, with an fsync) happens on a
//! thread of its own twice a second instead of inside whichever commit crosses SQLite's
//! 1,000-page mark: it was an eighth of a login's CPU, and it blocked the writer and the
//! task holding it while it ran.
//!
//! Running statements in the task means a write held up by another process's lock (an
//! admin command) blocks one runtime thread for up to the busy timeout. Only the writer can
//! meet that lock, and there is one, so the other runtime threads keep serving.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use super::sql::SqlError;
use super::StoreOptions;

/// Prepared statements kept per connection: more than the store has distinct statements.
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// How often the checkpointer copies committed pages from the WAL into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

pub(crate) struct SqliteConnections {
    path: PathBuf,
    /// The same file as a sqlx URL: migrations are run by sqlx.
    migration_url: String,
    busy_timeout: Duration,
    acquire_timeout: Duration,
    writer: Arc<tokio::sync::Mutex<Connection>>,
    idle_readers: Mutex<Vec<Connection>>,
    reader_permits: Arc<Semaphore>,
    closed: AtomicBool,
}

impl SqliteConnections {
    /// Open (creating the file if missing), switch it to WAL mode and start the
    /// checkpointer, which stops once every handle is dropped or closed.
    pub(crate) fn open(
        path: &Path,
        migration_url: String,
        options: &StoreOptions,
    ) -> Result<Arc<Self>, SqlError> {
        let writer = open_connection(path, options.sqlite_busy_timeout, false)?;
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = open_connection(path, options.sqlite_busy_timeout, false)?;
        let connections = Arc::new(SqliteConnections {
            path: path.to_path_buf(),
            migration_url,
            busy_timeout: options.sqlite_busy_timeout,
            acquire_timeout: options.acquire_timeout,
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            idle_readers: Mutex::new(Vec::new()),
            reader_permits: Arc::new(Semaphore::new(options.max_connections.max(1) as usize)),
            closed: AtomicBool::new(false),
        });
        let handle = Arc::downgrade(&connections);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run_checkpointer(checkpointer, handle))
            .map_err(SqlError::Thread)?;
        Ok(connections)
    }

    pub(crate) fn migration_url(&self) -> &str {
        &self.migration_url
    }

    /// The writer, once every earlier caller is done with it.
    pub(crate) async fn writer(&self) -> Result<OwnedMutexGuard<Connection>, SqlError> {
        tokio::time::timeout(self.acquire_timeout, self.writer.clone().lock_owned())
            .await
            .map_err(|_| SqlError::TimedOut)
    }

    /// An idle reader, or a new one while fewer than `max_connections` are open.
    pub(crate) async fn reader(self: &Arc<Self>) -> Result<ReaderGuard, SqlError> {
        let permit = tokio::time::timeout(
            self.acquire_timeout,
            self.reader_permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| SqlError::TimedOut)?
        .map_err(|_| SqlError::TimedOut)?;
        let idle = self
            .idle_readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let connection = match idle {
            Some(connection) => connection,
            None => open_connection(&self.path, self.busy_timeout, true)?,
        };
        Ok(ReaderGuard {
            connection: Some(connection),
            home: self.clone(),
            _permit: permit,
        })
    }

    /// Close the readers and stop the checkpointer; the writer closes with the last handle.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.idle_readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
        self.reader_permits.close();
    }
}

fn run_checkpointer(connection: Connection, connections: Weak<SqliteConnections>) {
    loop {
        std::thread::sleep(CHECKPOINT_INTERVAL);
        let running = connections
            .upgrade()
            .is_some_and(|connections| !connections.closed.load(Ordering::Acquire));
        if !running {
            return;
        }
        // PASSIVE: copy what no reader still needs, never wait for readers or the writer.
        if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "SQLite checkpoint failed; retrying");
        }
    }
}

fn open_connection(
    path: &Path,
    busy_timeout: Duration,
    read_only: bool,
) -> Result<Connection, SqlError> {
    // Each connection is used by one task at a time: SQLite's own mutexes are not needed.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(busy_timeout)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.pragma_update(None, "query_only", read_only)?;
    Ok(connection)
}

/// A reader lent to one statement; goes back to the idle list when dropped.
pub(crate) struct ReaderGuard {
    connection: Option<Connection>,
    home: Arc<SqliteConnections>,
    _permit: OwnedSemaphorePermit,
}

impl ReaderGuard {
    pub(crate) fn connection(&self) -> &Connection {
        self.connection
            .as_ref()
            .expect("a reader guard holds its connection until dropped")
    }
}

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            if !self.home.reader_permits.is_closed() {
                self.home
                    .idle_readers
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(connection);
            }
        }
    }
}

/// A write transaction on the writer (`BEGIN IMMEDIATE`: the write lock is taken at once,
/// so another process holding it is met here, under the busy timeout). Rolled back when
/// dropped without commit.
pub(crate) struct SqliteTransaction {
    writer: OwnedMutexGuard<Connection>,
    open: bool,
}

impl SqliteTransaction {
    pub(crate) fn begin(writer: OwnedMutexGuard<Connection>) -> Result<Self, SqlError> {
        writer.execute_batch("BEGIN IMMEDIATE")?;
        Ok(SqliteTransaction { writer, open: true })
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.writer
    }

    pub(crate) fn commit(mut self) -> Result<(), SqlError> {
        self.writer.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }

    pub(crate) fn rollback(mut self) -> Result<(), SqlError> {
        // On failure `open` stays set, so dropping tries once more.
        self.writer.execute_batch("ROLLBACK")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for SqliteTransaction {
    fn drop(&mut self) {
        if self.open {
            // The writer must not go back to the queue inside a transaction.
            if let Err(error) = self.writer.execute_batch("ROLLBACK") {
                tracing::warn!(%error, "rolling back an abandoned SQLite transaction failed");
            }
        }
    }
}
