//! The connection caps. Every open connection holds a file descriptor, so without a cap
//! a few hundred sockets that send nothing exhaust the open-files limit and nobody else
//! gets in, `/healthz` included. At a cap the server makes room by closing the
//! connection that has been idle longest (no request in flight: a silent socket or a
//! parked keep-alive connection, both cheap for the client to replace); only when every
//! connection is busy is the new one refused. Either way a rate-limited warning says so.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::activity::Activity;

/// Descriptors kept for everything but client connections: the listener, the runtime,
/// calls to WeChat, the log, the simulator of `--sim`.
const RESERVED_DESCRIPTORS: u64 = 64;
/// SQLite opens the database, its WAL and its shared-memory file per connection.
const DESCRIPTORS_PER_DATABASE_CONNECTION: u64 = 3;
/// At most one warning about a cap per this period, counting what happened in between.
const CAP_LOG_PERIOD: Duration = Duration::from_secs(10);

/// The caps and the connections they count.
pub struct Capacity {
    max_total: usize,
    /// 0: no per-address cap.
    max_per_address: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    open: HashMap<u64, Entry>,
    per_address: HashMap<IpAddr, usize>,
    log: CapLog,
}

struct Entry {
    address: IpAddr,
    activity: watch::Receiver<Activity>,
    evict: Arc<Notify>,
}

/// One admitted connection's place; dropping it frees the place.
pub struct Slot {
    id: u64,
    capacity: Arc<Capacity>,
    evict: Arc<Notify>,
}

impl Slot {
    /// Completes when the connection was chosen to make room for a new one.
    pub async fn evicted(&self) {
        self.evict.notified().await
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.capacity.lock().remove(self.id);
    }
}

impl Capacity {
    pub fn new(max_total: usize, max_per_address: usize) -> Arc<Capacity> {
        Arc::new(Capacity {
            max_total: max_total.max(1),
            max_per_address,
            inner: Mutex::new(Inner::default()),
        })
    }

