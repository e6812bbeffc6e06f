//! The simulated clock: real time plus an offset that tests move forward, so every expiry
//! (codes, tokens, quotas) can be reached without sleeping.
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The clock never runs more than ~1000 years ahead, so expiry arithmetic cannot overflow.
const MAX_OFFSET_SECS: i64 = 1000 * 365 * 86_400;

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

    /// Move forward by `seconds` (at most up to the cap); returns the new time.
    pub(crate) fn advance(&self, seconds: u64) -> i64 {
        let step = i64::try_from(seconds).unwrap_or(MAX_OFFSET_SECS);
        let _ = self
            .offset_secs
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |offset| {
                Some(offset.saturating_add(step).min(MAX_OFFSET_SECS))
            });
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
    fn huge_advances_stop_at_the_cap() {
        let clock = SimClock::default();
        clock.advance(u64::MAX);
        let capped = clock.advance(u64::MAX);
        assert!(capped <= clock.now());
        assert!(capped.checked_add(86_400 * 365).is_some());
    }

    #[test]
    fn days_change_at_beijing_midnight() {
        // 2024-01-01T15:59:59Z is 23:59:59 in Beijing; one second later is the next day there.
        let last_second = 1_704_124_799;
        assert_eq!(day_of(last_second) + 1, day_of(last_second + 1));
        assert_eq!(minute_of(119), 1);
    }
}
