//! The connections to a SQLite file: one writer, and readers opened as needed.
//!
//! Statements run in the calling task (see `sql.rs` for why). SQLite admits one writer at a
//! time; with several writing connections the losers of each race sleep in SQLite's busy
//! handler (1, 2, 5 … 100 ms between tries), so every write and every transaction here
//! waits its turn for the one writer in a fair async queue instead, and the writes that
//! queue together share one commit (`sqlite_group_commit.rs`). Readers never wait for
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
//!
//! No connection is lent out, and no checkpoint runs, while the database's files are gone
//! or unwritable (`sqlite_files.rs` says why and how that is seen); the caller gets
//! [`SqlError::Unavailable`]. When the files come back the connections simply carry on; when
//! other files are in their place (restored from a copy) every connection is reopened on
//! them. (Closing the stale ones is safe: SQLite skips its checkpoint-and-delete on close
//! when the database file has moved, which would otherwise act on the new files by name.)

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use super::error::SqlError;
use super::sqlite_files::{DatabaseFiles, Verdict};
use super::sqlite_group_commit::{BatchMember, Writer, WriterQueue};
use super::sqlite_wal_index::WalIndexHeader;
use super::StoreOptions;

/// Prepared statements kept per connection: more than the store has distinct statements.
pub(crate) const STATEMENT_CACHE_CAPACITY: usize = 64;

/// How often the checkpointer copies committed pages from the WAL into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

pub(crate) struct SqliteConnections {
    /// Shared with the checkpointer thread.
    files: Arc<DatabaseFiles>,
    busy_timeout: Duration,
    acquire_timeout: Duration,
    writer: Arc<WriterQueue>,
    idle_readers: Mutex<Vec<Connection>>,
    reader_permits: Arc<Semaphore>,
    closed: AtomicBool,
    /// The `-shm` header of the files of a generation, mapped on first use.
    wal_index: std::sync::RwLock<Option<(u64, Arc<WalIndexHeader>)>>,
}

