//! Group `ensure_fresh`: the cost of ONE freshness check on a fresh token.
//!
//! - `token_refresh`: one poll of `TokenCache::ensure_fresh()` with the
//!   default clock (`Clock::System`, the coarse monotonic clock on Linux).
//! - `naive_mutex`: what people write by hand, a `tokio::sync::Mutex`
//!   around the token and its `std::time::Instant` expiry: lock, compare
//!   with `Instant::now()`, unlock.
//! - `std_rwlock`: a `std::sync::RwLock` read lock and the same compare.
//! - `tokio_clock`: `token_refresh` with `Clock::Tokio`, to show what the
//!   clock read costs.
//! - `floor`: the bare work of the hot path, a `CLOCK_MONOTONIC_COARSE`
//!   read and one atomic load, with no cache around it.
//!
//! Every future is polled once, directly, with a no-op waker, so no
//! executor is timed. Run with `cargo bench --bench ensure_fresh`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use token_refresh::{Clock, Error, FetchToken, Token, TokenCache};

/// Hands out a token that lives for an hour, so it stays fresh throughout.
struct LongLived;

impl FetchToken for LongLived {
    async fn fetch_token(&self, _: Option<&Token>) -> Result<Token, Error> {
        Ok(Token::new("bench-token", Duration::from_secs(3600)))
    }
}

/// A cache that already holds a fresh token.
fn fresh_cache(clock: Clock) -> TokenCache<LongLived> {
    let cache = TokenCache::builder(LongLived)
        .clock(clock)
        .build()
        .expect("valid config");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(cache.ensure_fresh()).expect("first fetch");
    assert_eq!(cache.stats().fetches, 1);
    cache
}

/// Polls `future` once.
#[inline(always)]
fn poll_once<T>(future: impl Future<Output = T>, cx: &mut Context<'_>) -> Poll<T> {
    pin!(future).poll(cx)
}

/// The hand-written cache: a Tokio mutex around the token and its expiry.
struct NaiveMutex {
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl NaiveMutex {
    async fn is_fresh(&self) -> bool {
        let token = self.token.lock().await;
        matches!(&*token, Some((_, expires)) if Instant::now() < *expires)
    }
}

/// The hand-written cache with a std read-write lock.
fn rwlock_is_fresh(lock: &RwLock<Option<(String, Instant)>>) -> bool {
    let token = lock.read().unwrap_or_else(|e| e.into_inner());
    matches!(&*token, Some((_, expires)) if Instant::now() < *expires)
}

fn an_hour_from_now() -> Option<(String, Instant)> {
    Some((
        "bench-token".to_owned(),
        Instant::now() + Duration::from_secs(3600),
    ))
}

/// `CLOCK_MONOTONIC_COARSE` read straight from the C library std already
/// links, so the floor needs no `libc` dev-dependency.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod coarse {
    use std::ffi::{c_int, c_long};

    #[repr(C)]
    struct Timespec {
        tv_sec: c_long,
        tv_nsec: c_long,
    }

    unsafe extern "C" {
        fn clock_gettime(clock: c_int, now: *mut Timespec) -> c_int;
    }

    const CLOCK_MONOTONIC_COARSE: c_int = 6;

    #[inline(always)]
    pub fn nanos() -> u64 {
        let mut now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid, writable timespec.
        unsafe { clock_gettime(CLOCK_MONOTONIC_COARSE, &mut now) };
        (now.tv_sec as u64) * 1_000_000_000 + now.tv_nsec as u64
    }
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
mod coarse {
    use std::sync::LazyLock;
    use std::time::Instant;

    static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);

    #[inline(always)]
    pub fn nanos() -> u64 {
        ORIGIN.elapsed().as_nanos() as u64
    }
}

fn ensure_fresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("ensure_fresh");
    let mut cx = Context::from_waker(Waker::noop());

    // Counts checks that did not find the token fresh; must stay 0.
    let mut misses = 0u64;

    let cache = fresh_cache(Clock::System);
    group.bench_function("token_refresh", |b| {
        b.iter(|| {
            let ready = poll_once(black_box(&cache).ensure_fresh(), &mut cx);
            misses += u64::from(!matches!(ready, Poll::Ready(Ok(()))));
        })
    });
    assert_eq!(misses, 0, "token_refresh: the token was not fresh");
    assert_eq!(cache.stats().fetches, 1, "token_refresh fetched again");

    let naive = NaiveMutex {
        token: tokio::sync::Mutex::new(an_hour_from_now()),
    };
    group.bench_function("naive_mutex", |b| {
        b.iter(|| {
            let ready = poll_once(black_box(&naive).is_fresh(), &mut cx);
            misses += u64::from(!matches!(ready, Poll::Ready(true)));
        })
    });
    assert_eq!(misses, 0, "naive_mutex: the token was not fresh");

    let rwlock = RwLock::new(an_hour_from_now());
    group.bench_function("std_rwlock", |b| {
        b.iter(|| {
            misses += u64::from(!rwlock_is_fresh(black_box(&rwlock)));
        })
    });
    assert_eq!(misses, 0, "std_rwlock: the token was not fresh");

    let tokio_cache = fresh_cache(Clock::Tokio);
    group.bench_function("tokio_clock", |b| {
        b.iter(|| {
            let ready = poll_once(black_box(&tokio_cache).ensure_fresh(), &mut cx);
            misses += u64::from(!matches!(ready, Poll::Ready(Ok(()))));
        })
    });
    assert_eq!(misses, 0, "tokio_clock: the token was not fresh");

    let origin = coarse::nanos();
    let refresh_at = AtomicU64::new(u64::MAX);
    group.bench_function("floor", |b| {
        b.iter(|| {
            let now = coarse::nanos().saturating_sub(black_box(origin));
            let fresh = now < black_box(&refresh_at).load(Ordering::Acquire);
            misses += u64::from(!fresh);
        })
    });
    assert_eq!(misses, 0, "floor: the deadline was passed");

    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = ensure_fresh
}
criterion_main!(benches);
