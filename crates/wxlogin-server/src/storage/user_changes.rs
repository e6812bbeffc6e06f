//! Which users' authentication state changed, as the database itself records it: the
//! triggers of migration 0010 note the user of every changed session, identity or user
//! row, whichever process wrote it. On SQLite they append to the `user_changes` log; on
//! PostgreSQL they announce the user on the `wxlogin_user_changes` channel, which
//! PostgreSQL delivers at commit, in commit order, to every listening connection.
//!
//! A [`UserChangeFeed`] follows one or the other and answers one question, "which users
//! changed in every transaction that committed before I asked?" ([`UserChangeFeed::
//! catch_up`]), or says that it cannot know ([`UserChanges::Unknown`]), after which the
//! follower must forget everything it remembered. The session cache is what follows it.

use std::time::{Duration, Instant};

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::mpsc;

use super::error::SqlError;
use super::sql::{query, Driver};
use super::{unix_now, CommitMark, StorageError, Store};
use crate::domain::UserId;

/// The channel the PostgreSQL triggers announce on (migration 0010).
const CHANNEL: &str = "wxlogin_user_changes";

/// Log rows read per statement while catching up on SQLite.
const LOG_PAGE: i64 = 1_000;

/// How long SQLite keeps a change in the log: far longer than a follower polls, so one that
/// falls this far behind has been failing and starts over anyway.
const LOG_RETENTION_SECS: i64 = 3_600;

/// How often a SQLite follower deletes what the log no longer needs to keep.
const PRUNE_PERIOD: Duration = Duration::from_secs(60);

/// How long a PostgreSQL follower waits for its own marker notice before it counts the
/// listening connection as lost.
const MARKER_TIMEOUT: Duration = Duration::from_secs(2);

/// What changed since the last catch-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChanges {
    /// These users' rows changed (a user may appear more than once); nothing was missed.
    Users(Vec<UserId>),
    /// Some changes may have been missed (the log was pruned past what this feed had
    /// read): forget everything. (A lost PostgreSQL connection is an error instead: the
    /// follower starts over.)
    Unknown,
}

/// A follower of the users whose sessions, identities or profile changed.
pub struct UserChangeFeed {
    source: Source,
}

/// What a follower heard between catch-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announced {
    /// These users changed.
    Users(Vec<UserId>),
    /// Another connection asks every follower to confirm it has applied what was
    /// announced before: answer with [`UserChangeFeed::acknowledge`] once applied.
    Marker(String),
}

/// What [`UserChangeFeed::catch_up`] found.
#[derive(Debug)]
pub struct CaughtUp {
    pub changes: UserChanges,
    /// Others' markers seen on the way, to acknowledge once `changes` are applied.
    pub markers: Vec<String>,
    /// Until when the follower may serve what it remembers without catching up again:
    /// on PostgreSQL the end of its lease, less a margin for the clocks.
    pub serve_until: std::time::Instant,
}

enum Source {
    /// SQLite: the `user_changes` log, read past `after`.
    Log {
        store: Store,
        after: i64,
        /// The commit mark the log was last read at: while it holds, nothing was added.
        read_at: Option<CommitMark>,
        last_prune: Instant,
    },
    /// PostgreSQL: notices received by a task of its own on a connection of its own.
    Notices {
        notices: mpsc::UnboundedReceiver<Notice>,
        _listening: AbortOnDrop,
        pool: PgPool,
        follower_id: String,
        markers_sent: u64,
    },
}

/// What the listening task hands over.
enum Notice {
    Payload(String),
    /// The connection was lost (it is opened again on the next read).
    Lost,
    Failed(StorageError),
}

/// Stops the listening task (and closes its connection) with the feed.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A notice's payload: a user id (a UUID), or one of these prefixes: a revoker's marker
/// (every follower acknowledges it), an acknowledgement, a follower's own catch-up marker.
const MARKER: &str = "m:";
const ACK: &str = "a:";
const CATCH_UP: &str = "c:";

