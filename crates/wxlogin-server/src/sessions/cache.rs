//! Sessions recently authenticated, with their users, kept in memory so that a client's
//! repeated `GET /v1/me` does not read the database each time, while a logout or a
//! revocation still takes effect at once on every instance.
//!
//! What keeps it right is the database, not a timer. The triggers of migration 0010 name
//! the user of every changed session, identity or user row, whoever wrote it, and the
//! follower (`cache_follower.rs`) drops that user's entries as soon as it hears of the
//! change ([`crate::storage::UserChangeFeed`]). Three rules close the gaps around it:
//!
//! - **Nothing committed since.** An entry is served only while the database's commit
//!   mark is what it was when the follower last caught up ([`Database::commit_mark`]): on
//!   a SQLite file any commit by any process changes it, elsewhere any write by this
//!   process. After a logout the next request reads the database until the follower has
//!   applied it. (On PostgreSQL, what another instance commits is covered by the last
//!   rule below and by the revoking side waiting for every follower, `user_changes.rs`.)
//! - **Fills racing a change.** A fill takes a ticket before it reads the database and
//!   stores only if nothing was forgotten since; forgetting and storing exclude each other,
//!   so a fill that read before a change can never land after it.
//! - **Not knowing.** When the follower cannot follow (its listening connection is lost,
//!   the log was pruned past it, the database fails), everything is forgotten and nothing
//!   is filled or served until it has caught up again. Nothing is served either once the
//!   follower's last catch-up is too old (a silently dead connection): on PostgreSQL,
//!   past its lease, which revokers wait out when the follower does not answer them. An
//!   entry is read again after [`MAX_ENTRY_AGE`] regardless.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;

use crate::domain::{SessionId, UserId};
use crate::storage::{CommitMark, Database, SessionRecord, UnixSeconds, User};

/// Sessions remembered per user at most (a user with more is read for the others).
const SESSIONS_PER_USER: usize = 4;

/// How long an entry is served before it is read again, even with no change heard of: a
/// bound on any change the triggers could not see.
pub const MAX_ENTRY_AGE: Duration = Duration::from_secs(60);

/// A session and its user as read together from the database.
#[derive(Debug, Clone)]
pub struct CachedSession {
    pub session: SessionRecord,
    pub user: User,
    stored_at: Instant,
}

/// The remembered sessions of one user.
#[derive(Debug, Default)]
struct UserEntry {
    sessions: Vec<Arc<CachedSession>>,
}

/// Taken before reading the database for a fill; see the module's second rule.
#[derive(Debug, Clone, Copy)]
pub struct FillTicket {
    generation: u64,
}

/// The cache; with capacity 0, none (every request reads its session).
pub struct SessionCache {
    entries: Option<Cache<UserId, Arc<UserEntry>>>,
    /// Shared by a fill while it checks its ticket and stores, exclusive while forgetting.
    storing: RwLock<()>,
    /// Bumped by every forgetting: a ticket of an older generation stores nothing.
    generation: AtomicU64,
    /// The follower is caught up enough to fill and serve.
    following: AtomicBool,
    /// The database's commit mark when the follower last caught up (two halves; a torn
    /// read of them can only fail to match, never match falsely).
    synced_writes: AtomicU64,
    synced_published: AtomicU64,
    /// Milliseconds since `started` until which the follower's last catch-up lets it
    /// serve (on PostgreSQL its lease, less a margin).
    serve_until_ms: AtomicU64,
    started: Instant,
    database: Database,
    /// Woken when an entry could not be served because the follower is behind.
    behind: tokio::sync::Notify,
}

impl SessionCache {
    /// A cache of at most `capacity` users' sessions read from `database`.
    pub fn new(capacity: usize, database: Database) -> Self {
        let entries = (capacity > 0).then(|| Cache::new(capacity));
        SessionCache {
            entries,
            storing: RwLock::new(()),
            generation: AtomicU64::new(0),
            following: AtomicBool::new(false),
            synced_writes: AtomicU64::new(0),
            synced_published: AtomicU64::new(0),
            serve_until_ms: AtomicU64::new(0),
            started: Instant::now(),
            database,
            behind: tokio::sync::Notify::new(),
        }
    }

