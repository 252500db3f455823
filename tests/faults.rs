//! Faults: the token endpoint answers 503 to 30% of requests, resets some
//! connections and stalls others past the fetch deadline; then it goes
//! down altogether, then comes back. Calls must fail only when no valid
//! token exists, always with a typed error and never by hanging, and the
//! endpoint must see no more requests than the backoff allows.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{Api, CallError, Client, Faults, Rng, TokenServer, fetcher};
use token_refresh::{HasTokenCache, TokenCache};
use tokio::time::Instant;

const LIFETIME: Duration = Duration::from_secs(2);
const TASKS: u64 = 200;
const FETCH_TIMEOUT: Duration = Duration::from_millis(500);
const RETRY_MIN: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_millis(400);

const FAULTS: Faults = Faults {
    seed: 0x5eed,
    unavailable: 0.30,
    reset: 0.05,
    slow: 0.05,
    // Past the fetch deadline, so these fetches time out.
    delay: Duration::from_secs(2),
};

/// What the tasks saw in one phase.
#[derive(Debug, Default)]
struct Tally {
    calls: u64,
    ok: u64,
    /// Token errors: the cache had no valid token to give.
    token_errors: u64,
    /// Token errors although the token seen just before was still valid.
    broken_promises: u64,
    /// 401s: a token handed out just before expiry arrived after it.
    unauthorized: u64,
    other: Vec<String>,
}

/// Runs `TASKS` tasks calling `client` until `until`.
async fn run(client: &Arc<Client>, until: Instant, seed: u64) -> Tally {
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let client = Arc::clone(client);
            tokio::spawn(async move {
                let mut rng = Rng::new(seed ^ i);
                let mut tally = Tally::default();
                while Instant::now() < until {
                    call_once(&client, &mut tally).await;
                    let pause = rng.between(Duration::from_millis(50), Duration::from_millis(150));
                    tokio::time::sleep(pause).await;
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await.unwrap();
        total.calls += tally.calls;
        total.ok += tally.ok;
        total.token_errors += tally.token_errors;
        total.broken_promises += tally.broken_promises;
        total.unauthorized += tally.unauthorized;
        total.other.extend(tally.other);
    }
    total
}

async fn call_once(client: &Client, tally: &mut Tally) {
    let before = client.token_cache().token();
    tally.calls += 1;
    // No call may hang: the fetch deadline bounds every wait.
    let bound = FETCH_TIMEOUT + Duration::from_secs(2);
    let outcome = tokio::time::timeout(bound, client.call()).await;
    match outcome.expect("a call hung past the fetch deadline") {
        Ok(()) => tally.ok += 1,
        Err(CallError::Token(_)) => {
            tally.token_errors += 1;
            let now = Instant::now();
            if before.is_some_and(|t| t.expires_at() > now) {
                tally.broken_promises += 1;
            }
        }
        Err(CallError::Status(status)) if status == 401 => tally.unauthorized += 1,
        Err(other) => tally.other.push(format!("{other:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_only_without_a_valid_token_and_retries_respect_the_backoff() {
    let server = TokenServer::start(LIFETIME, FAULTS).await;
    let api = Api::start().await;
    let tokens = TokenCache::builder(fetcher(&server, Duration::from_secs(5)))
        .fetch_timeout(FETCH_TIMEOUT)
        .retry_backoff(RETRY_MIN, RETRY_MAX)
        .jitter_seed(FAULTS.seed);
    let client = Arc::new(Client::new(&api, tokens));

    // Ten lifetimes of a flaky endpoint.
    let flaky = run(&client, Instant::now() + LIFETIME * 10, 1).await;
    let flaky_requests = server.requests();
    eprintln!("faults, flaky phase: {flaky:?}, {flaky_requests} token requests");
    assert_eq!(flaky.broken_promises, 0, "{flaky:?}");
    assert!(flaky.other.is_empty(), "{flaky:?}");

    // Down for three lifetimes: the token expires and calls fail fast.
    server.set_down(true);
    let outage = Duration::from_secs(6);
    let down = run(&client, Instant::now() + outage, 2).await;
    let outage_requests = server.requests() - flaky_requests;
    eprintln!("faults, outage: {down:?}, {outage_requests} token requests");
    assert_eq!(down.broken_promises, 0, "{down:?}");
    assert!(down.other.is_empty(), "{down:?}");
    assert!(down.token_errors > 0, "the token never expired: {down:?}");
    // Backoff waits of at least 25, 50, 100, then 200 ms (half of each
    // capped step) fit at most 4 + (6000 - 375) / 200 = 32 requests into
    // the outage, however many callers there are.
    assert!(
        outage_requests <= 32,
        "{outage_requests} requests while down"
    );

    // Back up: within one capped backoff step calls succeed again.
    server.set_down(false);
    tokio::time::sleep(RETRY_MAX + FETCH_TIMEOUT).await;
    let recovered = run(&client, Instant::now() + LIFETIME, 3).await;
    eprintln!("faults, recovered: {recovered:?}");
    assert_eq!(recovered.broken_promises, 0, "{recovered:?}");
    assert!(recovered.ok > 0, "{recovered:?}");

    // Every fetch is one request, never more.
    assert_eq!(client.token_cache().stats().fetches, server.requests());
    // An expired token reaches the API only in transit: handed out while
    // still valid, it arrived just after its last millisecond.
    let late = api
        .counts
        .worst_lateness_ms
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(late < 250, "a token arrived {late} ms past its expiry");
}