impl SqliteConnections {
    /// Open (creating the file if missing), switch it to WAL mode and start the
    /// checkpointer, which stops once every handle is dropped or closed.
    pub(crate) fn open(path: &Path, options: &StoreOptions) -> Result<Arc<Self>, SqlError> {
        let files = Arc::new(DatabaseFiles::new(path));
        files.create_private().map_err(file_error)?;
        let writer = open_writer(path, options.sqlite_busy_timeout)?;
        let checkpointer = open_connection(path, options.sqlite_busy_timeout, false)?;
        files.restrict_companions();
        files.record_opened().map_err(file_error)?;
        let checkpointer_files = files.clone();
        let checkpointer_generation = files.generation();
        let connections = Arc::new(SqliteConnections {
            files,
            busy_timeout: options.sqlite_busy_timeout,
            acquire_timeout: options.acquire_timeout,
            writer: WriterQueue::new(writer),
            idle_readers: Mutex::new(Vec::new()),
            reader_permits: Arc::new(Semaphore::new(options.max_connections.max(1) as usize)),
            closed: AtomicBool::new(false),
            wal_index: std::sync::RwLock::new(None),
        });
        let handle = Arc::downgrade(&connections);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                run_checkpointer(
                    checkpointer,
                    checkpointer_generation,
                    &checkpointer_files,
                    handle,
                )
            })
            .map_err(SqlError::Thread)?;
        Ok(connections)
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        self.files.path()
    }

    /// What the wal-index header says of the last commit by any connection
    /// (`sqlite_wal_index.rs`); `None` while one is being published or when the header
    /// cannot be mapped. Mapped again when other files took the place of the old ones.
    pub(crate) fn wal_commit_mark(&self) -> Option<u64> {
        let generation = self.files.generation();
        {
            let mapped = self
                .wal_index
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some((mapped_generation, header)) = mapped.as_ref() {
                if *mapped_generation == generation {
                    return header.commit_mark();
                }
            }
        }
        let mut shm = self.files.path().as_os_str().to_os_string();
        shm.push("-shm");
        let header = match WalIndexHeader::open(Path::new(&shm)) {
            Ok(header) => Arc::new(header),
            Err(error) => {
                tracing::debug!(%error, "the SQLite -shm header cannot be mapped");
                return None;
            }
        };
        let mark = header.commit_mark();
        *self
            .wal_index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((generation, header));
        mark
    }

    /// The writer, once every earlier caller is done with it and the files are usable, in
    /// the batch of writes that commit together (`sqlite_group_commit.rs`).
    pub(crate) async fn batch_member(&self) -> Result<BatchMember, SqlError> {
        let mut writer = self.lock_writer().await?;
        // Looked at after the wait in the queue, just before the writer is used.
        self.ensure_usable(&mut writer)?;
        BatchMember::join(writer, self.writer.clone())
    }

    /// The writer outside any batch (the open one committed first), for work that must not
    /// share a transaction: applying migrations.
    pub(crate) async fn exclusive_writer(&self) -> Result<OwnedMutexGuard<Writer>, SqlError> {
        let mut writer = self.lock_writer().await?;
        self.ensure_usable(&mut writer)?;
        writer.commit_open_batch()?;
        Ok(writer)
    }

    async fn lock_writer(&self) -> Result<OwnedMutexGuard<Writer>, SqlError> {
        self.writer
            .lock(Some(self.acquire_timeout))
            .await
            .ok_or(SqlError::TimedOut)
    }

    /// Refuse while the files are gone or unwritable; reopen every connection when other
    /// files took their place. Called with the writer held, so one caller reopens.
    fn ensure_usable(&self, writer: &mut Writer) -> Result<(), SqlError> {
        match self.files.check() {
            Verdict::Usable => Ok(()),
            Verdict::Unusable(reason) => Err(SqlError::Unavailable(reason)),
            Verdict::Replaced => self.reopen(writer),
        }
    }

    fn reopen(&self, writer: &mut Writer) -> Result<(), SqlError> {
        let fresh = open_writer(self.files.path(), self.busy_timeout)?;
        writer.replace_connection(fresh);
        self.files.restrict_companions();
        // Under the idle list's lock, as readers take and return connections: no stale
        // one is pushed back, nor taken as new, between the two.
        let mut idle = self
            .idle_readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.files.record_opened().map_err(file_error)?;
        idle.clear();
        drop(idle);
        tracing::warn!(path = %self.files.path().display(), "the SQLite database files were replaced; reopened the connections on the new ones");
        Ok(())
    }

    /// [`SqliteConnections::ensure_files_usable`], looking at the files now rather than
    /// trusting a verdict up to [`CHECK_INTERVAL`] old: for background reads, which would
    /// otherwise be the likeliest to fault on files made unwritable a moment ago.
    pub(crate) async fn ensure_files_usable_now(&self) -> Result<(), SqlError> {
        self.act_on(self.files.check_now()).await
    }

    /// Whether the files are in place and writable (reopening on replaced ones).
    pub(crate) async fn ensure_files_usable(&self) -> Result<(), SqlError> {
        self.act_on(self.files.check()).await
    }

    async fn act_on(&self, verdict: Verdict) -> Result<(), SqlError> {
        match verdict {
            Verdict::Usable => Ok(()),
            Verdict::Unusable(reason) => Err(SqlError::Unavailable(reason)),
            Verdict::Replaced => {
                let mut writer = self.lock_writer().await?;
                self.ensure_usable(&mut writer)
            }
        }
    }

    /// An idle reader, or a new one while fewer than `max_connections` are open.
    pub(crate) async fn reader(self: &Arc<Self>) -> Result<ReaderGuard, SqlError> {
        self.ensure_files_usable().await?;
        let permit = tokio::time::timeout(
            self.acquire_timeout,
            self.reader_permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| SqlError::TimedOut)?
        .map_err(|_| SqlError::TimedOut)?;
        let (idle, generation) = {
            let mut idle = self
                .idle_readers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            (idle.pop(), self.files.generation())
        };
        let connection = match idle {
            Some(connection) => connection,
            None => open_connection(self.files.path(), self.busy_timeout, true)?,
        };
        Ok(ReaderGuard {
            connection: Some(connection),
            generation,
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

/// Checkpoint until the connections are closed or dropped, following them onto replaced
/// files (`generation`: the files' generation `connection` was opened in).
fn run_checkpointer(
    mut connection: Connection,
    mut generation: u64,
    files: &DatabaseFiles,
    connections: Weak<SqliteConnections>,
) {
    loop {
        std::thread::sleep(CHECKPOINT_INTERVAL);
        let Some(connections) = connections.upgrade() else {
            return;
        };
        if connections.closed.load(Ordering::Acquire) {
            return;
        }
        // Never touch files that are gone or unwritable; replaced ones are reopened by the
        // next request, and this connection follows it.
        if files.check() != Verdict::Usable {
            continue;
        }
        let current = files.generation();
        if current != generation {
            match open_connection(files.path(), connections.busy_timeout, false) {
                Ok(fresh) => {
                    connection = fresh;
                    generation = current;
                }
                Err(error) => {
                    tracing::warn!(error = ?error, "cannot reopen the SQLite checkpointer; retrying");
                    continue;
                }
            }
        }
        let progress = match catch_up(&connection) {
            Ok(progress) => progress,
            Err(error) => {
                tracing::warn!(%error, "SQLite checkpoint failed; retrying");
                continue;
            }
        };
        // Only once little is left, so that holding the writer is short; else the next
        // round tries again.
        if progress.wal_frames >= WAL_RESTART_FRAMES && progress.left_little {
            // Passes that did not reach the end leave what they copied unsynced, and the
            // one that does syncs it all, as it syncs the WAL before copying. Syncing both
            // files here first keeps that out of the time the writer is held (at 1 M users
            // it was a 150 ms stall).
            for path in [files.path().to_path_buf(), files.wal_path()] {
                if let Err(error) = std::fs::File::open(&path).and_then(|file| file.sync_data()) {
                    tracing::warn!(%error, path = %path.display(), "cannot sync a SQLite file before a checkpoint");
                }
            }
            // A last pass with the writer held reaches the end, so the next commit starts
            // the WAL over, on blocks the file already has.
            let mut writer = connections.writer.blocking_lock();
            // A batch still open would commit after this pass, into the WAL it copies.
            if let Err(error) = writer.commit_open_batch() {
                tracing::warn!(error = ?error, "committing the open SQLite batch before a checkpoint failed");
            }
            let held_since = std::time::Instant::now();
            if let Err(error) = checkpoint(&connection) {
                tracing::warn!(%error, "SQLite checkpoint failed; retrying");
            }
            tracing::debug!(
                held_ms = held_since.elapsed().as_secs_f64() * 1000.0,
                wal_frames = progress.wal_frames,
                "checkpoint pass with the writer held"
            );
        }
    }
}

/// Passive passes until little is left for the one with the writer held: each copies only
/// what arrived during the one before. (With one pass before it, the held pass copied half
/// a second of commits into a large database and stalled writers for 150 ms.)
fn catch_up(connection: &Connection) -> rusqlite::Result<CheckpointProgress> {
    let mut progress = checkpoint(connection)?;
    for _ in 0..MAX_CATCH_UP_PASSES {
        if progress.wal_frames < WAL_RESTART_FRAMES {
            break;
        }
        let mut next = checkpoint(connection)?;
        next.left_little = next.wal_frames - progress.wal_frames <= HELD_PASS_FRAMES;
        progress = next;
        if progress.left_little {
            break;
        }
    }
    Ok(progress)
}

/// At most this many extra passive passes before the held one.
const MAX_CATCH_UP_PASSES: usize = 4;

/// Frames that may arrive during the last passive pass and be left to the held one.
const HELD_PASS_FRAMES: i64 = 256;

/// How long the WAL may grow (in 4 KiB frames) before the checkpointer holds the writer
/// for a pass: SQLite's own automatic-checkpoint mark.
const WAL_RESTART_FRAMES: i64 = 1_000;

/// What one checkpoint pass saw: the frames in the WAL when it began. Under steady
/// writes a passive pass never copies all of it (commits append while it copies), and
/// SQLite starts the WAL over only after a pass that did: until the load stops the WAL
/// then only grows, and every commit extends the file, whose new blocks the kernel zeroes
/// first (a fifth of a login's CPU; BENCHMARKS.md, "The WAL that never started over").
struct CheckpointProgress {
    wal_frames: i64,
    /// Few frames arrived during this pass (it followed another closely enough).
    left_little: bool,
}

/// PASSIVE: copy what no reader still needs, never waiting for readers or the writer.
fn checkpoint(connection: &Connection) -> rusqlite::Result<CheckpointProgress> {
    connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(CheckpointProgress {
            wal_frames: row.get(1)?,
            left_little: false,
        })
    })
}

fn file_error(error: std::io::Error) -> SqlError {
    SqlError::Unavailable(error.to_string())
}

/// The writer: like any connection, but never checkpointing on commit (the checkpointer
/// thread does). It has `-wal` and `-shm` open on return (a first read opens them), so
/// that the files watched are the ones it uses.
fn open_writer(path: &Path, busy_timeout: Duration) -> Result<Connection, SqlError> {
    let writer = open_connection(path, busy_timeout, false)?;
    writer.pragma_update(None, "wal_autocheckpoint", 0)?;
    // Each transaction in a batch is a savepoint, and SQLite keeps the pages a savepoint
    // may have to restore in a statement journal, a temporary file once past 64 KiB: an
    // eighth of a login's CPU went to writing it. In memory it is freed at each release.
    writer.pragma_update(None, "temp_store", "MEMORY")?;
    writer.query_row("SELECT COUNT(*) FROM sqlite_master", [], |_| Ok(()))?;
    Ok(writer)
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
    // Deleted and overwritten content is zeroed, not left in free pages: a deleted account
    // or a phone number sealed in place leaves nothing readable in the file.
    connection.pragma_update(None, "secure_delete", "ON")?;
    connection.pragma_update(None, "query_only", read_only)?;
    Ok(connection)
}

/// A reader lent to one statement; goes back to the idle list when dropped.
pub(crate) struct ReaderGuard {
    connection: Option<Connection>,
    generation: u64,
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
            let mut idle = self
                .home
                .idle_readers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // One opened on files since replaced is not reused (it closes when dropped).
            let current = self.home.files.generation() == self.generation;
            if current && !self.home.reader_permits.is_closed() {
                idle.push(connection);
            }
        }
    }
}

