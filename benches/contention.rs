//! Group `contention`: checks per second when 1 or 2 threads hammer the
//! same cache with a fresh token.
//!
//! One iteration is one check on each thread, so criterion's throughput
//! (elements per second) is the number of checks all threads together
//! complete per second. Threads are spawned before the clock starts and
//! released together by a barrier; the time is from the first thread's
//! start until the last one is done, as the threads read it themselves.
//!
//! - `threads_1`, `threads_2`: polls of `TokenCache::ensure_fresh()`.
//! - `std_rwlock_threads_1`, `std_rwlock_threads_2`: the same with a
//!   `std::sync::RwLock` read lock and an `Instant::now()` compare, for
//!   reference.
//! - `independent_threads_1`, `independent_threads_2`: some arithmetic
//!   per check on nothing shared: how far two threads can scale on this
//!   machine at all.
//!
//! After the group the 1- and 2-thread runs of all three take turns for
//! `ROUNDS` rounds (each run about `ROUND_TIME` long) and the 2-thread
//! over 1-thread throughput ratios are printed as
//! `contention/interleaved/*`: from the fastest run of each, the least
//! disturbed by other work on the machine, and the median over rounds.
//!
//! Run with `cargo bench --bench contention`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Barrier, RwLock};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use token_refresh::{Error, FetchToken, Token, TokenCache};

/// Hands out a token that lives for an hour, so it stays fresh throughout.
struct LongLived;

impl FetchToken for LongLived {
    async fn fetch_token(&self, _: Option<&Token>) -> Result<Token, Error> {
        Ok(Token::new("bench-token", Duration::from_secs(3600)))
    }
}

/// A cache that already holds a fresh token.
fn fresh_cache() -> TokenCache<LongLived> {
    let cache = TokenCache::new(LongLived);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(cache.ensure_fresh()).expect("first fetch");
    cache
}

/// Polls `future` once.
#[inline(always)]
fn poll_once<T>(future: impl Future<Output = T>, cx: &mut Context<'_>) -> Poll<T> {
    pin!(future).poll(cx)
}

/// Runs `check` `iters` times on each of `threads` threads at once and
/// returns the wall time from the first thread's start until the last
/// one is done. Panics if any check returned false.
///
/// Each thread reads the clock itself: the spawning thread would start
/// its clock late whenever the workers keep both cores busy.
fn hammer(threads: usize, iters: u64, check: impl Fn() -> bool + Sync) -> Duration {
    let start = Barrier::new(threads);
    let runs: Vec<(Instant, Instant, u64)> = thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let began = Instant::now();
                    let mut misses = 0u64;
                    for _ in 0..iters {
                        misses += u64::from(!check());
                    }
                    (began, Instant::now(), misses)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let misses: u64 = runs.iter().map(|r| r.2).sum();
    assert_eq!(misses, 0, "a check did not find the token fresh");
    let began = runs.iter().map(|r| r.0).min().unwrap();
    let ended = runs.iter().map(|r| r.1).max().unwrap();
    ended - began
}

/// How long one thread runs in one round of the interleaved comparison.
const ROUND_TIME: Duration = Duration::from_millis(10);
/// Rounds (one 1-thread and one 2-thread run of each check) in it.
const ROUNDS: usize = 40;

/// The 1- and 2-thread runs of one check, taking turns round by round.
#[derive(Default)]
struct Scaling {
    checks: u64,
    one: Vec<Duration>,
    two: Vec<Duration>,
}

impl Scaling {
    /// Sizes the runs so that one thread takes about `ROUND_TIME`.
    fn new(check: &(impl Fn() -> bool + Sync)) -> Self {
        let probe = 100_000;
        let took = hammer(1, probe, check);
        let checks = (probe as f64 * ROUND_TIME.as_secs_f64() / took.as_secs_f64()) as u64;
        Scaling {
            checks: checks.max(1),
            ..Scaling::default()
        }
    }

