//! Group commit on the SQLite writer: the writes of requests that queue for the writer at
//! the same moment share one transaction and one commit.
//!
//! Why: a commit appends every page its transaction dirtied to the WAL, with a checksum
//! each. Logins of different users dirty the same last pages of the time-ordered tables and
//! indexes (`domain::ids`), so a commit per login wrote those pages once per login: the
//! login profile had 18 % of its CPU in SQLite's `walFrames` and 15 % in `pwrite`
//! (BENCHMARKS.md, round four). In one commit, N logins write them once.
//!
//! How: the writer's connection carries at most one open batch, a `BEGIN IMMEDIATE` not yet
//! committed. A caller takes the writer (a FIFO queue), joins the open batch or begins one,
//! runs its statements (a transaction inside a savepoint, so that it rolls back alone), and
//! then:
//! - if nobody else is queued for the writer, or the batch is full, it commits the batch
//!   and tells every member the outcome;
//! - else it hands the writer on with the batch open and waits, either for the outcome or
//!   for the writer to come round to it again, and then commits the batch itself. The queue
//!   is FIFO, so a member queued again is behind everyone who could join: every batch is
//!   committed once the queue has gone round once. A member whose wait is abandoned (its
//!   request dropped) leaves a task queued in its place.
//!
//! Nobody is answered before the commit that holds its writes: each member returns the
//! batch's outcome, so a failed commit fails them all, and whatever a member read inside
//! the batch (other members' writes, not yet committed) never reaches an answer unless the
//! batch committed. A lone writer (no one queued) commits at once, as before: the batch
//! costs nothing when there is no load.
//!
//! Whoever needs the writer outside any batch (migrations, reopening replaced files, the
//! checkpointer's pass with the writer held) commits the open batch first.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

use super::error::SqlError;

/// Members of one batch at most: bounds how long the first one waits for its answer.
pub(crate) const MAX_BATCH_MEMBERS: usize = 64;

/// The writer's connection and the batch open on it.
pub(crate) struct Writer {
    connection: Connection,
    open: Option<OpenBatch>,
    /// Batches committed on this writer, and the members' writes they held.
    committed: CommitTally,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CommitTally {
    pub(crate) commits: u64,
    pub(crate) members: u64,
}

struct OpenBatch {
    batch: Arc<Batch>,
    /// Members whose writes are in the batch and who wait for its outcome.
    members: usize,
}

/// What the members of one batch wait for.
#[derive(Default)]
struct Batch {
    outcome: OnceLock<Result<(), String>>,
    settled: Notify,
}

impl Batch {
    fn settle(&self, outcome: Result<(), String>) {
        let _ = self.outcome.set(outcome);
        self.settled.notify_waiters();
    }
}

/// Some errors make SQLite roll the whole transaction back by itself.
const ROLLED_BACK_BY_SQLITE: &str = "SQLite rolled the transaction back";

/// Why a member's write failed when the commit it shared did: transient, like any failed
/// commit (a full disk, an I/O error, another process's lock).
fn shared_commit_failed(reason: &str) -> SqlError {
    SqlError::Unavailable(format!("the commit this write shared failed: {reason}"))
}

/// A failed commit's reason, for the members that did not run it.
fn reason_of(error: &SqlError) -> String {
    match error {
        SqlError::Sqlite(error) => error.to_string(),
        SqlError::Unavailable(reason) => reason.clone(),
        other => format!("{other:?}"),
    }
}

impl Writer {
    pub(crate) fn new(connection: Connection) -> Self {
        Writer {
            connection,
            open: None,
            committed: CommitTally::default(),
        }
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    #[cfg(test)]
    pub(crate) fn committed(&self) -> CommitTally {
        self.committed
    }

    /// Put a fresh connection in place (the files were replaced). An open batch's writes
    /// went to the old files: its members are told it failed.
    pub(crate) fn replace_connection(&mut self, fresh: Connection) {
        if let Some(open) = self.open.take() {
            open.batch
                .settle(Err("the database files were replaced".to_string()));
        }
        drop(std::mem::replace(&mut self.connection, fresh));
    }

    /// Commit the open batch, if any, and tell its members.
    pub(crate) fn commit_open_batch(&mut self) -> Result<(), SqlError> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let committed = if self.connection.is_autocommit() {
            Err(SqlError::Unavailable(ROLLED_BACK_BY_SQLITE.to_string()))
        } else {
            self.connection
                .execute_batch("COMMIT")
                .map_err(SqlError::from)
        };
        if committed.is_err() && !self.connection.is_autocommit() {
            // The writer must not go back to the queue inside a transaction.
            if let Err(error) = self.connection.execute_batch("ROLLBACK") {
                tracing::warn!(%error, "rolling back a SQLite batch whose commit failed failed");
            }
        }
        if committed.is_ok() {
            self.committed.commits += 1;
            self.committed.members += open.members as u64;
            crate::metrics::record_sqlite_commit(open.members as u64);
        }
        open.batch
            .settle(committed.as_ref().map(|_| ()).map_err(reason_of));
        committed
    }

