//! WeChat's limits on `stable_token` with `force_refresh: true`, enforced before calling:
//! at least 30 s apart (closer calls refresh nothing) and at most 20 a day (then 45009).
//! This count is per process; WeChat's is per AppID, so the automatic force refresh of a
//! token WeChat refused also reserves its attempt in the shared token store
//! ([`crate::AccessTokenStore::reserve_force_refresh`], one count for every instance), under
//! the cross-instance lease; a force within WeChat's 30 s of another system's refreshes
//! nothing and is detected as such.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub(crate) const MIN_SPACING: Duration = Duration::from_secs(30);
pub(crate) const DAILY_LIMIT: usize = 20;
const SECONDS_PER_DAY: u64 = 86_400;

/// The day WeChat counts in: assumed to be the calendar day in China (UTC+8), when its
/// quotas reset (a guess; wechat-api.md gives no time zone).
pub(crate) fn china_day(since_epoch: Duration) -> u64 {
    (since_epoch.as_secs() + 8 * 3600) / SECONDS_PER_DAY
}

#[derive(Default)]
pub(crate) struct ForceRefreshLimiter {
    /// Per appid: when force refreshes were attempted, as time since the Unix epoch.
    attempts: Mutex<HashMap<String, Vec<Duration>>>,
}

impl ForceRefreshLimiter {
    /// Record an attempt at `now` (since the Unix epoch) if the limits allow one;
    /// otherwise how long until they do.
    pub fn reserve(&self, appid: &str, now: Duration) -> Result<(), Duration> {
        let mut attempts = self
            .attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let history = attempts.entry(appid.to_string()).or_default();
        if let Some(last) = history.last() {
            let since_last = now.saturating_sub(*last);
            if since_last < MIN_SPACING {
                return Err(MIN_SPACING - since_last);
            }
        }
        let day_of = china_day;
        let today = day_of(now);
        history.retain(|at| day_of(*at) == today);
        if history.len() >= DAILY_LIMIT {
            let next_day_starts = Duration::from_secs((today + 1) * SECONDS_PER_DAY - 8 * 3600);
            return Err(next_day_starts.saturating_sub(now));
        }
        history.push(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: Duration = Duration::from_secs(1_700_000_000);

    #[test]
    fn second_attempt_within_thirty_seconds_is_refused() {
        let limiter = ForceRefreshLimiter::default();
        assert_eq!(limiter.reserve("app", START), Ok(()));
        assert_eq!(
            limiter.reserve("app", START + Duration::from_secs(10)),
            Err(Duration::from_secs(20))
        );
        assert_eq!(
            limiter.reserve("other", START + Duration::from_secs(10)),
            Ok(())
        );
        assert_eq!(limiter.reserve("app", START + MIN_SPACING), Ok(()));
    }

    #[test]
    fn twenty_first_attempt_of_a_day_waits_for_the_next_day() {
        let limiter = ForceRefreshLimiter::default();
        // 16:00 UTC+8 on some day, so twenty attempts a minute apart stay in that day.
        let day_start = (START.as_secs() + 8 * 3600) / SECONDS_PER_DAY * SECONDS_PER_DAY - 8 * 3600;
        let afternoon = Duration::from_secs(day_start + 16 * 3600);
        for attempt in 0..DAILY_LIMIT as u64 {
            assert_eq!(
                limiter.reserve("app", afternoon + Duration::from_secs(60 * attempt)),
                Ok(())
            );
        }
        let refused_at = afternoon + Duration::from_secs(60 * DAILY_LIMIT as u64);
        let retry_after = limiter.reserve("app", refused_at).unwrap_err();
        assert_eq!(
            refused_at + retry_after,
            Duration::from_secs(day_start + SECONDS_PER_DAY)
        );
        assert_eq!(limiter.reserve("app", refused_at + retry_after), Ok(()));
    }
}