/// How long a PostgreSQL follower's lease lasts from each catch-up; it catches up every
/// second, and serves only until [`LEASE_MARGIN`] before the lease ends, so that a
/// revoking connection that gets no answer from it can stop waiting once the lease is
/// over, knowing the follower has stopped serving by then.
const LEASE: Duration = Duration::from_secs(3);
const LEASE_MARGIN: Duration = Duration::from_secs(1);

/// Milliseconds of the database's clock, the clock of the leases.
const NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

impl Store {
    /// Start following changes from now on (earlier ones are never reported), as
    /// `follower_id` (on PostgreSQL the name of its lease; keep it when following again).
    pub async fn follow_user_changes(
        &self,
        follower_id: &str,
    ) -> Result<UserChangeFeed, StorageError> {
        let source = match self.database().driver() {
            Driver::Postgres(pool) => {
                // Listening before holding a lease: once revokers wait for this follower,
                // it hears them.
                let mut listener = PgListener::connect_with(pool)
                    .await
                    .map_err(SqlError::from)?;
                listener.listen(CHANNEL).await.map_err(SqlError::from)?;
                let (sender, notices) = mpsc::unbounded_channel();
                let listening = AbortOnDrop(tokio::spawn(listen(listener, sender)));
                sqlx::query(&format!(
                    "DELETE FROM session_cache_followers WHERE lease_until < {NOW_MS} - 3600000"
                ))
                .execute(pool)
                .await
                .map_err(SqlError::from)?;
                renew_lease(pool, follower_id).await?;
                Source::Notices {
                    notices,
                    _listening: listening,
                    pool: pool.clone(),
                    follower_id: follower_id.to_owned(),
                    markers_sent: 0,
                }
            }
            Driver::SqliteFile(_) | Driver::SqliteMemory(_) => {
                // The log's last number, even when every row has been pruned.
                let row = query(
                    "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'user_changes'), 0) AS last",
                )
                .fetch_one(self.readers())
                .await?;
                Source::Log {
                    store: self.clone(),
                    after: row.try_get("last")?,
                    read_at: None,
                    last_prune: Instant::now(),
                }
            }
        };
        Ok(UserChangeFeed { source })
    }

    /// [`Store::wait_for_followers`], after a change that has committed and so is answered
    /// as done: when the wait fails, the leases are waited out instead.
    pub(crate) async fn changes_hold_everywhere(&self) {
        if let Err(error) = self.wait_for_followers().await {
            tracing::warn!(%error, "could not hear from the instances serving sessions from memory: waiting for their leases to end");
            tokio::time::sleep(LEASE).await;
        }
    }

    /// After a change that must hold at once everywhere (a logout, a revocation, a
    /// deletion): on PostgreSQL, wait until every follower holding a lease has applied it
    /// or its lease has ended (it then serves nothing). On SQLite nothing to wait for: a
    /// follower serves nothing once anything has committed (`sqlite_wal_index.rs`).
    pub async fn wait_for_followers(&self) -> Result<(), StorageError> {
        let Driver::Postgres(pool) = self.database().driver() else {
            return Ok(());
        };
        let leases = sqlx::query(&format!(
            "SELECT id, lease_until - {NOW_MS} AS remaining_ms FROM session_cache_followers \
             WHERE lease_until > {NOW_MS}"
        ))
        .fetch_all(pool)
        .await
        .map_err(SqlError::from)?;
        if leases.is_empty() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let mut waiting: Vec<(String, std::time::Instant)> = Vec::with_capacity(leases.len());
        for lease in &leases {
            use sqlx::Row as _;
            let id: String = lease.try_get("id").map_err(SqlError::from)?;
            let remaining: i64 = lease.try_get("remaining_ms").map_err(SqlError::from)?;
            let remaining = Duration::from_millis(u64::try_from(remaining).unwrap_or(0)).min(LEASE);
            waiting.push((id, started + remaining));
        }
        let mut listener = PgListener::connect_with(pool)
            .await
            .map_err(SqlError::from)?;
        listener.listen(CHANNEL).await.map_err(SqlError::from)?;
        let marker = format!("{MARKER}{}", crate::domain::new_event_id());
        notify(pool, &marker).await?;
        let ack_prefix = format!("{ACK}{marker} ");
        loop {
            let now = std::time::Instant::now();
            waiting.retain(|(_, lease_end)| *lease_end > now);
            let Some(last_end) = waiting.iter().map(|(_, end)| *end).max() else {
                return Ok(());
            };
            match tokio::time::timeout(last_end - now, listener.try_recv()).await {
                Err(_elapsed) => return Ok(()),
                Ok(Ok(Some(notice))) => {
                    if let Some(follower) = notice.payload().strip_prefix(ack_prefix.as_str()) {
                        waiting.retain(|(id, _)| id != follower);
                    }
                }
                // Lost acknowledgements: the leases still end.
                Ok(Ok(None)) | Ok(Err(_)) => {
                    tokio::time::sleep(last_end - now).await;
                    return Ok(());
                }
            }
        }
    }
}