    /// Commit `batch` if it is still the open one (nobody committed it meanwhile).
    fn commit_if_open(&mut self, batch: &Arc<Batch>) -> Option<Result<(), SqlError>> {
        self.holds_open(batch).then(|| self.commit_open_batch())
    }

    /// Join the open batch, or begin one.
    fn join(&mut self) -> Result<Arc<Batch>, SqlError> {
        if let Some(open) = &self.open {
            if !self.connection.is_autocommit() {
                return Ok(open.batch.clone());
            }
            // Rolled back by SQLite behind the members' backs: committing tells them.
            let _ = self.commit_open_batch();
        }
        self.connection.execute_batch("BEGIN IMMEDIATE")?;
        let batch = Arc::new(Batch::default());
        self.open = Some(OpenBatch {
            batch: batch.clone(),
            members: 0,
        });
        Ok(batch)
    }

    /// The batch `batch` is the one open (not yet committed or failed).
    fn holds_open(&self, batch: &Arc<Batch>) -> bool {
        self.open
            .as_ref()
            .is_some_and(|open| Arc::ptr_eq(&open.batch, batch))
    }
}

/// The writer's FIFO queue, counting who waits in it.
pub(crate) struct WriterQueue {
    writer: Arc<Mutex<Writer>>,
    waiting: AtomicUsize,
}

/// Counts a caller as queued until it holds the writer or gives up.
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl WriterQueue {
    pub(crate) fn new(connection: Connection) -> Arc<Self> {
        Arc::new(WriterQueue {
            writer: Arc::new(Mutex::new(Writer::new(connection))),
            waiting: AtomicUsize::new(0),
        })
    }

    /// The writer, in turn; `None` if `timeout` passed first.
    pub(crate) async fn lock(&self, timeout: Option<Duration>) -> Option<OwnedMutexGuard<Writer>> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let _queued = Queued(&self.waiting);
        let lock = self.writer.clone().lock_owned();
        match timeout {
            Some(timeout) => tokio::time::timeout(timeout, lock).await.ok(),
            None => Some(lock.await),
        }
    }

    /// The writer from a thread outside the runtime (the checkpointer).
    pub(crate) fn blocking_lock(&self) -> tokio::sync::MutexGuard<'_, Writer> {
        self.writer.blocking_lock()
    }

    fn anyone_waiting(&self) -> bool {
        self.waiting.load(Ordering::Acquire) > 0
    }
}

/// The writer held by one caller, inside the open batch.
pub(crate) struct BatchMember {
    /// `None` once finished or left.
    writer: Option<OwnedMutexGuard<Writer>>,
    batch: Arc<Batch>,
    queue: Arc<WriterQueue>,
}

impl BatchMember {
    /// Join the batch open on `writer` (or begin one).
    pub(crate) fn join(
        mut writer: OwnedMutexGuard<Writer>,
        queue: Arc<WriterQueue>,
    ) -> Result<Self, SqlError> {
        let batch = writer.join()?;
        Ok(BatchMember {
            writer: Some(writer),
            batch,
            queue,
        })
    }

    pub(crate) fn connection(&self) -> &Connection {
        self.writer
            .as_ref()
            .expect("a batch member holds the writer until it finishes")
            .connection()
    }

