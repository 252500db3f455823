//! Load: a thousand tasks call one annotated client for twenty token
//! lifetimes against an API that rejects expired tokens to the
//! millisecond. No call may fail and no expired token may be sent.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use support::{Api, Client, Faults, Rng, TokenServer, fetcher};
use token_refresh::TokenCache;
use tokio::time::Instant;

const TASKS: u64 = 1000;
const LIFETIME: Duration = Duration::from_secs(2);
const LIFETIMES: u32 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_over_twenty_lifetimes_send_no_expired_token() {
    let server = TokenServer::start(LIFETIME, Faults::NONE).await;
    let api = Api::start().await;
    let tokens = TokenCache::builder(fetcher(&server, Duration::from_secs(5)));
    let client = Arc::new(Client::new(&api, tokens));
    let calls = Arc::new(AtomicU64::new(0));
    let run_for = LIFETIME * LIFETIMES;
    let deadline = Instant::now() + run_for;
    let tasks: Vec<_> = (0..TASKS)
        .map(|seed| {
            let (client, calls) = (Arc::clone(&client), Arc::clone(&calls));
            tokio::spawn(async move {
                let mut rng = Rng::new(seed);
                let mut failures = Vec::new();
                while Instant::now() < deadline {
                    calls.fetch_add(1, Ordering::Relaxed);
                    if let Err(err) = client.call().await {
                        failures.push(format!("{err:?}"));
                    }
                    let pause = rng.between(Duration::from_millis(300), Duration::from_millis(700));
                    tokio::time::sleep(pause).await;
                }
                failures
            })
        })
        .collect();
    let mut failures = Vec::new();
    for task in tasks {
        let task = tokio::time::timeout(run_for + Duration::from_secs(30), task);
        failures.extend(task.await.expect("a task hung").unwrap());
    }
    let calls = calls.load(Ordering::Relaxed);
    let expired = api.counts.expired.load(Ordering::Relaxed);
    let invalid = api.counts.invalid.load(Ordering::Relaxed);
    let ok = api.counts.ok.load(Ordering::Relaxed);
    let fetches = server.issued();
    let late = api.counts.worst_lateness_ms.load(Ordering::Relaxed);
    eprintln!(
        "load: {TASKS} tasks, {calls} calls over {LIFETIMES} lifetimes of {LIFETIME:?}: \
         {ok} ok, {expired} expired (worst {late} ms late), {invalid} invalid, {} failed, {fetches} fetches, \
         cache {:?}",
        failures.len(),
        client_stats(&client),
    );
    assert_eq!(failures, Vec::<String>::new());
    assert_eq!((expired, invalid, ok), (0, 0, calls));
    // A refresh every half lifetime, plus the first fetch; at least one
    // token per lifetime.
    let most = u64::from(LIFETIMES) * 2 + 2;
    assert!(
        (u64::from(LIFETIMES)..=most).contains(&fetches),
        "{fetches} fetches"
    );
}

fn client_stats(client: &Client) -> token_refresh::CacheStats {
    use token_refresh::HasTokenCache;
    client.token_cache().stats()
}
