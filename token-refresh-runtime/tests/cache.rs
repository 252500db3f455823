//! Behaviour of `TokenCache`: when it fetches, how often, and what callers
//! see when a fetch fails, hangs or panics. Time is Tokio's paused clock,
//! so every count and duration below is exact.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use token_refresh_runtime::{
    CacheStats, Clock, Error, FetchToken, OAuthError, Token, TokenCache, TokenCacheBuilder,
};
use tokio::time::{Instant, sleep};

/// What the scripted fetcher does on each call.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Waits `delay`, then returns a token that lives for `lifetime`.
    Issue { delay: Duration, lifetime: Duration },
    /// Returns an error.
    Fail,
    /// Panics.
    Panic,
    /// Never returns.
    Hang,
    /// Waits `delay`, then fails.
    FailAfter { delay: Duration },
    /// Fails as a token endpoint does for a bad client secret.
    Refuse,
}

/// A fetcher that counts its calls and follows a script; past the end of
/// the script it repeats the last step.
struct Scripted {
    calls: Arc<AtomicUsize>,
    script: Vec<Step>,
}

impl Scripted {
    fn new(script: Vec<Step>) -> (Self, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let fetcher = Scripted {
            calls: Arc::clone(&calls),
            script,
        };
        (fetcher, calls)
    }
}

fn issue(lifetime_secs: u64) -> Step {
    Step::Issue {
        delay: Duration::ZERO,
        lifetime: Duration::from_secs(lifetime_secs),
    }
}

fn issue_after(delay_ms: u64, lifetime_secs: u64) -> Step {
    Step::Issue {
        delay: Duration::from_millis(delay_ms),
        lifetime: Duration::from_secs(lifetime_secs),
    }
}

impl FetchToken for Scripted {
    async fn fetch_token(&self, _previous: Option<&Token>) -> Result<Token, Error> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let step = self.script[n.min(self.script.len() - 1)];
        match step {
            Step::Issue { delay, lifetime } => {
                sleep(delay).await;
                Ok(Token::new(format!("token-{}", n + 1), lifetime))
            }
            Step::Fail => Err(Error::fetcher("scripted failure")),
            Step::Panic => panic!("scripted panic"),
            Step::Hang => std::future::pending().await,
            Step::FailAfter { delay } => {
                sleep(delay).await;
                Err(Error::fetcher("scripted failure"))
            }
            Step::Refuse => Err(Error::OAuth(OAuthError::new(401, "invalid_client"))),
        }
    }
}

