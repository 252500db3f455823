//! [`Clock`]: where a cache reads the time.
//!
//! The cache keeps deadlines as nanoseconds since its own origin, so the
//! fresh-token check compares two integers. The clock only has to say how
//! many nanoseconds have passed since that origin.

use std::time::Duration;

use tokio::time::Instant;

/// The time source a [`TokenCache`](crate::TokenCache) checks expiry
/// against.
///
/// ```
/// use token_refresh_runtime::Clock;
///
/// assert_eq!(Clock::default(), Clock::System);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Clock {
    /// The operating system's monotonic clock, read in its fastest form.
    ///
    /// On Linux this is `CLOCK_MONOTONIC_COARSE`, which costs a few
    /// nanoseconds and advances once per kernel tick (1 to 10 ms). A fresh
    /// token may therefore be treated as fresh for up to one tick after
    /// its refresh point: nothing next to margins of seconds, and the
    /// coarse clock never runs ahead, so a token is never refreshed early.
    /// Elsewhere it is [`std::time::Instant`].
    #[default]
    System,
    /// Tokio's clock, which stops and jumps with
    /// [`tokio::time::pause`] and [`tokio::time::advance`]. Use it in
    /// tests that drive expiry with paused time; it costs more per check.
    Tokio,
}

/// A [`Clock`] bound to an origin.
#[derive(Debug)]
pub(crate) struct Timeline {
    clock: Clock,
    /// The origin as an `Instant`, for converting token deadlines.
    origin: Instant,
    /// The origin as the raw reading of the system clock, if it could be
    /// read.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    origin_raw: Option<u64>,
}

impl Timeline {
    pub fn new(clock: Clock) -> Self {
        Timeline {
            clock,
            origin: Instant::now(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            origin_raw: sys::precise_nanos(),
        }
    }

    /// Nanoseconds since the origin.
    #[inline]
    pub fn now(&self) -> u64 {
        match self.clock {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Clock::System => match (self.origin_raw, sys::coarse_nanos()) {
                (Some(origin), Some(now)) => now.saturating_sub(origin),
                _ => self.since_origin(Instant::now()),
            },
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            Clock::System => self.since_origin(std::time::Instant::now().into()),
            Clock::Tokio => self.since_origin(Instant::now()),
        }
    }

    /// Nanoseconds from the origin to `at`; 0 for any instant before it.
    #[inline]
    pub fn since_origin(&self, at: Instant) -> u64 {
        nanos(at.saturating_duration_since(self.origin))
    }
}

/// A duration in nanoseconds. u64 nanoseconds last 584 years, far beyond
/// `Token::MAX_LIFETIME`; anything longer saturates.
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod sys {
    /// `Instant` reads `CLOCK_MONOTONIC`; the coarse clock is the same
    /// clock at tick resolution, so readings of the two share an origin.
    /// `None` if the call fails, which no Linux since 2.6.32 does; callers
    /// then fall back to `Instant`.
    fn read(clock: libc::clockid_t) -> Option<u64> {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid, writable timespec that outlives the
        // call, which writes nothing else.
        let status = unsafe { libc::clock_gettime(clock, &mut now) };
        if status != 0 {
            return None;
        }
        let secs = u64::try_from(now.tv_sec).ok()?;
        let subsec = u64::try_from(now.tv_nsec).ok()?;
        Some(secs.saturating_mul(1_000_000_000).saturating_add(subsec))
    }

    #[inline]
    pub fn coarse_nanos() -> Option<u64> {
        read(libc::CLOCK_MONOTONIC_COARSE)
    }

    pub fn precise_nanos() -> Option<u64> {
        read(libc::CLOCK_MONOTONIC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_tracks_instant_to_within_a_tick() {
        let timeline = Timeline::new(Clock::System);
        std::thread::sleep(Duration::from_millis(50));
        let coarse = timeline.now();
        let precise = timeline.since_origin(Instant::now());
        // The coarse clock lags by at most one tick (10 ms at HZ=100)
        // and never leads.
        assert!(coarse <= precise, "{coarse} > {precise}");
        assert!(precise - coarse < 20_000_000, "{coarse} vs {precise}");
        assert!(coarse >= 40_000_000, "{coarse}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_follows_paused_time() {
        let timeline = Timeline::new(Clock::Tokio);
        tokio::time::advance(Duration::from_secs(7)).await;
        assert_eq!(timeline.now(), 7_000_000_000);
    }
}
