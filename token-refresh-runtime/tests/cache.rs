//! Behaviour of `TokenCache`: when it fetches, how often, and what callers
//! see when a fetch fails, hangs or panics. Time is Tokio's paused clock,
//! so every count below is exact.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use token_refresh_runtime::{Error, FetchToken, Token, TokenCache};
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
        }
    }
}

fn calls(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn a_fresh_token_is_reused_without_fetching() {
    let (fetcher, count) = Scripted::new(vec![issue(3600)]);
    let cache = TokenCache::new(fetcher);
    for _ in 0..10 {
        cache.ensure_fresh().await.unwrap();
    }
    assert_eq!(calls(&count), 1);
    assert_eq!(cache.authorization().unwrap(), "Bearer token-1");
}

#[tokio::test(start_paused = true)]
async fn a_token_is_refreshed_once_it_is_within_the_margin() {
    let (fetcher, count) = Scripted::new(vec![issue(3600)]);
    let cache = TokenCache::new(fetcher);
    cache.ensure_fresh().await.unwrap();
    // 3600 s token, 60 s margin: fresh until 3540 s.
    tokio::time::advance(Duration::from_secs(3539)).await;
    cache.ensure_fresh().await.unwrap();
    assert_eq!(calls(&count), 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    cache.ensure_fresh().await.unwrap();
    assert_eq!(calls(&count), 2);
    assert_eq!(cache.authorization().unwrap(), "Bearer token-2");
}

#[tokio::test(start_paused = true)]
async fn the_margin_is_clamped_to_half_a_short_lifetime() {
    let (fetcher, count) = Scripted::new(vec![issue(30)]);
    let cache = TokenCache::new(fetcher);
    // One call a second for two minutes. With the 60 s margin unclamped a
    // 30 s token would be stale on arrival and every call would fetch;
    // clamped to 15 s, a token is fetched at 0, 15, 30, ... 120 s.
    for _ in 0..=120 {
        cache.ensure_fresh().await.unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    assert_eq!(calls(&count), 9);
}

#[tokio::test(start_paused = true)]
async fn a_custom_margin_is_honoured() {
    let (fetcher, count) = Scripted::new(vec![issue(600)]);
    let cache = TokenCache::builder(fetcher)
        .refresh_margin(Duration::from_secs(200))
        .build()
        .unwrap();
    cache.ensure_fresh().await.unwrap();
    tokio::time::advance(Duration::from_secs(399)).await;
    cache.ensure_fresh().await.unwrap();
    assert_eq!(calls(&count), 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    cache.ensure_fresh().await.unwrap();
    assert_eq!(calls(&count), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_at_an_expired_token_share_one_fetch() {
    let (fetcher, count) = Scripted::new(vec![issue_after(500, 3600)]);
    let cache = TokenCache::new(fetcher);
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
}

#[tokio::test(start_paused = true)]
async fn creating_the_future_without_polling_it_does_not_fetch() {
    let (fetcher, count) = Scripted::new(vec![issue(3600)]);
    let cache = TokenCache::new(fetcher);
    let unpolled = cache.ensure_fresh();
    drop(unpolled);
    tokio::task::yield_now().await;
    assert_eq!(calls(&count), 0);
    assert!(matches!(cache.authorization(), Err(Error::NoToken)));
}

#[tokio::test(start_paused = true)]
async fn a_failed_fetch_reaches_every_waiter_and_the_next_call_retries() {
    let fetcher = Scripted::new(vec![Step::Fail, issue(3600)]);
    let (fetcher, count) = fetcher;
    let cache = TokenCache::new(fetcher);
    let (a, b) = tokio::join!(cache.ensure_fresh(), cache.ensure_fresh());
    assert!(matches!(a, Err(Error::Fetcher(_))), "{a:?}");
    assert!(matches!(b, Err(Error::Fetcher(_))), "{b:?}");
    assert_eq!(calls(&count), 1);
    cache.ensure_fresh().await.unwrap();
    assert_eq!(calls(&count), 2);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_fetcher_fails_its_waiters_and_the_next_call_succeeds() {
    let (fetcher, count) = Scripted::new(vec![Step::Panic, issue(3600)]);
    let cache = TokenCache::new(fetcher);
    let (a, b) = tokio::join!(cache.ensure_fresh(), cache.ensure_fresh());
    assert!(matches!(a, Err(Error::FetchPanicked)), "{a:?}");
    assert!(matches!(b, Err(Error::FetchPanicked)), "{b:?}");
    cache.ensure_fresh().await.unwrap();
    assert_eq!(calls(&count), 2);
    assert_eq!(cache.authorization().unwrap(), "Bearer token-2");
}

#[tokio::test(start_paused = true)]
async fn a_hanging_fetch_times_out_and_the_next_call_fetches_again() {
    let (fetcher, count) = Scripted::new(vec![Step::Hang, issue(3600)]);
    let cache = TokenCache::builder(fetcher)
        .fetch_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = cache.ensure_fresh().await.unwrap_err();
    assert!(
        matches!(err, Error::Timeout { after } if after == Duration::from_secs(5)),
        "{err:?}"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    cache.ensure_fresh().await.unwrap();
    assert_eq!(calls(&count), 2);
}

#[tokio::test(start_paused = true)]
async fn a_fetch_finishes_after_its_caller_gives_up() {
    let (fetcher, count) = Scripted::new(vec![issue_after(5000, 3600)]);
    let cache = TokenCache::new(fetcher);
    let gave_up = tokio::time::timeout(Duration::from_secs(1), cache.ensure_fresh()).await;
    assert!(gave_up.is_err());
    // A caller arriving later joins the same fetch rather than starting one.
    let started = Instant::now();
    cache.ensure_fresh().await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(4));
    assert_eq!(calls(&count), 1);
}

#[tokio::test(start_paused = true)]
async fn a_zero_lifetime_token_serves_its_call_and_is_refetched_next_time() {
    let (fetcher, count) = Scripted::new(vec![issue(0)]);
    let cache = TokenCache::new(fetcher);
    cache.ensure_fresh().await.unwrap();
    assert_eq!(cache.authorization().unwrap(), "Bearer token-1");
    cache.ensure_fresh().await.unwrap();
    assert_eq!(cache.authorization().unwrap(), "Bearer token-2");
    assert_eq!(calls(&count), 2);
}

#[tokio::test]
async fn the_authorization_header_is_marked_sensitive() {
    let (fetcher, _) = Scripted::new(vec![issue(3600)]);
    let cache = TokenCache::new(fetcher);
    cache.ensure_fresh().await.unwrap();
    assert!(cache.authorization().unwrap().is_sensitive());
    assert!(!format!("{cache:?}").contains("token-1"));
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
fn a_zero_fetch_timeout_is_refused() {
    let (fetcher, _) = Scripted::new(vec![issue(60)]);
    let err = TokenCache::builder(fetcher)
        .fetch_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
}

#[test]
fn a_fetch_outside_a_tokio_runtime_is_a_typed_error() {
    let (fetcher, count) = Scripted::new(vec![issue(60)]);
    let cache = TokenCache::new(fetcher);
    let mut fresh = pin!(cache.ensure_fresh());
    let mut cx = Context::from_waker(Waker::noop());
    match fresh.as_mut().poll(&mut cx) {
        Poll::Ready(Err(Error::NoRuntime)) => {}
        other => panic!("expected NoRuntime, got {other:?}"),
    }
    assert_eq!(calls(&count), 0);
}
