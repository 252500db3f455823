//! What the cache and fetchers log: one event per fetch however many
//! callers wait, a warning when a failure is absorbed, and never a
//! secret, even with every crate logging at TRACE.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use token_refresh_runtime::oauth2::{
    ClientAuth, ClientCredentials, Endpoint, Password, RefreshTokenGrant,
};
use token_refresh_runtime::{Clock, Error, FetchToken, Token, TokenCache};
use tokio::net::TcpListener;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::fmt::MakeWriter;

/// Everything the subscriber writes, for the test to search.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Captures every event at `level` and above on this thread. The tests
/// run on a current-thread runtime, so spawned fetches are captured too.
fn capture(level: &str) -> (Captured, DefaultGuard) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(level)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

struct Slow {
    fail_after_first: bool,
    calls: Mutex<u32>,
}

impl FetchToken for Slow {
    async fn fetch_token(&self, _: Option<&Token>) -> Result<Token, Error> {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            *calls += 1;
            *calls
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        if self.fail_after_first && n > 1 {
            return Err(Error::fetcher("endpoint down"));
        }
        Ok(Token::new("tok", Duration::from_secs(100)))
    }
}

fn slow(fail_after_first: bool) -> TokenCache<Slow> {
    let fetcher = Slow {
        fail_after_first,
        calls: Mutex::new(0),
    };
    TokenCache::builder(fetcher)
        .clock(Clock::Tokio)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_fetch_is_logged_once_however_many_callers_wait() {
    let (logs, _guard) = capture("debug");
    let cache = slow(false);
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.ensure_fresh().await })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap().unwrap();
    }
    assert_eq!(logs.count("fetching token"), 1, "{}", logs.text());
    assert_eq!(logs.count("token fetched"), 1, "{}", logs.text());
    assert!(logs.text().contains("lifetime_secs=100"), "{}", logs.text());
}

#[tokio::test(start_paused = true)]
async fn a_failure_absorbed_by_a_valid_token_is_a_warning() {
    let (logs, _guard) = capture("warn");
    let cache = slow(true);
    cache.ensure_fresh().await.unwrap();
    // Into the refresh window (the last 50 s), where the refresh fails.
    tokio::time::advance(Duration::from_secs(60)).await;
    cache.ensure_fresh().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = logs.text();
    assert_eq!(text.matches(" WARN ").count(), 1, "{text}");
    assert!(text.contains("token refresh failed; the current token is still valid"));
    assert!(text.contains("error.class=\"fetcher\""), "{text}");
    assert!(text.contains("retry_in_ms="), "{text}");
}

const SECRET: &str = "canary-client-secret-7d1f";
const PASSWORD: &str = "canary-password-93ab";
const ACCESS: &str = "canary-access-token-5c20";
const REFRESH: &str = "canary-refresh-token-e811";
const ROTATED: &str = "canary-rotated-refresh-0f4e";

/// A token endpoint that answers the password grant, then a refresh with
/// a rotated token, then rejects everything.
async fn canary_server() -> (String, tokio::task::JoinHandle<()>) {
    let calls = Arc::new(Mutex::new(0u32));
    let app = Router::new().route(
        "/token",
        post(move |body: String| {
            let calls = Arc::clone(&calls);
            async move {
                let n = {
                    let mut calls = calls.lock().unwrap();
                    *calls += 1;
                    *calls
                };
                let json = [(header::CONTENT_TYPE, "application/json")];
                match n {
                    1 => (json, format!(
                        r#"{{"access_token":"{ACCESS}","expires_in":1,"refresh_token":"{REFRESH}"}}"#
                    )).into_response(),
                    2 if body.contains(REFRESH) => (json, format!(
                        r#"{{"access_token":"{ACCESS}2","expires_in":1,"refresh_token":"{ROTATED}"}}"#
                    )).into_response(),
                    _ => (StatusCode::BAD_REQUEST, json,
                        r#"{"error":"invalid_grant","error_description":"expired"}"#.to_owned()
                    ).into_response(),
                }
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, task)
}

#[tokio::test]
async fn no_secret_appears_in_any_log_line_or_error_at_trace_level() {
    let (logs, _guard) = capture("trace");
    let (url, server) = canary_server().await;
    let endpoint = Endpoint::builder(&url)
        .client_auth(ClientAuth::basic("canary-client", SECRET))
        .build()
        .unwrap();
    let login = Password::new(endpoint.clone(), "alice", PASSWORD);
    let grant = RefreshTokenGrant::new(endpoint.clone()).fallback(login);
    let cache = TokenCache::new(grant);
    let mut seen = Vec::new();
    cache.ensure_fresh().await.unwrap();
    cache.force_refresh().await.unwrap();
    // The rotated refresh token is rejected, the password is sent again,
    // and that too is rejected: an error that passes through every layer.
    let err = cache.force_refresh().await.unwrap_err();
    seen.push(format!("{err} {err:?}"));
    let cc = ClientCredentials::new(endpoint.clone());
    let err = cc.fetch_token(None).await.unwrap_err();
    seen.push(format!("{err} {err:?}"));
    seen.push(format!(
        "{cache:?} {:?} {:?}",
        cache.token(),
        cache.fetcher()
    ));
    seen.push(format!("{endpoint:?} {cc:?}"));
    server.abort();

    let everything = format!("{}\n{}", logs.text(), seen.join("\n"));
    assert!(
        everything.contains("fetching token"),
        "logging was not captured"
    );
    assert!(
        everything.contains("TRACE hyper_util"),
        "dependencies' logs were not captured"
    );
    // Basic credentials travel base64-encoded; look for that form too.
    let basic = "Y2FuYXJ5LWNsaWVudDpjYW5hcnktY2xpZW50LXNlY3JldC03ZDFm";
    for canary in [SECRET, PASSWORD, ACCESS, REFRESH, ROTATED, basic] {
        assert!(
            !everything.contains(canary),
            "`{canary}` leaked:\n{everything}"
        );
    }
    // The client id is no secret; nothing else marked as a canary may
    // show, whatever its encoding.
    let rest = everything.replace("canary-client", "");
    assert!(!rest.contains("canary"), "a canary leaked:\n{rest}");
}