/// Hold (or take again) the lease of `follower_id` for [`LEASE`] from now.
async fn renew_lease(pool: &PgPool, follower_id: &str) -> Result<(), StorageError> {
    sqlx::query(&format!(
        "INSERT INTO session_cache_followers (id, lease_until) VALUES ($1, {NOW_MS} + $2) \
         ON CONFLICT (id) DO UPDATE SET lease_until = EXCLUDED.lease_until"
    ))
    .bind(follower_id)
    .bind(i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX))
    .execute(pool)
    .await
    .map_err(SqlError::from)?;
    Ok(())
}

async fn notify(pool: &PgPool, payload: &str) -> Result<(), StorageError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(pool)
        .await
        .map_err(SqlError::from)?;
    Ok(())
}

/// Read notices until the feed is dropped. `try_recv` is never cancelled mid-read: a
/// notice is either handed over whole or still on the connection.
async fn listen(mut listener: PgListener, sender: mpsc::UnboundedSender<Notice>) {
    loop {
        let notice = match listener.try_recv().await {
            Ok(Some(notice)) => Notice::Payload(notice.payload().to_owned()),
            Ok(None) => Notice::Lost,
            Err(error) => Notice::Failed(SqlError::from(error).into()),
        };
        let failed = matches!(notice, Notice::Failed(_));
        if sender.send(notice).is_err() || failed {
            return;
        }
    }
}

/// How a follower reads a notice's payload.
enum Payload<'a> {
    User(UserId),
    Marker(&'a str),
    /// An acknowledgement (for a revoker), or a follower's catch-up marker.
    Other,
}

fn payload(text: &str) -> Payload<'_> {
    if text.starts_with(CATCH_UP) || text.starts_with(ACK) {
        Payload::Other
    } else if text.starts_with(MARKER) {
        Payload::Marker(text)
    } else {
        Payload::User(UserId::from(text.to_owned()))
    }
}

impl UserChangeFeed {
    /// What another connection announced, as soon as it is (PostgreSQL). The SQLite log
    /// announces nothing: it is only read, so there this never completes. Cancel-safe.
    pub async fn announced(&mut self) -> Result<Announced, StorageError> {
        let Source::Notices { notices, .. } = &mut self.source else {
            return std::future::pending().await;
        };
        loop {
            match notices.recv().await {
                Some(Notice::Payload(text)) => match payload(&text) {
                    Payload::User(user) => return Ok(Announced::Users(vec![user])),
                    Payload::Marker(marker) => return Ok(Announced::Marker(marker.to_owned())),
                    Payload::Other => {}
                },
                Some(Notice::Lost) => return Err(connection_lost()),
                Some(Notice::Failed(error)) => return Err(error),
                None => return Err(listener_gone()),
            }
        }
    }

    /// Tell the connection that sent `marker` that everything announced before it has
    /// been applied.
    pub async fn acknowledge(&mut self, marker: &str) -> Result<(), StorageError> {
        if let Source::Notices {
            pool, follower_id, ..
        } = &self.source
        {
            notify(pool, &format!("{ACK}{marker} {follower_id}")).await?;
        }
        Ok(())
    }

