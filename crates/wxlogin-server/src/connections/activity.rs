//! What a connection is doing, as its supervisor and the capacity registry need to know:
//! how many requests are in flight, and since when it has been idle. Requests update it
//! through [`InFlight`] guards; readers hold a `watch` receiver and read it when they need
//! to. The updates do not wake them: a wake-up per request start and end was a task
//! switch per request (BENCHMARKS.md, "/v1/me"); the supervisor reads the state again when
//! its own deadline passes.
use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Activity {
    pub in_flight: usize,
    /// When the last request ended (or the connection was accepted).
    pub idle_since: Instant,
    /// Whether any request arrived yet: a connection that never sent one gets the read
    /// timeout, not the (longer) keep-alive idle timeout.
    pub served: bool,
}

impl Activity {
    pub fn is_idle(&self) -> bool {
        self.in_flight == 0
    }
}

/// The writing side, shared by the connection's service clones.
#[derive(Clone)]
pub struct ActivitySender(Arc<watch::Sender<Activity>>);

impl ActivitySender {
    pub fn new() -> (ActivitySender, watch::Receiver<Activity>) {
        let (sender, receiver) = watch::channel(Activity {
            in_flight: 0,
            idle_since: Instant::now(),
            served: false,
        });
        (ActivitySender(Arc::new(sender)), receiver)
    }

    /// A request arrived; it counts as in flight until the guard is dropped.
    pub fn begin(&self) -> InFlight {
        self.0.send_if_modified(|activity| {
            activity.in_flight += 1;
            activity.served = true;
            false
        });
        InFlight(self.clone())
    }
}

/// Held while one request is being answered.
pub struct InFlight(ActivitySender);

impl Drop for InFlight {
    fn drop(&mut self) {
        (self.0).0.send_if_modified(|activity| {
            activity.in_flight -= 1;
            if activity.in_flight == 0 {
                activity.idle_since = Instant::now();
            }
            false
        });
    }
}
