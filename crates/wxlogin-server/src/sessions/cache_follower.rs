//! The task that keeps the session cache in step with the database: it applies every
//! change the database announces (PostgreSQL) or logs (SQLite) and confirms, when asked
//! and periodically, that it has caught up with everything committed so far.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::cache::SessionCache;
use crate::storage::{Announced, Backend, Store, UserChanges};

/// How often the follower catches up unasked. SQLite announces nothing, so this is how
/// soon a change written by another process (a `wxlogin` command) is seen; on PostgreSQL,
/// where changes are announced as they commit, it is the heartbeat that proves the
/// listening connection alive.
fn catch_up_period(backend: Backend) -> Duration {
    match backend {
        Backend::Sqlite => Duration::from_millis(10),
        Backend::Postgres => Duration::from_secs(1),
    }
}

/// How long the follower waits before following again after the database failed it.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Follow the database for `cache` until the cache is dropped.
pub fn spawn(cache: &Arc<SessionCache>, store: Store) -> tokio::task::JoinHandle<()> {
    let cache = Arc::downgrade(cache);
    // One name for this process's follower, kept when it follows again (its lease).
    let follower_id = crate::domain::new_event_id();
    tokio::spawn(async move {
        while follow(&cache, &store, &follower_id).await {
            tokio::time::sleep(RETRY_AFTER).await;
        }
    })
}

/// Follow until the database fails (true: try again) or the cache is gone (false).
async fn follow(cache: &Weak<SessionCache>, store: &Store, follower_id: &str) -> bool {
    let period = catch_up_period(store.backend());
    let mut feed = match store.follow_user_changes(follower_id).await {
        Ok(feed) => feed,
        Err(error) => {
            tracing::warn!(%error, "session cache off until the database answers: every request reads its session");
            return cache.strong_count() > 0;
        }
    };
    let mut next_catch_up = Instant::now();
    loop {
        let Some(strong) = cache.upgrade() else {
            return false;
        };
        tokio::select! {
            _ = strong.wanted() => {}
            _ = tokio::time::sleep_until(next_catch_up) => {}
            announced = feed.announced() => {
                let acknowledged = match announced {
                    Ok(Announced::Users(users)) => {
                        strong.forget(&users);
                        Ok(())
                    }
                    Ok(Announced::Marker(marker)) => feed.acknowledge(&marker).await,
                    Err(error) => Err(error),
                };
                match acknowledged {
                    Ok(()) => continue,
                    Err(error) => return lost(&strong, &error),
                }
            }
        }
        let Some(mark_before) = store.database().commit_mark() else {
            // A commit is being published: look again in a moment.
            next_catch_up = Instant::now() + Duration::from_millis(1);
            continue;
        };
        let caught_up = match feed.catch_up(mark_before).await {
            Ok(caught_up) => caught_up,
            Err(error) => return lost(&strong, &error),
        };
        match caught_up.changes {
            UserChanges::Users(users) => {
                strong.forget(&users);
                strong.caught_up(mark_before, caught_up.serve_until);
                next_catch_up = Instant::now() + period;
            }
            // Caught up with nothing known: forget all, and serve again only after a
            // catch-up that knows.
            UserChanges::Unknown => {
                tracing::info!("session cache emptied: some changes may have been missed");
                strong.stop_following();
                next_catch_up = Instant::now();
            }
        }
        // Applied above: now the revokers may hear so.
        for marker in &caught_up.markers {
            if let Err(error) = feed.acknowledge(marker).await {
                return lost(&strong, &error);
            }
        }
    }
}

fn lost(cache: &SessionCache, error: &crate::storage::StorageError) -> bool {
    cache.stop_following();
    tracing::warn!(%error, "session cache off until it follows the database again: every request reads its session");
    true
}