    /// The users changed by every transaction that committed before the database showed
    /// `mark` ([`crate::storage::Database::commit_mark`], taken just before this call) and
    /// that no earlier call (nor [`UserChangeFeed::announced`]) reported.
    pub async fn catch_up(&mut self, mark: CommitMark) -> Result<CaughtUp, StorageError> {
        match &mut self.source {
            Source::Log {
                store,
                after,
                read_at,
                last_prune,
            } => {
                // On a SQLite file the mark moves with every commit of any process: while
                // it holds, the log has nothing new, and is not read (a read writes into
                // `-shm`, which faults once the files are made unwritable).
                let unchanged = *read_at == Some(mark)
                    && matches!(store.database().driver(), Driver::SqliteFile(_));
                let changes = if unchanged {
                    UserChanges::Users(Vec::new())
                } else {
                    if let Driver::SqliteFile(connections) = store.database().driver() {
                        connections.ensure_files_usable_now().await?;
                    }
                    let changes = read_log(store, after).await?;
                    *read_at = Some(mark);
                    if last_prune.elapsed() >= PRUNE_PERIOD {
                        *last_prune = Instant::now();
                        query("DELETE FROM user_changes WHERE seq <= $1 AND changed_at < $2")
                            .bind(*after)
                            .bind(unix_now() - LOG_RETENTION_SECS)
                            .execute(store.writer())
                            .await?;
                    }
                    changes
                };
                Ok(CaughtUp {
                    changes,
                    markers: Vec::new(),
                    // Strict without a lease: nothing is served once anything committed.
                    serve_until: std::time::Instant::now() + LEASE,
                })
            }
            Source::Notices {
                notices,
                pool,
                follower_id,
                markers_sent,
                ..
            } => {
                let started = std::time::Instant::now();
                // Notices arrive in commit order: once this marker, committed now, comes
                // back, every notice of a transaction committed before it has arrived.
                *markers_sent += 1;
                let marker = format!("{CATCH_UP}{follower_id} {markers_sent}");
                notify(pool, &marker).await?;
                let mut users = Vec::new();
                let mut markers = Vec::new();
                loop {
                    let notice = tokio::time::timeout(MARKER_TIMEOUT, notices.recv())
                        .await
                        .map_err(|_| {
                            StorageError::Unavailable(
                                "the connection listening for user changes stopped answering"
                                    .to_owned(),
                            )
                        })?;
                    match notice {
                        Some(Notice::Payload(text)) if text == marker => break,
                        Some(Notice::Payload(text)) => match payload(&text) {
                            Payload::User(user) => users.push(user),
                            Payload::Marker(other) => markers.push(other.to_owned()),
                            Payload::Other => {}
                        },
                        Some(Notice::Lost) => return Err(connection_lost()),
                        Some(Notice::Failed(error)) => return Err(error),
                        None => return Err(listener_gone()),
                    }
                }
                renew_lease(pool, follower_id).await?;
                Ok(CaughtUp {
                    changes: UserChanges::Users(users),
                    markers,
                    serve_until: started + LEASE - LEASE_MARGIN,
                })
            }
        }
    }
}

/// The listening connection was lost: what was announced meanwhile is gone, so the
/// follower starts over with nothing remembered.
fn connection_lost() -> StorageError {
    StorageError::Unavailable("the connection listening for user changes was lost".to_owned())
}

fn listener_gone() -> StorageError {
    StorageError::Unavailable("the connection listening for user changes is gone".to_owned())
}

/// Every log row past `after`, advancing it. The log has no gaps (one writer at a time, and
/// a rolled-back transaction takes its numbers back), so a gap means rows were pruned
/// before this feed read them.
async fn read_log(store: &Store, after: &mut i64) -> Result<UserChanges, StorageError> {
    let mut users = Vec::new();
    let mut missed = false;
    loop {
        let rows =
            query("SELECT seq, user_id FROM user_changes WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(*after)
                .bind(LOG_PAGE)
                .fetch_all(store.readers())
                .await?;
        for row in &rows {
            let seq: i64 = row.try_get("seq")?;
            missed |= seq != *after + 1;
            *after = seq;
            users.push(row.try_get("user_id")?);
        }
        if (rows.len() as i64) < LOG_PAGE {
            break;
        }
    }
    Ok(if missed {
        UserChanges::Unknown
    } else {
        UserChanges::Users(users)
    })
}