    fn round(&mut self, round: usize, check: &(impl Fn() -> bool + Sync)) {
        if round % 2 == 0 {
            self.one.push(hammer(1, self.checks, check));
            self.two.push(hammer(2, self.checks, check));
        } else {
            self.two.push(hammer(2, self.checks, check));
            self.one.push(hammer(1, self.checks, check));
        }
    }

    /// One line of the report: the time per check on each thread in the
    /// fastest 1- and 2-thread runs (the least disturbed by other work on
    /// the machine), and the 2-thread over 1-thread throughput ratio from
    /// those runs and as the median over rounds.
    fn report(&self, name: &str) -> String {
        let per_check = |d: &Duration| d.as_secs_f64() * 1e9 / self.checks as f64;
        // Twice the checks in a 2-thread run as in a 1-thread run.
        let ratio = |one: &Duration, two: &Duration| 2.0 * one.as_secs_f64() / two.as_secs_f64();
        let (one, two) = (
            self.one.iter().min().unwrap(),
            self.two.iter().min().unwrap(),
        );
        let mut each: Vec<f64> = (self.one.iter().zip(&self.two))
            .map(|(one, two)| ratio(one, two))
            .collect();
        each.sort_unstable_by(f64::total_cmp);
        format!(
            "contention/interleaved/{name}: fastest runs {:.2} ns/check on 1 thread, \
             {:.2} ns/check a thread on 2; 2-thread/1-thread throughput {:.2}x (fastest \
             runs), {:.2}x (median of {ROUNDS} rounds)",
            per_check(one),
            per_check(two),
            ratio(one, two),
            each[each.len() / 2],
        )
    }
}

fn contention(c: &mut Criterion) {
    let cache = fresh_cache();
    let token_refresh = || {
        let mut cx = Context::from_waker(Waker::noop());
        let ready = poll_once(black_box(&cache).ensure_fresh(), &mut cx);
        matches!(ready, Poll::Ready(Ok(())))
    };
    let rwlock = RwLock::new(Some((
        "bench-token".to_owned(),
        Instant::now() + Duration::from_secs(3600),
    )));
    let std_rwlock = || {
        let token = black_box(&rwlock).read().unwrap_or_else(|e| e.into_inner());
        matches!(&*token, Some((_, expires)) if Instant::now() < *expires)
    };
    // The machine's own ceiling: some arithmetic on nothing shared, which
    // scales as far as two cores of this machine let anything scale.
    let independent = || {
        let mut x = black_box(0x9E37_79B9_7F4A_7C15u64);
        for _ in 0..12 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        black_box(x) != 0
    };

    let mut group = c.benchmark_group("contention");
    group.sample_size(20);
    for threads in [1, 2] {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(format!("threads_{threads}"), |b| {
            b.iter_custom(|iters| hammer(threads, iters, token_refresh))
        });
    }
    for threads in [1, 2] {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(format!("std_rwlock_threads_{threads}"), |b| {
            b.iter_custom(|iters| hammer(threads, iters, std_rwlock))
        });
    }
    for threads in [1, 2] {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(format!("independent_threads_{threads}"), |b| {
            b.iter_custom(|iters| hammer(threads, iters, independent))
        });
    }
    group.finish();

    // Separate criterion runs drift apart on a shared machine; taking
    // turns, round by round, cancels that drift out.
    let mut scaling = [
        Scaling::new(&token_refresh),
        Scaling::new(&std_rwlock),
        Scaling::new(&independent),
    ];
    for round in 0..ROUNDS {
        scaling[0].round(round, &token_refresh);
        scaling[1].round(round, &std_rwlock);
        scaling[2].round(round, &independent);
    }
    for (s, name) in scaling
        .iter()
        .zip(["token_refresh", "std_rwlock", "independent"])
    {
        println!("{}", s.report(name));
    }
    assert_eq!(cache.stats().fetches, 1, "the cache fetched again");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = contention
}
criterion_main!(benches);