    /// False when the capacity is 0.
    pub fn is_on(&self) -> bool {
        self.entries.is_some()
    }

    /// The session `session_id` of `user_id`, if remembered and servable now: the
    /// follower is caught up with this process's writes and confirmed so recently, the
    /// entry is young enough, and the session has not passed its stored expiry (which only
    /// grows, so the database decides then).
    pub fn get(
        &self,
        user_id: &UserId,
        session_id: &SessionId,
        now: UnixSeconds,
    ) -> Option<Arc<CachedSession>> {
        let entries = self.entries.as_ref()?;
        if !self.is_servable() {
            return None;
        }
        let entry = entries.get(user_id)?;
        let cached = entry
            .sessions
            .iter()
            .find(|cached| &cached.session.id == session_id)?;
        (cached.stored_at.elapsed() < MAX_ENTRY_AGE && cached.session.expires_at > now)
            .then(|| cached.clone())
    }

    fn is_servable(&self) -> bool {
        if !self.following.load(Ordering::Acquire) {
            return false;
        }
        let synced = CommitMark {
            writes: self.synced_writes.load(Ordering::Acquire),
            published: self.synced_published.load(Ordering::Acquire),
        };
        if self.database.commit_mark() != Some(synced) {
            self.behind.notify_one();
            return false;
        }
        let serve_until = Duration::from_millis(self.serve_until_ms.load(Ordering::Acquire));
        self.started.elapsed() < serve_until
    }

    /// A ticket for a fill, taken before the database is read; `None` when nothing may be
    /// filled now.
    pub fn ticket(&self) -> Option<FillTicket> {
        self.entries.as_ref()?;
        if !self.following.load(Ordering::Acquire) {
            return None;
        }
        Some(FillTicket {
            generation: self.generation.load(Ordering::Acquire),
        })
    }

    /// Remember a live session read after `ticket` was taken, unless something was
    /// forgotten since.
    pub fn fill(&self, ticket: FillTicket, session: SessionRecord, user: User) {
        let Some(entries) = &self.entries else {
            return;
        };
        let _storing = self
            .storing
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !self.following.load(Ordering::Acquire)
            || self.generation.load(Ordering::Acquire) != ticket.generation
        {
            return;
        }
        let user_id = session.user_id.clone();
        let mut sessions: Vec<Arc<CachedSession>> = entries
            .get(&user_id)
            .map(|entry| {
                entry
                    .sessions
                    .iter()
                    .filter(|cached| cached.session.id != session.id)
                    .take(SESSIONS_PER_USER - 1)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        sessions.insert(
            0,
            Arc::new(CachedSession {
                session,
                user,
                stored_at: Instant::now(),
            }),
        );
        entries.insert(user_id, Arc::new(UserEntry { sessions }));
    }

    /// Forget these users' sessions (their rows changed).
    pub fn forget(&self, users: &[UserId]) {
        let Some(entries) = &self.entries else {
            return;
        };
        if users.is_empty() {
            return;
        }
        let _forgetting = self
            .storing
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for user_id in users {
            entries.remove(user_id);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Forget everything and neither fill nor serve until [`SessionCache::caught_up`].
    pub fn stop_following(&self) {
        let _forgetting = self
            .storing
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.following.store(false, Ordering::Release);
        if let Some(entries) = &self.entries {
            entries.clear();
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The follower has applied every change committed before the database showed
    /// `mark_before`, and may serve until `serve_until` unless it catches up again.
    pub fn caught_up(&self, mark_before: CommitMark, serve_until: Instant) {
        let serve_until = serve_until.saturating_duration_since(self.started);
        let serve_until = u64::try_from(serve_until.as_millis()).unwrap_or(u64::MAX);
        self.serve_until_ms.store(serve_until, Ordering::Release);
        self.synced_writes
            .store(mark_before.writes, Ordering::Release);
        self.synced_published
            .store(mark_before.published, Ordering::Release);
        if !self.following.load(Ordering::Acquire) {
            // Tickets taken before it stopped stay void: the generation moved on then.
            self.following.store(true, Ordering::Release);
        }
    }

    /// Completes when a request found the follower behind this process's writes.
    pub async fn wanted(&self) {
        self.behind.notified().await;
    }

    /// Users with remembered sessions now.
    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, Cache::len)
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
