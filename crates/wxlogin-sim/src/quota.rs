//! Fixed-window call counters behind 45011 (per minute) and 45009 (per day).
use std::collections::HashMap;

#[derive(Debug, Default)]
pub(crate) struct QuotaCounters {
    windows: HashMap<(&'static str, String), (i64, u32)>,
    takes_since_sweep: usize,
}

impl QuotaCounters {
    /// Count one call of `kind` by `subject` in `window`; false (and not counted) when `max`
    /// calls were already made in that window.
    pub(crate) fn try_take(
        &mut self,
        kind: &'static str,
        subject: &str,
        window: i64,
        max: u32,
    ) -> bool {
        self.takes_since_sweep += 1;
        if self.takes_since_sweep >= 65_536 {
            // Windows are minutes or days; anything older than the current ones is dead.
            self.windows.retain(|_, (seen, _)| *seen >= window - 1);
            self.takes_since_sweep = 0;
        }
        let slot = self
            .windows
            .entry((kind, subject.to_owned()))
            .or_insert((window, 0));
        if slot.0 != window {
            *slot = (window, 0);
        }
        if slot.1 >= max {
            return false;
        }
        slot.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_subject_and_resets_with_the_window() {
        let mut counters = QuotaCounters::default();
        assert!(counters.try_take("k", "alice", 1, 2));
        assert!(counters.try_take("k", "alice", 1, 2));
        assert!(!counters.try_take("k", "alice", 1, 2));
        assert!(counters.try_take("k", "bob", 1, 2));
        assert!(counters.try_take("other", "alice", 1, 2));
        assert!(counters.try_take("k", "alice", 2, 2));
    }
}