    /// This member's statements are done and stay: answer once the batch has committed.
    pub(crate) async fn finish(mut self) -> Result<(), SqlError> {
        let mut writer = self.writer.take().expect("a batch member finishes once");
        if !writer.holds_open(&self.batch) {
            // SQLite rolled the batch back (an error inside it) before this member ended.
            return Err(shared_commit_failed(ROLLED_BACK_BY_SQLITE));
        }
        let open = writer.open.as_mut().expect("holds_open checked it");
        open.members += 1;
        if open.members >= MAX_BATCH_MEMBERS || !self.queue.anyone_waiting() {
            return writer.commit_open_batch();
        }
        drop(writer);
        self.outcome().await
    }

    /// Wait, the writer handed on, for the batch's outcome (committing it if the writer
    /// comes round to this member first).
    fn outcome(&self) -> impl std::future::Future<Output = Result<(), SqlError>> + Send {
        let mut wait = OutcomeWait {
            batch: self.batch.clone(),
            queue: self.queue.clone(),
        };
        async move { wait.outcome().await }
    }

    /// This member's statements left nothing in the batch (a statement failed, a
    /// transaction rolled back to its savepoint). What it read may still be other members'
    /// writes, not yet committed (a row it found spent, a key it collided with), and the
    /// caller may look again on a reader next: so it returns once the batch has committed,
    /// with the batch's failure if it failed.
    pub(crate) async fn leave(mut self) -> Result<(), SqlError> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let others = writer.holds_open(&self.batch)
            && writer.open.as_ref().is_some_and(|open| open.members > 0);
        if !others {
            self.writer = Some(writer);
            return Ok(()); // dropping ends a batch nobody else is in
        }
        drop(writer);
        self.outcome().await
    }
}

impl Drop for BatchMember {
    /// Left without finishing or [`BatchMember::leave`] (dropped on an error path): nothing
    /// of it stays in the batch, and there is no waiting in a drop. A batch nobody else is
    /// in ends here.
    fn drop(&mut self) {
        let Some(mut writer) = self.writer.take() else {
            return;
        };
        if !writer.holds_open(&self.batch) {
            return;
        }
        let no_members = writer.open.as_ref().is_some_and(|open| open.members == 0);
        if no_members {
            let open = writer.open.take().expect("holds_open checked it");
            if let Err(error) = writer.connection.execute_batch("ROLLBACK") {
                tracing::warn!(%error, "rolling back an empty SQLite batch failed");
            }
            open.batch.settle(Ok(()));
        }
        // Else the members already in it wait for the writer, and one of them commits.
    }
}

/// A member waiting for its batch's outcome.
struct OutcomeWait {
    batch: Arc<Batch>,
    queue: Arc<WriterQueue>,
}

impl OutcomeWait {
    async fn outcome(&mut self) -> Result<(), SqlError> {
        loop {
            let settled = self.batch.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            if let Some(outcome) = self.batch.outcome.get() {
                return outcome
                    .clone()
                    .map_err(|reason| shared_commit_failed(&reason));
            }
            tokio::select! {
                _ = &mut settled => {}
                writer = self.queue.lock(None) => {
                    let mut writer = writer.expect("a lock without timeout always comes");
                    if let Some(committed) = writer.commit_if_open(&self.batch) {
                        return committed;
                    }
                    // Settled by someone else: the outcome is there on the next turn.
                }
            }
        }
    }
}

impl Drop for OutcomeWait {
    /// Abandoned before the outcome (every return settles it first): somebody must still
    /// commit the batch, so a task takes this member's turn at the writer.
    fn drop(&mut self) {
        if self.batch.outcome.get().is_some() {
            return;
        }
        let (batch, queue) = (self.batch.clone(), self.queue.clone());
        let finish = async move {
            let mut writer = queue.lock(None).await.expect("no timeout");
            if let Some(Err(error)) = writer.commit_if_open(&batch) {
                tracing::warn!(error = ?error, "committing a SQLite batch whose waiter left failed");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(finish);
            }
            Err(_) => tracing::error!(
                "a SQLite batch's waiter left outside the runtime; the batch commits with the next write"
            ),
        }
    }
}

#[cfg(test)]
mod tests;
