//! Per-minute counts of logins (by outcome) and WeChat calls (by endpoint and errcode, with
//! their latency) for the console's overview.
//!
//! Prometheus counters are per instance and since start; an operator looking at N
//! instances wants one chart of the last hour and day. So each instance counts here, in
//! memory (a lock and a map update per login, no I/O), and a background task adds the
//! counts to the database's `console_minutes` every [`FLUSH_PERIOD`], where every
//! instance's minutes sum up. The overview flushes its own instance first, so what the
//! reader just did shows at once, and a graceful stop flushes last (`startup.rs`), so a
//! restart loses nothing counted.
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use wxlogin_client::CallObserver;

use crate::clock::Clock;
use crate::metrics::UpstreamMetrics;
use crate::storage::{MinuteCount, Store};

/// How often an instance adds its counts to the database.
pub const FLUSH_PERIOD: Duration = Duration::from_secs(10);

/// How long per-minute figures are kept: the overview's day, and a day's margin.
pub const RETENTION_MINUTES: i64 = 2 * 24 * 60;

pub const LOGIN_SERIES: &str = "login";
pub const UPSTREAM_SERIES: &str = "upstream";

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    count: i64,
    total_ms: i64,
}

/// (minute, series, label): a login's label is its outcome's static name, a WeChat call's
/// is made from its endpoint and errcode.
type Key = (i64, &'static str, Cow<'static, str>);

/// One instance's counts not yet in the database.
pub struct MinuteTally {
    clock: Arc<dyn Clock>,
    counts: Mutex<HashMap<Key, Tally>>,
}

impl MinuteTally {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MinuteTally {
            clock,
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Tally>> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn add(&self, series: &'static str, label: Cow<'static, str>, latency: Duration) {
        let minute = self.clock.now().div_euclid(60);
        let tally = Tally {
            count: 1,
            total_ms: i64::try_from(latency.as_millis()).unwrap_or(i64::MAX / 4),
        };
        add_into(&mut self.counts(), (minute, series, label), tally);
    }

    /// A finished login: `success`, `retry` or the error code.
    pub fn record_login(&self, outcome: &'static str) {
        self.add(LOGIN_SERIES, Cow::Borrowed(outcome), Duration::ZERO);
    }

    /// Take every count out.
    fn take(&self) -> HashMap<Key, Tally> {
        std::mem::take(&mut *self.counts())
    }

    /// Add what was counted to the database. On failure the counts go back, to be added by
    /// the next flush.
    pub async fn flush(&self, store: &Store) {
        let taken = self.take();
        if let Err(error) = store.add_minute_counts(&rows(&taken)).await {
            tracing::warn!(%error, "cannot store the console's per-minute figures; retrying later");
            let mut pending = self.counts();
            for (key, tally) in taken {
                add_into(&mut pending, key, tally);
            }
        }
    }

    /// Flush every [`FLUSH_PERIOD`] and forget old minutes, until the tally is dropped.
    pub fn spawn_flush(self: &Arc<Self>, store: Store) -> tokio::task::JoinHandle<()> {
        let tally: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(FLUSH_PERIOD);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(tally) = tally.upgrade() else {
                    return;
                };
                tally.flush(&store).await;
                let before = tally.clock.now().div_euclid(60) - RETENTION_MINUTES;
                if let Err(error) = store.prune_minute_counts(before).await {
                    tracing::warn!(%error, "cannot prune the console's per-minute figures");
                }
            }
        })
    }
}

fn add_into(counts: &mut HashMap<Key, Tally>, key: Key, tally: Tally) {
    let sum = counts.entry(key).or_default();
    sum.count += tally.count;
    sum.total_ms += tally.total_ms;
}

/// The database's rows for these counts.
fn rows(counts: &HashMap<Key, Tally>) -> Vec<MinuteCount> {
    counts
        .iter()
        .map(|((minute, series, label), tally)| MinuteCount {
            minute: *minute,
            series: (*series).to_owned(),
            label: label.clone().into_owned(),
            count: tally.count,
            total_ms: tally.total_ms,
        })
        .collect()
}

/// Counts every WeChat call the client makes, and hands it on to the Prometheus metrics
/// (the client takes one observer).
pub struct UpstreamTally(pub Arc<MinuteTally>);

impl CallObserver for UpstreamTally {
    fn on_call(
        &self,
        endpoint: &'static str,
        errcode: Option<i64>,
        outcome: &str,
        latency: Duration,
    ) {
        UpstreamMetrics.on_call(endpoint, errcode, outcome, latency);
        // errcode 0 and none are both a success.
        let errcode = errcode.unwrap_or(0);
        self.0.add(
            UPSTREAM_SERIES,
            Cow::Owned(format!("{endpoint} {errcode}")),
            latency,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    struct SteppedClock(AtomicI64);

    impl Clock for SteppedClock {
        fn now(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn counts_add_up_per_minute_and_label_and_drain_once() {
        let clock = Arc::new(SteppedClock(AtomicI64::new(600)));
        let tally = Arc::new(MinuteTally::new(clock.clone()));
        tally.record_login("success");
        tally.record_login("success");
        tally.record_login("code_used");
        UpstreamTally(tally.clone()).on_call(
            "jscode2session",
            None,
            "ok",
            Duration::from_millis(30),
        );
        clock.0.store(660, Ordering::SeqCst);
        UpstreamTally(tally.clone()).on_call(
            "jscode2session",
            Some(40029),
            "error",
            Duration::from_millis(12),
        );
        UpstreamTally(tally.clone()).on_call(
            "jscode2session",
            Some(40029),
            "error",
            Duration::from_millis(8),
        );
        let mut drained: Vec<(i64, String, String, i64, i64)> = rows(&tally.take())
            .into_iter()
            .map(|c| (c.minute, c.series, c.label, c.count, c.total_ms))
            .collect();
        drained.sort();
        let row = |minute, series: &str, label: &str, count, ms| {
            (minute, series.to_owned(), label.to_owned(), count, ms)
        };
        assert_eq!(
            drained,
            vec![
                row(10, "login", "code_used", 1, 0),
                row(10, "login", "success", 2, 0),
                row(10, "upstream", "jscode2session 0", 1, 30),
                row(11, "upstream", "jscode2session 40029", 2, 20),
            ]
        );
        assert!(tally.take().is_empty());
    }
}
