//! Capped exponential backoff with jitter, for spacing out fetch attempts
//! after failures.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The wait after the first failure unless configured otherwise: 1 second.
pub const DEFAULT_RETRY_MIN: Duration = Duration::from_secs(1);

/// The longest wait between attempts unless configured otherwise: 60
/// seconds.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(60);

/// The wait before attempt `failures + 1`: `min * 2^(failures - 1)`, capped
/// at `max`, then scaled by a random factor in `[0.5, 1.0)`.
///
/// The factor spreads out clients that failed together so they do not
/// retry in lockstep, while keeping at least half the step, so a server
/// that stays down sees at most two attempts per step.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    rng: AtomicU64,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration, seed: Option<u64>) -> Self {
        let seed = seed.unwrap_or_else(|| RandomState::new().hash_one(0u8));
        Backoff {
            min,
            max,
            rng: AtomicU64::new(seed),
        }
    }

    /// The wait after `failures` consecutive failures (at least 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        let step = self
            .min
            .checked_mul(1 << doublings)
            .map_or(self.max, |step| step.min(self.max));
        // Integer arithmetic, so even a step of `Duration::MAX` cannot
        // round past itself: half the step plus a random part of the
        // other half, scaled by a 32-bit fraction in [0, 1). A step is at
        // most 2^94 ns, so the product stays within 2^126.
        let nanos = step.as_nanos();
        let half = nanos / 2;
        let fraction = u128::from(self.next_random() >> 32);
        let jitter = ((nanos - half) * fraction) >> 32;
        duration_from_nanos(half + jitter)
    }

    /// splitmix64: a tiny, good-enough generator; jitter needs no more.
    /// Each call advances the shared state by one step, so concurrent
    /// calls still draw distinct numbers.
    fn next_random(&self) -> u64 {
        let gamma = 0x9E37_79B9_7F4A_7C15;
        let mut z = self
            .rng
            .fetch_add(gamma, Ordering::Relaxed)
            .wrapping_add(gamma);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn duration_from_nanos(nanos: u128) -> Duration {
    const PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / PER_SEC).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % PER_SEC) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_stay_within_the_jitter_band() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(8), Some(7));
        let steps = [1, 2, 4, 8, 8, 8];
        for (failures, step) in (1..).zip(steps) {
            let step = Duration::from_secs(step);
            let delay = backoff.delay(failures);
            assert!(delay >= step / 2 && delay < step, "{failures}: {delay:?}");
        }
    }

    #[test]
    fn the_longest_steps_do_not_overflow() {
        let backoff = Backoff::new(Duration::MAX, Duration::MAX, Some(3));
        assert!(backoff.delay(1) >= Duration::MAX / 2);
        assert!(backoff.delay(u32::MAX) >= Duration::MAX / 2);
    }

    #[test]
    fn a_huge_failure_count_does_not_overflow() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), Some(1));
        assert!(backoff.delay(u32::MAX) <= Duration::from_secs(60));
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let a = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), Some(42));
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), Some(42));
        for failures in 1..10 {
            assert_eq!(a.delay(failures), b.delay(failures));
        }
    }
}
