//! The simulated clock: real time plus an offset that tests move forward, so every expiry
//! (codes, tokens, quotas) can be reached without sleeping.
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Beijing time is UTC+8; WeChat's daily quotas reset at its midnight.
const BEIJING_OFFSET_SECS: i64 = 8 * 3600;

#[derive(Debug, Default)]
pub(crate) struct SimClock {
    offset_secs: AtomicI64,
}

impl SimClock {
    /// Unix seconds, simulated.
    pub(crate) fn now(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or(0);
        real + self.offset_secs.load(Ordering::SeqCst)
    }

    pub(crate) fn advance(&self, seconds: i64) -> i64 {
        self.offset_secs.fetch_add(seconds, Ordering::SeqCst);
        self.now()
    }
}

/// Index of the calendar minute containing `unix`.
pub(crate) fn minute_of(unix: i64) -> i64 {
    unix.div_euclid(60)
}

/// Index of the Beijing calendar day containing `unix`.
pub(crate) fn day_of(unix: i64) -> i64 {
    (unix + BEIJING_OFFSET_SECS).div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward() {
        let clock = SimClock::default();
        let before = clock.now();
        let after = clock.advance(3600);
        assert!(after >= before + 3600 && after <= before + 3601);
    }

    #[test]
    fn days_change_at_beijing_midnight() {
        // 2024-01-01T15:59:59Z is 23:59:59 in Beijing; one second later is the next day there.
        let last_second = 1_704_124_799;
        assert_eq!(day_of(last_second) + 1, day_of(last_second + 1));
        assert_eq!(minute_of(119), 1);
    }
}
