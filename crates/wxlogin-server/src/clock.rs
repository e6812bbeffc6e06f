//! Where the server reads the time. Everything time-dependent (code retry window,
//! token lifetimes, watermark age) asks the [`Clock`] so tests can move time forward.
use std::sync::atomic::{AtomicI64, Ordering};

use crate::storage::{unix_now, UnixSeconds};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> UnixSeconds;
}

/// The real time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixSeconds {
        unix_now()
    }
}

/// A clock that follows the real one plus an offset that tests advance.
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset_secs: AtomicI64,
}

impl OffsetClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> UnixSeconds {
        unix_now() + self.offset_secs.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_clock_moves_forward() {
        let clock = OffsetClock::new();
        let before = clock.now();
        clock.advance(120);
        assert!(clock.now() >= before + 120);
    }
}
