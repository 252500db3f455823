//! Group `storm`: 10,000 Tokio tasks arrive at once at an expired token
//! whose fetch takes 20 ms.
//!
//! - `tasks_10000`: each task awaits `ensure_fresh()` on a cache whose
//!   token has expired; the fetcher sleeps 20 ms. Timed from the first
//!   spawn until every task is done. Panics unless exactly one fetch ran.
//! - `sleep_20ms`: the floor. The same 10,000 tasks await one shared
//!   `tokio::sync::watch` channel that a task sets after sleeping 20 ms:
//!   spawning, one 20 ms wait and waking everyone, with no cache at all.
//!
//! Both run on a 2-worker multi-thread runtime, with a new cache (or
//! channel) for every iteration. After the group the two also take turns
//! for `INTERLEAVED_ROUNDS` rounds and the medians are printed as
//! `storm/interleaved`, since separate runs drift apart on a shared
//! machine. Run with `cargo bench --bench storm`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use token_refresh::{Error, FetchToken, Token, TokenCache};
use tokio::runtime::Runtime;
use tokio::sync::watch;

const TASKS: usize = 10_000;
const FETCH_TIME: Duration = Duration::from_millis(20);
/// Rounds (one storm and one floor each) in the interleaved comparison.
const INTERLEAVED_ROUNDS: usize = 20;

/// The first call hands out a token that expires in 2 ms, at once; every
/// later call sleeps 20 ms and hands out one that lives for an hour.
struct SlowFetcher {
    calls: Arc<AtomicU64>,
}

impl FetchToken for SlowFetcher {
    async fn fetch_token(&self, _: Option<&Token>) -> Result<Token, Error> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Ok(Token::new("short-lived", Duration::from_millis(2)));
        }
        tokio::time::sleep(FETCH_TIME).await;
        Ok(Token::new("long-lived", Duration::from_secs(3600)))
    }
}

/// A cache that holds an expired token, and its fetcher's call count.
fn expired_cache(runtime: &Runtime) -> (TokenCache<SlowFetcher>, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    let cache = TokenCache::new(SlowFetcher {
        calls: Arc::clone(&calls),
    });
    runtime.block_on(cache.ensure_fresh()).expect("first fetch");
    // Past the 2 ms expiry, with room for the coarse clock's tick.
    std::thread::sleep(Duration::from_millis(15));
    let token = cache.token().expect("a token");
    assert!(token.expires_in().is_zero(), "the token has not expired");
    (cache, calls)
}

/// One storm: the time until every task got its fresh token.
fn storm(runtime: &Runtime) -> Duration {
    let (cache, calls) = expired_cache(runtime);
    let fetches_before = cache.stats().fetches;
    let elapsed = runtime.block_on(async {
        let began = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.ensure_fresh().await })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("a fresh token");
        }
        began.elapsed()
    });
    let fetched = calls.load(Ordering::SeqCst) - 1;
    assert_eq!(fetched, 1, "the storm ran {fetched} fetches, not 1");
    assert_eq!(cache.stats().fetches - fetches_before, 1);
    assert_eq!(
        cache.authorization().expect("a token"),
        "Bearer long-lived",
        "the tasks did not get the new token"
    );
    elapsed
}

/// The floor: the same tasks waiting for one 20 ms sleep.
fn floor(runtime: &Runtime) -> Duration {
    runtime.block_on(async {
        let began = Instant::now();
        let (done, ready) = watch::channel(false);
        let sleeper = tokio::spawn(async move {
            tokio::time::sleep(FETCH_TIME).await;
            done.send_replace(true);
        });
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let mut ready = ready.clone();
                tokio::spawn(async move { ready.wait_for(|done| *done).await.is_ok() })
            })
            .collect();
        for task in tasks {
            assert!(task.await.expect("task"), "the sleeper went away");
        }
        sleeper.await.expect("sleeper");
        began.elapsed()
    })
}

fn storms(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let mut group = c.benchmark_group("storm");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);

    group.bench_function("tasks_10000", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| storm(&runtime)).sum())
    });
    group.bench_function("sleep_20ms", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| floor(&runtime)).sum())
    });

    group.finish();

    // Separate criterion runs drift apart on a shared machine; taking
    // turns cancels that drift out.
    let mut times: [Vec<Duration>; 2] = Default::default();
    for round in 0..INTERLEAVED_ROUNDS {
        if round % 2 == 0 {
            times[0].push(storm(&runtime));
            times[1].push(floor(&runtime));
        } else {
            times[1].push(floor(&runtime));
            times[0].push(storm(&runtime));
        }
    }
    let [storm, floor] = times.map(|mut v| {
        v.sort_unstable();
        v[v.len() / 2]
    });
    let millis = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "storm/interleaved ({INTERLEAVED_ROUNDS} rounds, medians): tasks_10000 {:.2} ms, \
         sleep_20ms {:.2} ms; {:.3}x the floor, {:+.2} ms ({:.0} ns a task)",
        millis(storm),
        millis(floor),
        storm.as_secs_f64() / floor.as_secs_f64(),
        millis(storm) - millis(floor),
        (storm.as_secs_f64() - floor.as_secs_f64()) * 1e9 / TASKS as f64,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = storms
}
criterion_main!(benches);
