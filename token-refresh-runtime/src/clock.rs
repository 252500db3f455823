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
    /// `tokio::time::pause` and `tokio::time::advance`. Use it in
    /// tests that drive expiry with paused time; it costs more per check.
    Tokio,
}

/// A [`Clock`] bound to an origin.
#[derive(Debug)]
pub(crate) struct Timeline {
    source: Source,
    /// The origin as an `Instant`, for converting token deadlines.
    origin: Instant,
}

/// Where `now()` reads, chosen once so the hot path does not branch on
/// failures.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// The coarse system clock, and its reading at the origin.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Coarse { origin_raw: u64 },
    /// `std::time::Instant`: the system clock elsewhere, or where the
    /// coarse clock cannot be read.
    Instant,
    /// Tokio's clock.
    Tokio,
}

impl Timeline {
    pub fn new(clock: Clock) -> Self {
        let origin = Instant::now();
        let source = match clock {
            Clock::System => system_source(),
            Clock::Tokio => Source::Tokio,
        };
        Timeline { source, origin }
    }

    /// Nanoseconds since the origin.
    #[inline]
    pub fn now(&self) -> u64 {
        match self.source {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Source::Coarse { origin_raw } => sys::coarse_nanos().saturating_sub(origin_raw),
            Source::Instant => self.since_origin(std::time::Instant::now().into()),
            Source::Tokio => self.since_origin(Instant::now()),
        }
    }

    /// Nanoseconds from the origin to `at`; 0 for any instant before it.
    #[inline]
    pub fn since_origin(&self, at: Instant) -> u64 {
        nanos(at.saturating_duration_since(self.origin))
    }
}

/// The coarse clock if both it and the precise clock answer now; they
/// then always will, since `clock_gettime` fails only for a clock the
/// kernel lacks.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn system_source() -> Source {
    match (sys::try_precise_nanos(), sys::try_coarse_nanos()) {
        (Some(origin_raw), Some(_)) => Source::Coarse { origin_raw },
        _ => Source::Instant,
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn system_source() -> Source {
    Source::Instant
}

/// A duration in nanoseconds. u64 nanoseconds last 584 years, far beyond
/// `Token::MAX_LIFETIME`; anything longer saturates.
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod sys {
    /// Reads `clock`; `None` if the kernel does not have it. `Instant`
    /// reads `CLOCK_MONOTONIC`, and the coarse clock is the same clock at
    /// tick resolution, so readings of the two share an origin.
    #[inline]
    fn read(clock: libc::clockid_t) -> Option<u64> {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid, writable timespec that outlives the
        // call, which writes nothing else.
        let status = unsafe { libc::clock_gettime(clock, &mut now) };
        // A monotonic clock never reads negative; the casts are exact.
        let nanos = (now.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(now.tv_nsec as u64);
        (status == 0).then_some(nanos)
    }

    /// The coarse clock, known to work: `Timeline` checked it first.
    #[inline]
    pub fn coarse_nanos() -> u64 {
        read(libc::CLOCK_MONOTONIC_COARSE).unwrap_or(0)
    }

    pub fn try_coarse_nanos() -> Option<u64> {
        read(libc::CLOCK_MONOTONIC_COARSE)
    }

    pub fn try_precise_nanos() -> Option<u64> {
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