    /// A place for a new connection from `address`, making room if a cap is reached;
    /// `None` when every connection in the way is busy.
    pub fn admit(
        self: &Arc<Self>,
        address: IpAddr,
        activity: watch::Receiver<Activity>,
    ) -> Option<Slot> {
        let mut inner = self.lock();
        if self.max_per_address > 0
            && inner.per_address.get(&address).copied().unwrap_or(0) >= self.max_per_address
        {
            let made_room = inner.evict_longest_idle(|entry| entry.address == address);
            inner
                .log
                .record("per address", self.max_per_address, made_room);
            if !made_room {
                return None;
            }
        }
        if inner.open.len() >= self.max_total {
            let made_room = inner.evict_longest_idle(|_| true);
            inner.log.record("total", self.max_total, made_room);
            if !made_room {
                return None;
            }
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let evict = Arc::new(Notify::new());
        inner.open.insert(
            id,
            Entry {
                address,
                activity,
                evict: evict.clone(),
            },
        );
        *inner.per_address.entry(address).or_insert(0) += 1;
        Some(Slot {
            id,
            capacity: self.clone(),
            evict,
        })
    }

    /// Connections counted now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.lock().open.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The map stays consistent even if a holder panicked: every change is one step.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    /// Tell the idle connection (among those `eligible`) idle the longest to close, and
    /// stop counting it; false when none is idle.
    fn evict_longest_idle(&mut self, eligible: impl Fn(&Entry) -> bool) -> bool {
        let chosen = self
            .open
            .iter()
            .filter(|(_, entry)| eligible(entry))
            .filter_map(|(id, entry)| {
                let activity = *entry.activity.borrow();
                activity.is_idle().then_some((*id, activity.idle_since))
            })
            .min_by_key(|(_, idle_since)| *idle_since)
            .map(|(id, _)| id);
        match chosen.and_then(|id| self.remove(id)) {
            Some(entry) => {
                entry.evict.notify_one();
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.open.remove(&id)?;
        if let Some(count) = self.per_address.get_mut(&entry.address) {
            *count -= 1;
            if *count == 0 {
                self.per_address.remove(&entry.address);
            }
        }
        Some(entry)
    }
}

/// Counts cap events between warnings.
#[derive(Default)]
struct CapLog {
    last: Option<Instant>,
    idle_closed: u64,
    refused: u64,
}

impl CapLog {
    fn record(&mut self, cap: &'static str, limit: usize, made_room: bool) {
        if made_room {
            self.idle_closed += 1;
        } else {
            self.refused += 1;
        }
        let now = Instant::now();
        if self.last.is_some_and(|last| now - last < CAP_LOG_PERIOD) {
            return;
        }
        tracing::warn!(
            cap,
            limit,
            idle_closed = self.idle_closed,
            refused = self.refused,
            "connection limit reached: closing the longest-idle connections to make room, refusing new ones while all are busy (counts since the last such line; see --max-connections)"
        );
        self.last = Some(now);
        self.idle_closed = 0;
        self.refused = 0;
    }
}

/// The total cap actually used: `configured`, unless the open-files limit leaves room
/// for fewer connections (after raising the soft limit towards the hard one, which needs
/// no privilege), in which case the room left, with a warning.
pub fn effective_max_connections(configured: usize, db_max_connections: u32) -> usize {
    let reserved = RESERVED_DESCRIPTORS
        + DESCRIPTORS_PER_DATABASE_CONNECTION * (u64::from(db_max_connections) + 1);
    let wanted = reserved.saturating_add(configured as u64);
    let Some(open_files) = raise_open_files_limit(wanted) else {
        return configured;
    };
    let room = open_files.saturating_sub(reserved).max(1);
    if room < configured as u64 {
        tracing::warn!(
            open_files_limit = open_files,
            configured,
            max_connections = room,
            "the open-files limit leaves room for fewer connections than --max-connections; capping there (raise LimitNOFILE / ulimit -n)"
        );
        room as usize
    } else {
        configured
    }
}

/// Raise the soft open-files limit to `wanted` or the hard limit; the soft limit after.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not on every unix
fn raise_open_files_limit(wanted: u64) -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        let wanted = wanted as libc::rlim_t;
        if limit.rlim_cur != libc::RLIM_INFINITY && limit.rlim_cur < wanted {
            let raised = libc::rlimit {
                rlim_cur: if limit.rlim_max == libc::RLIM_INFINITY {
                    wanted
                } else {
                    limit.rlim_max.min(wanted)
                },
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = raised.rlim_cur;
            }
        }
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    Some(limit.rlim_cur as u64)
}

#[cfg(not(unix))]
fn raise_open_files_limit(_wanted: u64) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::connections::activity::ActivitySender;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[tokio::test]
    async fn at_the_cap_the_longest_idle_connection_makes_room() {
        let capacity = Capacity::new(2, 0);
        let (_first, first_activity) = ActivitySender::new();
        let first_slot = capacity.admit(A, first_activity).unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (_second, second_activity) = ActivitySender::new();
        let _second_slot = capacity.admit(A, second_activity).unwrap();
        let (_third, third_activity) = ActivitySender::new();
        let _third_slot = capacity.admit(B, third_activity).expect("room was made");
        assert_eq!(capacity.open(), 2);
        tokio::time::timeout(Duration::from_secs(1), first_slot.evicted())
            .await
            .expect("the oldest idle connection is told to close");
    }

    #[tokio::test]
    async fn when_every_connection_is_busy_a_new_one_is_refused() {
        let capacity = Capacity::new(1, 0);
        let (busy, activity) = ActivitySender::new();
        let _slot = capacity.admit(A, activity).unwrap();
        let request = busy.begin();
        let (_other, other_activity) = ActivitySender::new();
        assert!(capacity.admit(B, other_activity.clone()).is_none());
        drop(request);
        assert!(capacity.admit(B, other_activity).is_some());
    }

    #[tokio::test]
    async fn the_per_address_cap_closes_that_address_own_idle_connections() {
        let capacity = Capacity::new(10, 1);
        let (_b, b_activity) = ActivitySender::new();
        let b_slot = capacity.admit(B, b_activity).unwrap();
        let (_a, a_activity) = ActivitySender::new();
        let a_slot = capacity.admit(A, a_activity).unwrap();
        let (_a2, a2_activity) = ActivitySender::new();
        let _a2_slot = capacity.admit(A, a2_activity).unwrap();
        assert_eq!(capacity.open(), 2);
        tokio::time::timeout(Duration::from_secs(1), a_slot.evicted())
            .await
            .expect("A's older connection makes room for A's new one");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), b_slot.evicted())
                .await
                .is_err(),
            "B's connection is left alone"
        );
    }

    #[tokio::test]
    async fn a_closed_connection_frees_its_place() {
        let capacity = Capacity::new(1, 1);
        let (_one, activity) = ActivitySender::new();
        let slot = capacity.admit(A, activity).unwrap();
        drop(slot);
        assert_eq!(capacity.open(), 0);
        let (_two, activity) = ActivitySender::new();
        assert!(capacity.admit(A, activity).is_some());
    }
}
