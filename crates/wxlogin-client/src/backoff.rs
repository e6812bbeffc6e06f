//! Jittered exponential backoff for the retries that are safe.
use std::time::Duration;

use rand::Rng;

const MAX_DELAY: Duration = Duration::from_secs(10);

/// Delay before retry number `attempt` (0 for the first retry): `base · 2^attempt`,
/// scaled by a random factor in [0.5, 1.5) so that many callers do not retry in step,
/// capped at 10 s.
pub(crate) fn retry_delay(base: Duration, attempt: u32) -> Duration {
    let exponential = base.saturating_mul(1u32 << attempt.min(16));
    let jitter: f64 = rand::thread_rng().gen_range(0.5..1.5);
    exponential.mul_f64(jitter).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_stays_within_jitter_bounds() {
        let base = Duration::from_millis(100);
        for attempt in 0..4 {
            let nominal = base * (1 << attempt);
            for _ in 0..50 {
                let delay = retry_delay(base, attempt);
                assert!(
                    delay >= nominal / 2 && delay < nominal * 3 / 2,
                    "{delay:?} vs {nominal:?}"
                );
            }
        }
        assert!(retry_delay(Duration::from_secs(5), 30) <= MAX_DELAY);
    }
}
