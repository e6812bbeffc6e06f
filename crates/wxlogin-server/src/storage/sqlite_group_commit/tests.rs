//! Group commit on a real SQLite file: who shares a commit, what a failed member leaves,
//! and that nobody returns before the commit that holds what it wrote or saw.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::*;

use crate::storage::test_dir::TestDir;

/// The database file of a test's directory.
fn database(dir: &TestDir) -> PathBuf {
    dir.file("db.sqlite")
}

fn connect(path: &Path) -> Connection {
    let connection = Connection::open(path).unwrap();
    connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        .unwrap();
    connection
}

/// A writer queue on a fresh file with one table, and a second connection to look at it
/// the way a reader does.
fn fresh(dir: &TestDir) -> (Arc<WriterQueue>, Connection) {
    let writer = connect(&database(dir));
    writer
        .execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY)")
        .unwrap();
    (WriterQueue::new(writer), connect(&database(dir)))
}

/// One write as the store makes it: a statement on the writer, in the open batch; then,
/// as the refresh does after a failed write, a look on another connection. Returns what
/// that look found of `key`.
async fn insert_and_look(
    queue: Arc<WriterQueue>,
    key: String,
    database: PathBuf,
) -> (Result<(), SqlError>, bool) {
    let result = insert(queue, key.clone()).await;
    let found = keys(&connect(&database)).contains(&key);
    (result, found)
}

/// One write as the store makes it: a statement on the writer, in the open batch.
async fn insert(queue: Arc<WriterQueue>, key: String) -> Result<(), SqlError> {
    let writer = queue.lock(None).await.unwrap();
    let member = BatchMember::join(writer, queue.clone())?;
    match member
        .connection()
        .execute("INSERT INTO t (k) VALUES (?1)", [&key])
    {
        Ok(_) => member.finish().await,
        Err(error) => {
            member.leave().await?;
            Err(error.into())
        }
    }
}

fn keys(reader: &Connection) -> Vec<String> {
    let mut statement = reader.prepare("SELECT k FROM t ORDER BY k").unwrap();
    let rows = statement.query_map([], |row| row.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

async fn tally(queue: &WriterQueue) -> CommitTally {
    queue.lock(None).await.unwrap().committed()
}

/// Hold the writer while `count` callers queue behind it, then let them in.
async fn queued_writers(
    queue: &Arc<WriterQueue>,
    keys: impl IntoIterator<Item = String>,
    database: &Path,
) -> Vec<(Result<(), SqlError>, bool)> {
    let held = queue.lock(None).await.unwrap();
    let tasks: Vec<_> = keys
        .into_iter()
        .map(|key| tokio::spawn(insert_and_look(queue.clone(), key, database.to_path_buf())))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while queue.waiting.load(Ordering::Acquire) < tasks.len() {
        assert!(Instant::now() < deadline, "the writers never queued");
        tokio::task::yield_now().await;
    }
    drop(held);
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test]
async fn a_lone_write_commits_at_once() {
    let dir = TestDir::new("lone");
    let (queue, reader) = fresh(&dir);
    insert(queue.clone(), "a".into()).await.unwrap();
    assert_eq!(
        keys(&reader),
        ["a"],
        "visible to another connection on return"
    );
    assert_eq!(
        tally(&queue).await,
        CommitTally {
            commits: 1,
            members: 1
        }
    );
}

#[tokio::test]
async fn writers_queued_together_share_one_commit_up_to_the_cap() {
    let dir = TestDir::new("shared");
    let (queue, reader) = fresh(&dir);
    let count = MAX_BATCH_MEMBERS + 36;
    let results = queued_writers(
        &queue,
        (0..count).map(|index| format!("k{index:03}")),
        &database(&dir),
    )
    .await;
    assert!(
        results
            .iter()
            .all(|(result, found)| result.is_ok() && *found),
        "{results:?}"
    );
    assert_eq!(keys(&reader).len(), count);
    // One full batch, then the rest: not one commit per write.
    assert_eq!(
        tally(&queue).await,
        CommitTally {
            commits: 2,
            members: count as u64
        }
    );
}

#[tokio::test]
async fn a_failed_member_leaves_the_others_and_returns_once_they_committed() {
    let dir = TestDir::new("failed");
    let (queue, reader) = fresh(&dir);
    let results = queued_writers(
        &queue,
        ["a", "dup", "b", "dup"].into_iter().map(String::from),
        &database(&dir),
    )
    .await;
    assert!(results[..3].iter().all(|(result, _)| result.is_ok()));
    // The second "dup" met the first one's row, not yet committed: looking for it next on
    // another connection, it must find it there.
    let (failed, found) = &results[3];
    assert!(failed.is_err(), "{failed:?}");
    assert!(
        found,
        "the failed member returned before the batch it saw committed"
    );
    assert_eq!(keys(&reader), ["a", "b", "dup"]);
    assert_eq!(tally(&queue).await.members, 3);
}

#[tokio::test]
async fn a_member_whose_wait_is_abandoned_is_still_committed() {
    let dir = TestDir::new("abandoned");
    let (queue, reader) = fresh(&dir);
    let member = BatchMember::join(queue.lock(None).await.unwrap(), queue.clone()).unwrap();
    member
        .connection()
        .execute("INSERT INTO t (k) VALUES ('x')", [])
        .unwrap();
    // Someone queued behind it, holding the writer a while once in: the member hands the
    // batch on open and waits, and its request is dropped meanwhile.
    let blocker = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let writer = queue.lock(None).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(writer);
        })
    };
    while queue.waiting.load(Ordering::Acquire) == 0 {
        tokio::task::yield_now().await;
    }
    let abandoned = tokio::time::timeout(Duration::from_millis(5), member.finish()).await;
    assert!(
        abandoned.is_err(),
        "the member was still waiting for its batch"
    );
    blocker.await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while keys(&reader).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the abandoned batch never committed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(tally(&queue).await.commits, 1);
}

#[tokio::test]
async fn a_caller_outside_batches_commits_the_open_one_first() {
    let dir = TestDir::new("exclusive");
    let (queue, reader) = fresh(&dir);
    let member = BatchMember::join(queue.lock(None).await.unwrap(), queue.clone()).unwrap();
    member
        .connection()
        .execute("INSERT INTO t (k) VALUES ('y')", [])
        .unwrap();
    // A checkpoint (or a migration) queued behind the member: the member hands the batch
    // on open, and the checkpoint must not run inside it.
    let exclusive = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let mut writer = queue.lock(None).await.unwrap();
            writer.commit_open_batch().unwrap();
            writer.connection().is_autocommit()
        })
    };
    while queue.waiting.load(Ordering::Acquire) == 0 {
        tokio::task::yield_now().await;
    }
    member.finish().await.unwrap();
    assert!(exclusive.await.unwrap(), "no transaction left open for it");
    assert_eq!(keys(&reader), ["y"]);
    assert_eq!(tally(&queue).await.commits, 1);
}