fn calls(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

/// A builder on Tokio's clock, so that paused time drives expiry.
fn builder(script: Vec<Step>) -> (TokenCacheBuilder<Scripted>, Arc<AtomicUsize>) {
    let (fetcher, count) = Scripted::new(script);
    (
        TokenCache::builder(fetcher)
            .clock(Clock::Tokio)
            .jitter_seed(7),
        count,
    )
}

fn cache(script: Vec<Step>) -> (TokenCache<Scripted>, Arc<AtomicUsize>) {
    let (builder, count) = builder(script);
    (builder.build().unwrap(), count)
}

/// Lets spawned fetch tasks run to their next await.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

fn stats(fetches: u64, failures: u64, waits: u64, invalidations: u64) -> CacheStats {
    let mut stats = CacheStats::default();
    stats.fetches = fetches;
    stats.failures = failures;
    stats.waits = waits;
    stats.invalidations = invalidations;
    stats
}

#[tokio::test(start_paused = true)]
async fn a_fresh_token_is_reused_without_fetching() {
    let (cache, count) = cache(vec![issue(3600)]);
    for _ in 0..10 {
        cache.ensure_fresh().await.unwrap();
    }
    assert_eq!(calls(&count), 1);
    assert_eq!(cache.authorization().unwrap(), "Bearer token-1");
    assert_eq!(cache.stats(), stats(1, 0, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn inside_the_margin_the_current_token_is_served_while_one_refresh_runs() {
    let (cache, count) = cache(vec![issue(3600), issue_after(2000, 3600)]);
    cache.ensure_fresh().await.unwrap();
    // 3600 s token, 60 s margin: fresh until 3540 s.
    tokio::time::advance(Duration::from_secs(3539)).await;
    cache.ensure_fresh().await.unwrap();
    assert_eq!(calls(&count), 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    let started = Instant::now();
    for _ in 0..5 {
        cache.ensure_fresh().await.unwrap();
        assert_eq!(cache.authorization().unwrap(), "Bearer token-1");
    }
    assert_eq!(started.elapsed(), Duration::ZERO, "no caller waited");
    settle().await;
    assert_eq!(calls(&count), 2);
    // The refresh lands at 3542 s.
    sleep(Duration::from_millis(2001)).await;
    cache.ensure_fresh().await.unwrap();
    assert_eq!(cache.authorization().unwrap(), "Bearer token-2");
    assert_eq!(cache.stats(), stats(2, 0, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn the_margin_is_clamped_to_half_a_short_lifetime() {
    let (cache, count) = cache(vec![issue(30)]);
    // One call a second for two minutes. With the 60 s margin unclamped a
    // 30 s token would be stale on arrival and every call would fetch;
    // clamped to 15 s, a token is fetched at 0, 15, 30, ... 120 s.
    for _ in 0..=120 {
        cache.ensure_fresh().await.unwrap();
        settle().await;
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    assert_eq!(calls(&count), 9);
}

#[tokio::test(start_paused = true)]
async fn a_custom_margin_is_honoured() {
    let (builder, count) = builder(vec![issue(600)]);
    let cache = builder
        .refresh_margin(Duration::from_secs(200))
        .build()
        .unwrap();
    cache.ensure_fresh().await.unwrap();
    tokio::time::advance(Duration::from_secs(399)).await;
    cache.ensure_fresh().await.unwrap();
    assert_eq!(calls(&count), 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    cache.ensure_fresh().await.unwrap();
    settle().await;
    assert_eq!(calls(&count), 2);
}

#[tokio::test(start_paused = true)]
async fn in_steady_state_no_caller_ever_waits_for_a_fetch() {
    // 10 s tokens that take 20 ms to fetch, a call every 250 ms for 500 s:
    // fifty lifetimes. Margins clamp to 5 s (refresh) and 2.5 s (expiry).
    let (cache, count) = cache(vec![issue_after(20, 10)]);
    for _ in 0..2000 {
        cache.ensure_fresh().await.unwrap();
        let left = cache.token().unwrap().expires_in();
        assert!(
            left >= Duration::from_millis(2500),
            "handed out with {left:?} left"
        );
        sleep(Duration::from_millis(250)).await;
    }
    // Only the very first call, with no token at all, waited.
    assert_eq!(cache.stats().waits, 1);
    // One refresh per 5 s half-life plus the first fetch, give or take
    // the 20 ms each fetch and the 250 ms call spacing add to the period.
    let fetches = calls(&count);
    assert!((92..=101).contains(&fetches), "{fetches} fetches");
}

#[tokio::test(start_paused = true)]
async fn the_expiry_margin_never_exceeds_the_refresh_margin() {
    // A 1 s refresh margin with the default 10 s expiry margin: the expiry
    // margin shrinks to 0.5 s, so 0.9 s before expiry the token is still
    // served at once while it is replaced.
    let (builder, count) = builder(vec![issue_after(100, 600)]);
    let cache = builder
        .refresh_margin(Duration::from_secs(1))
        .build()
        .unwrap();
    cache.ensure_fresh().await.unwrap();
    tokio::time::advance(Duration::from_millis(599_100)).await;
    let started = Instant::now();
    cache.ensure_fresh().await.unwrap();
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(cache.stats().waits, 1);
    settle().await;
    assert_eq!(calls(&count), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_at_an_expired_token_share_one_fetch() {
    let (cache, count) = cache(vec![issue_after(500, 3600)]);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache.ensure_fresh().await.unwrap();
                cache.authorization().unwrap()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), "Bearer token-1");
    }
    assert_eq!(calls(&count), 1);
    assert_eq!(cache.stats(), stats(1, 0, 100, 0));
}

#[tokio::test(start_paused = true)]
async fn creating_the_future_without_polling_it_does_not_fetch() {
    let (cache, count) = cache(vec![issue(3600)]);
    let unpolled = cache.ensure_fresh();
    drop(unpolled);
    settle().await;
    assert_eq!(calls(&count), 0);
    assert!(matches!(cache.authorization(), Err(Error::NoToken)));
}

#[tokio::test(start_paused = true)]
async fn a_fetch_survives_its_callers_giving_up() {
    let (cache, count) = cache(vec![issue_after(5000, 3600)]);
    let impatient: Vec<_> = (0..100)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                tokio::time::timeout(Duration::from_secs(1), cache.ensure_fresh()).await
            })
        })
        .collect();
    // A caller arriving at 1.5 s, after all of them gave up, gets the
    // token of that same fetch when it lands at 5 s.
    let late = {
        let cache = cache.clone();
        tokio::spawn(async move {
            sleep(Duration::from_millis(1500)).await;
            let started = Instant::now();
            cache.ensure_fresh().await.unwrap();
            (started.elapsed(), cache.authorization().unwrap())
        })
    };
    for task in impatient {
        // Each impatient caller gets its own timeout, not a refresh error.
        assert!(task.await.unwrap().is_err());
    }
    let (waited, authorization) = late.await.unwrap();
    assert_eq!(waited, Duration::from_millis(3500));
    assert_eq!(authorization, "Bearer token-1");
    assert_eq!(calls(&count), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_fetch_reaches_every_waiter_and_is_held_until_the_backoff_ends() {
    let (builder, count) = builder(vec![Step::Fail, issue(3600)]);
    let cache = builder
        .retry_backoff(Duration::from_secs(2), Duration::from_secs(60))
        .build()
        .unwrap();
    let (a, b) = tokio::join!(cache.ensure_fresh(), cache.ensure_fresh());
    assert!(matches!(a, Err(Error::Fetcher(_))), "{a:?}");
    assert!(matches!(b, Err(Error::Fetcher(_))), "{b:?}");
    // Within the backoff (jittered into [1 s, 2 s)) callers get the same
    // error at once, and the fetcher is not called again.
    tokio::time::advance(Duration::from_millis(999)).await;
    let held = cache.ensure_fresh().await;
    assert!(matches!(held, Err(Error::Fetcher(_))), "{held:?}");
    assert_eq!(calls(&count), 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    cache.ensure_fresh().await.unwrap();
    assert_eq!(calls(&count), 2);
    assert_eq!(cache.stats(), stats(2, 1, 3, 0));
}

#[tokio::test(start_paused = true)]
async fn a_terminal_error_is_shared_by_all_queued_callers() {
    let (cache, count) = cache(vec![Step::Refuse]);
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.ensure_fresh().await })
        })
        .collect();
    for caller in callers {
        let err = caller.await.unwrap().unwrap_err();
        assert_eq!(err.oauth().unwrap().error, "invalid_client");
        assert!(!err.is_retryable());
    }
    let again = cache.ensure_fresh().await.unwrap_err();
    assert_eq!(again.oauth().unwrap().error, "invalid_client");
    assert_eq!(calls(&count), 1);
}

#[tokio::test(start_paused = true)]
async fn a_server_that_stays_down_sees_one_request_per_backoff_step() {
    let (builder, count) = builder(vec![Step::Fail]);
    let cache = builder
        .retry_backoff(Duration::from_secs(1), Duration::from_secs(8))
        .build()
        .unwrap();
    // 1000 calls over 60 s, each failing fast with the held error.
    for _ in 0..1000 {
        assert!(cache.ensure_fresh().await.is_err());
        sleep(Duration::from_millis(60)).await;
    }
    // Waits of at least 0.5, 1, 2, then 4 s (half of each capped step)
    // fit at most 3 + (60 - 3.5) / 4 = 17 attempts into 60 s; waits of at
    // most 1, 2, 4, then 8 s fit at least 3 + (60 - 7) / 8 = 9.
    let fetches = calls(&count);
    assert!((9..=17).contains(&fetches), "{fetches} fetches");
    assert_eq!(cache.stats().failures, fetches as u64);
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_valid_token_until_it_expires() {
    let (cache, count) = cache(vec![issue(100), Step::Fail]);
    cache.ensure_fresh().await.unwrap();
    // Refreshing starts at 50 s (half the lifetime) and keeps failing.
    // Every call until the token's real expiry at 100 s still succeeds
    // with token-1, including those past the 75 s expiry margin.
    for second in 1..100 {
        tokio::time::advance(Duration::from_secs(1)).await;
        cache
            .ensure_fresh()
            .await
            .unwrap_or_else(|e| panic!("{second}s: {e}"));
        assert_eq!(cache.authorization().unwrap(), "Bearer token-1");
        settle().await;
    }
    tokio::time::advance(Duration::from_secs(1)).await;
    let err = cache.ensure_fresh().await.unwrap_err();
    assert!(matches!(err, Error::Fetcher(_)), "{err:?}");
    // Backoff capped at 60 s from the first failure at 50 s: at most one
    // attempt per step of at least 0.5, 1, 2, 4, 8, 16 and 30 s.
    let fetches = calls(&count);
    assert!((5..=9).contains(&fetches), "{fetches} fetches");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_fetcher_fails_its_waiters_and_a_later_call_succeeds() {
    let (cache, count) = cache(vec![Step::Panic, issue(3600)]);
    let (a, b) = tokio::join!(cache.ensure_fresh(), cache.ensure_fresh());
    assert!(matches!(a, Err(Error::FetchPanicked)), "{a:?}");
    assert!(matches!(b, Err(Error::FetchPanicked)), "{b:?}");
    // A panic is no reason to back off: the very next call fetches.
    cache.ensure_fresh().await.unwrap();
    assert_eq!(calls(&count), 2);
    assert_eq!(cache.authorization().unwrap(), "Bearer token-2");
}

#[tokio::test(start_paused = true)]
async fn a_fetcher_that_keeps_panicking_backs_off_after_the_second_try() {
    let (cache, count) = cache(vec![Step::Panic]);
    for _ in 0..2 {
        let err = cache.ensure_fresh().await.unwrap_err();
        assert!(matches!(err, Error::FetchPanicked), "{err:?}");
    }
    // The second panic in a row is held for the backoff.
    for _ in 0..10 {
        assert!(cache.ensure_fresh().await.is_err());
    }
    assert_eq!(calls(&count), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_fetch_times_out_and_a_later_call_fetches_again() {
    let (builder, count) = builder(vec![Step::Hang, issue(3600)]);
    let cache = builder
        .fetch_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = cache.ensure_fresh().await.unwrap_err();
    let five = Duration::from_secs(5);
    assert!(
        matches!(err, Error::Timeout { after } if after == five),
        "{err:?}"
    );
    assert_eq!(started.elapsed(), five);
    // The deadline was the wait: the very next call fetches.
    cache.ensure_fresh().await.unwrap();
    assert_eq!(calls(&count), 2);
}

#[tokio::test(start_paused = true)]
async fn a_slow_failure_does_not_hold_a_waiter_past_the_fetch_deadline() {
    let (builder, _) = builder(vec![Step::FailAfter {
        delay: Duration::from_secs(60),
    }]);
    let cache = builder
        .fetch_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = cache.ensure_fresh().await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn many_rejections_of_one_token_cause_one_refresh() {
    let (cache, count) = cache(vec![issue(3600), issue_after(100, 3600)]);
    cache.ensure_fresh().await.unwrap();
    let rejected = cache.authorization().unwrap();
    // Twenty requests sent with token-1 all come back 401 at once.
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let (cache, rejected) = (cache.clone(), rejected.clone());
            tokio::spawn(async move {
                let dropped = cache.invalidate(&rejected);
                cache.ensure_fresh().await.unwrap();
                (dropped, cache.authorization().unwrap())
            })
        })
        .collect();
    let mut dropped = 0;
    for caller in callers {
        let (did_drop, authorization) = caller.await.unwrap();
        dropped += usize::from(did_drop);
        assert_eq!(authorization, "Bearer token-2");
    }
    assert_eq!(dropped, 1);
    assert_eq!(calls(&count), 2);
    // A late 401 for the old token leaves the new one alone.
    assert!(!cache.invalidate(&rejected));
    cache.ensure_fresh().await.unwrap();
    assert_eq!(calls(&count), 2);
    assert_eq!(cache.stats().invalidations, 1);
}

#[tokio::test(start_paused = true)]
async fn force_refresh_fetches_a_fresh_token_and_joins_a_fetch_in_flight() {
    let (cache, count) = cache(vec![issue_after(100, 3600)]);
    cache.ensure_fresh().await.unwrap();
    cache.force_refresh().await.unwrap();
    assert_eq!(cache.authorization().unwrap(), "Bearer token-2");
    let (a, b) = tokio::join!(cache.force_refresh(), cache.force_refresh());
    a.unwrap();
    b.unwrap();
    assert_eq!(calls(&count), 3);
}

#[tokio::test(start_paused = true)]
async fn a_failed_forced_refresh_leaves_a_fresh_token_alone() {
    let (cache, count) = cache(vec![issue(3600), Step::Fail]);
    cache.ensure_fresh().await.unwrap();
    assert!(cache.force_refresh().await.is_err());
    // Long past the backoff, the token is still fresh: no caller starts
    // another fetch until its refresh margin.
    for _ in 0..100 {
        tokio::time::advance(Duration::from_secs(10)).await;
        cache.ensure_fresh().await.unwrap();
        settle().await;
    }
    assert_eq!(calls(&count), 2);
    assert_eq!(cache.authorization().unwrap(), "Bearer token-1");
}

#[test]
fn a_usable_token_serves_outside_a_runtime_when_no_refresh_can_start() {
    let (fetcher, count) = Scripted::new(vec![issue(2)]);
    let cache = TokenCache::new(fetcher);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(cache.ensure_fresh()).unwrap();
    drop(runtime);
    // Into the refresh window (the second half of the 2 s lifetime) but
    // before the expiry margin (its last half second).
    std::thread::sleep(Duration::from_millis(1100));
    let mut fresh = pin!(cache.ensure_fresh());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(fresh.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
    assert_eq!(calls(&count), 1);
}

#[tokio::test(start_paused = true)]
async fn a_zero_lifetime_token_serves_its_call_and_is_refetched_next_time() {
    let (cache, count) = cache(vec![issue(0)]);
    cache.ensure_fresh().await.unwrap();
    assert_eq!(cache.authorization().unwrap(), "Bearer token-1");
    cache.ensure_fresh().await.unwrap();
    assert_eq!(cache.authorization().unwrap(), "Bearer token-2");
    assert_eq!(calls(&count), 2);
}

#[tokio::test]
async fn the_authorization_header_is_marked_sensitive() {
    let (cache, _) = cache(vec![issue(3600)]);
    cache.ensure_fresh().await.unwrap();
    assert!(cache.authorization().unwrap().is_sensitive());
    assert!(!format!("{cache:?}").contains("token-1"));
}

#[tokio::test]
async fn the_system_clock_serves_a_fresh_token_without_fetching_again() {
    let (fetcher, count) = Scripted::new(vec![issue(3600)]);
    let cache = TokenCache::new(fetcher);
    for _ in 0..100 {
        cache.ensure_fresh().await.unwrap();
    }
    assert_eq!(calls(&count), 1);
}

struct BadHeader;

impl FetchToken for BadHeader {
    async fn fetch_token(&self, _: Option<&Token>) -> Result<Token, Error> {
        Ok(Token::new("line\nbreak", Duration::from_secs(60)))
    }
}

#[tokio::test]
async fn a_token_that_cannot_be_a_header_is_a_typed_error() {
    let cache = TokenCache::new(BadHeader);
    let err = cache.ensure_fresh().await.unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert!(matches!(cache.authorization(), Err(Error::NoToken)));
}

#[test]
fn invalid_settings_are_refused() {
    let refused = |b: TokenCacheBuilder<Scripted>| match b.build() {
        Err(Error::InvalidConfig { reason }) => reason,
        other => panic!("expected InvalidConfig, got {other:?}"),
    };
    let (b, _) = builder(vec![issue(60)]);
    assert!(refused(b.fetch_timeout(Duration::ZERO)).contains("fetch timeout"));
    let (b, _) = builder(vec![issue(60)]);
    let b = b.retry_backoff(Duration::ZERO, Duration::from_secs(1));
    assert!(refused(b).contains("backoff"));
    let (b, _) = builder(vec![issue(60)]);
    let b = b.retry_backoff(Duration::from_secs(2), Duration::from_secs(1));
    assert!(refused(b).contains("longest retry backoff"));
}

#[test]
fn a_fetch_outside_a_tokio_runtime_is_a_typed_error() {
    let (cache, count) = cache(vec![issue(60)]);
    let mut fresh = pin!(cache.ensure_fresh());
    let mut cx = Context::from_waker(Waker::noop());
    match fresh.as_mut().poll(&mut cx) {
        Poll::Ready(Err(Error::NoRuntime)) => {}
        other => panic!("expected NoRuntime, got {other:?}"),
    }
    assert_eq!(calls(&count), 0);
}