/// A write transaction. On a file it is a savepoint inside the writer's open batch
/// (`sqlite_group_commit.rs`), so that it rolls back alone and commits with the batch; on
/// the in-memory database (one connection, no WAL to save) a transaction of its own
/// (`BEGIN IMMEDIATE`). Rolled back when dropped without commit.
pub(crate) struct SqliteTransaction {
    writer: TransactionWriter,
}

enum TransactionWriter {
    Batch(BatchMember),
    Alone(OwnedMutexGuard<Connection>),
    /// Committed or rolled back: the writer went back to the queue.
    Gone,
}

impl SqliteTransaction {
    pub(crate) fn begin_in_batch(member: BatchMember) -> Result<Self, SqlError> {
        member
            .connection()
            .execute_batch("SAVEPOINT wxlogin_transaction")?;
        Ok(SqliteTransaction {
            writer: TransactionWriter::Batch(member),
        })
    }

    pub(crate) fn begin_alone(connection: OwnedMutexGuard<Connection>) -> Result<Self, SqlError> {
        connection.execute_batch("BEGIN IMMEDIATE")?;
        Ok(SqliteTransaction {
            writer: TransactionWriter::Alone(connection),
        })
    }

    pub(crate) fn connection(&self) -> &Connection {
        match &self.writer {
            TransactionWriter::Batch(member) => member.connection(),
            TransactionWriter::Alone(connection) => connection,
            TransactionWriter::Gone => unreachable!("a committed transaction runs no statement"),
        }
    }

    /// Committed once this returns `Ok` (with its batch, on a file).
    pub(crate) async fn commit(mut self) -> Result<(), SqlError> {
        match &self.writer {
            TransactionWriter::Batch(member) => member
                .connection()
                .execute_batch("RELEASE wxlogin_transaction")?,
            TransactionWriter::Alone(connection) => connection.execute_batch("COMMIT")?,
            TransactionWriter::Gone => {}
        }
        match self.give_back() {
            Some(member) => member.finish().await,
            None => Ok(()),
        }
    }

    /// Rolled back; on a file, returns once the batch it saw has committed
    /// ([`BatchMember::leave`] says why).
    pub(crate) async fn rollback(mut self) -> Result<(), SqlError> {
        // On failure the writer is kept, so dropping tries once more.
        self.roll_back()?;
        match self.give_back() {
            Some(member) => member.leave().await,
            None => Ok(()),
        }
    }

    /// Done with the writer: the batch member, on a file, that still has to finish or leave.
    fn give_back(&mut self) -> Option<BatchMember> {
        match std::mem::replace(&mut self.writer, TransactionWriter::Gone) {
            TransactionWriter::Batch(member) => Some(member),
            _ => None,
        }
    }

    fn roll_back(&self) -> Result<(), SqlError> {
        match &self.writer {
            TransactionWriter::Batch(member) => member
                .connection()
                .execute_batch("ROLLBACK TO wxlogin_transaction; RELEASE wxlogin_transaction")?,
            TransactionWriter::Alone(connection) => connection.execute_batch("ROLLBACK")?,
            TransactionWriter::Gone => {}
        }
        Ok(())
    }
}

impl Drop for SqliteTransaction {
    fn drop(&mut self) {
        // Still holding the writer: it must not go back to the queue inside this
        // transaction (nothing to do once committed or rolled back).
        if let Err(error) = self.roll_back() {
            tracing::warn!(error = ?error, "rolling back an abandoned SQLite transaction failed");
        }
    }
}
