//! A hand-written API client whose token never goes stale.
//!
//! `ApiClient` (in `client.rs`) wraps a JSON API the way a crate for a REST
//! service would. Its methods are marked `#[refresh_token]`, so each one
//! makes sure the OAuth2 token is fresh before it runs: the first call
//! fetches a token, later calls reuse it, and a call shortly before expiry
//! fetches the next one. Concurrent calls share a single fetch.
//!
//! # Demo mode (no configuration)
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Starts two servers on 127.0.0.1, on ports the OS picks: an OAuth2 token
//! endpoint (client credentials grant, RFC 6749 section 4.4) that issues
//! HS256 JWTs living 3 s, and a JSON API that rejects any JWT that is
//! missing, badly signed or expired. The client then calls the API for
//! 10 s, three calls at a time, so it goes through several tokens. The run
//! fails (non-zero exit) if any call fails or any 401 is seen.
//!
//! # Against a real provider
//!
//! ```text
//! TOKEN_URL=https://auth.example.com/oauth/token \
//! CLIENT_ID=my-client CLIENT_SECRET=... \
//! API_URL=https://api.example.com/v1/me \
//! SCOPE="read" \
//! cargo run --example quickstart
//! ```
//!
//! With all of `TOKEN_URL`, `CLIENT_ID`, `CLIENT_SECRET` and `API_URL` set
//! (`SCOPE` is optional) no server is started: the client sends
//! `GET {API_URL}` once a second, two at a time, with tokens from
//! `TOKEN_URL`.
//!
//! # Other settings
//!
//! - `QUICKSTART_SECONDS`: how long to run, default 10.
//! - `TOKEN_LIFETIME_SECS`: demo token lifetime, default 3.
//! - `RUST_LOG`: the log filter, default
//!   `warn,token_refresh_runtime=debug`, which shows each token fetch.
//!
//! Tokens and the client secret are never printed; the token server
//! prints only a token's number and lifetime.

use std::error::Error;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use serde_json::json;
use token_refresh::oauth2::{ClientAuth, ClientCredentials, Endpoint};
use token_refresh::{CacheStats, ClientSecret, HasTokenCache, Token, TokenCache};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// Prints one line of the example's own output, stamped like the log lines
/// and tagged with who speaks.
macro_rules! say {
    ($who:literal, $($arg:tt)*) => {
        println!("{} {:<6} {}", $crate::stamp(), $who, format_args!($($arg)*))
    };
}

mod client;
mod demo;

use crate::client::{ApiClient, ApiError, Order};

type BoxError = Box<dyn Error + Send + Sync>;

/// How long one API request may take; keeps the run bounded even if a
/// server hangs.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

static START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Seconds since the example started, as every output line begins.
fn stamp() -> String {
    format!("{:>7.3}s", START.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> ExitCode {
    LazyLock::force(&START);
    init_tracing();
    match run().await {
        Ok(summary) => summary.exit_code(),
        Err(err) => {
            eprintln!("quickstart: {}", chain(&*err));
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<Summary, BoxError> {
    let settings = Settings::from_env()?;
    match settings.provider {
        Some(provider) => run_provider(provider, settings.run_for).await,
        None => run_demo(settings.lifetime_secs, settings.run_for).await,
    }
}

/// Runs the client against the embedded token server and API.
async fn run_demo(lifetime_secs: u64, run_for: Duration) -> Result<Summary, BoxError> {
    let demo = demo::Demo::start(lifetime_secs).await?;
    let (token_url, api_url) = (&demo.token_url, &demo.api_url);
    say!("demo", "token endpoint {token_url}");
    say!("demo", "API at {api_url}, tokens live {lifetime_secs}s");
    // No proxy: the demo servers are on loopback and nothing else may be
    // contacted, whatever the environment says. No redirects either, as
    // the fetcher asks of a client it is given: a token request carries
    // the client secret.
    let http = http_client()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let endpoint = Endpoint::builder(token_url.as_str())
        .client_auth(ClientAuth::basic(demo::CLIENT_ID, demo::CLIENT_SECRET))
        .http_client(http.clone())
        .build()?;
    let fetcher = ClientCredentials::new(endpoint);
    // The default margins shrink with the token's lifetime, so a 3 s token
    // is refreshed in the background after half its life and never handed
    // out in its last quarter.
    let tokens = TokenCache::new(fetcher);
    let client = ApiClient::new(api_url, http, tokens);
    let tally = drive(&client, Workload::Demo, run_for).await;
    let cache = client.token_cache().stats();
    drop(client);
    let counts = demo.stop().await;
    Ok(Summary {
        tally,
        cache,
        demo: Some(counts),
    })
}

/// Runs the client against a real provider and API.
async fn run_provider(provider: Provider, run_for: Duration) -> Result<Summary, BoxError> {
    say!("setup", "token endpoint {}", provider.token_url);
    say!("setup", "calling GET {}", provider.api_url);
    let endpoint = Endpoint::new(
        provider.token_url.as_str(),
        provider.client_id,
        provider.client_secret,
    )?;
    let mut fetcher = ClientCredentials::new(endpoint);
    if let Some(scope) = provider.scope {
        fetcher = fetcher.scope(scope);
    }
    let tokens = TokenCache::new(fetcher);
    let http = http_client().build()?;
    let client = ApiClient::new(&provider.api_url, http, tokens);
    let tally = drive(&client, Workload::Provider, run_for).await;
    Ok(Summary {
        tally,
        cache: client.token_cache().stats(),
        demo: None,
    })
}

fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().timeout(REQUEST_TIMEOUT)
}

/// What each round of calls does.
#[derive(Clone, Copy)]
enum Workload {
    /// Three different demo endpoints at once.
    Demo,
    /// `GET {API_URL}` twice at once.
    Provider,
}

impl Workload {
    /// Time between the starts of two rounds.
    fn period(self) -> Duration {
        match self {
            Workload::Demo => Duration::from_millis(500),
            Workload::Provider => Duration::from_secs(1),
        }
    }

    /// One round: its calls run concurrently, so when the token is stale
    /// they all wait for the same fetch.
    async fn round(self, client: &ApiClient, n: u32) -> Vec<Outcome> {
        match self {
            Workload::Demo => demo_round(client, n).await,
            Workload::Provider => provider_round(client).await,
        }
    }
}

async fn demo_round(client: &ApiClient, n: u32) -> Vec<Outcome> {
    let id = n % 5 + 1;
    let body = json!({ "round": n });
    let (user, orders, echo) = tokio::join!(
        timed(format!("GET /api/users/{id}"), client.user(id), |user| {
            format!("{} (id {})", user.name, user.id)
        }),
        timed(
            "GET /api/orders?limit=2".into(),
            client.orders(2),
            show_orders
        ),
        timed("POST /api/echo".into(), client.echo(&body), |echo| {
            echo.to_string()
        }),
    );
    vec![user, orders, echo]
}

fn show_orders(orders: Vec<Order>) -> String {
    let shown: Vec<String> = orders.iter().map(ToString::to_string).collect();
    shown.join(", ")
}

async fn provider_round(client: &ApiClient) -> Vec<Outcome> {
    let show = |body: String| format!("{} bytes", body.len());
    let (first, second) = tokio::join!(
        timed("GET API_URL".into(), client.get_text(""), show),
        timed("GET API_URL".into(), client.get_text(""), show),
    );
    vec![first, second]
}

/// Calls the API in rounds until `run_for` has passed.
async fn drive(client: &ApiClient, workload: Workload, run_for: Duration) -> Tally {
    let deadline = tokio::time::Instant::now() + run_for;
    let mut ticks = tokio::time::interval(workload.period());
    let mut tally = Tally::default();
    let mut n = 0;
    while ticks.tick().await < deadline {
        n += 1;
        let outcomes = workload.round(client, n).await;
        // Noted before the round's calls are printed, so a token fetched
        // for them shows up before the calls that waited for it.
        tally.note_token(client.token_cache().token());
        for outcome in outcomes {
            tally.record(outcome);
        }
    }
    tally
}

/// One finished API call.
struct Outcome {
    label: String,
    latency: Duration,
    result: Result<String, ApiError>,
}

/// Awaits `call`, timing it, and describes its value with `show`.
async fn timed<T>(
    label: String,
    call: impl Future<Output = Result<T, ApiError>>,
    show: impl FnOnce(T) -> String,
) -> Outcome {
    let started = Instant::now();
    let result = call.await.map(show);
    Outcome {
        label,
        latency: started.elapsed(),
        result,
    }
}

/// What the client saw over the run.
#[derive(Default)]
struct Tally {
    calls: usize,
    failed: usize,
    unauthorized: usize,
    tokens: usize,
    /// When the token in use was issued; a different value means the
    /// cache fetched a new one.
    current: Option<tokio::time::Instant>,
}

impl Tally {
    fn record(&mut self, outcome: Outcome) {
        self.calls += 1;
        let ms = outcome.latency.as_secs_f64() * 1000.0;
        match outcome.result {
            Ok(shown) => {
                say!("call", "{:<24} {ms:>6.1}ms  ok  {shown}", outcome.label);
            }
            Err(err) => {
                self.failed += 1;
                if err.is_unauthorized() {
                    self.unauthorized += 1;
                }
                let err = chain(&err);
                say!("call", "{:<24} {ms:>6.1}ms  FAILED  {err}", outcome.label);
            }
        }
    }

    /// Notes a new token when the cache has one, to show when the client
    /// moved on to it.
    fn note_token(&mut self, token: Option<Token>) {
        let Some(token) = token else { return };
        if self.current == Some(token.issued_at()) {
            return;
        }
        self.current = Some(token.issued_at());
        self.tokens += 1;
        let left = token.expires_in().as_secs_f64();
        say!(
            "client",
            "now on token #{}, expires in {left:.1}s",
            self.tokens
        );
    }
}

/// The end of a run: what the client saw, what its cache did and, in demo
/// mode, what the servers counted.
struct Summary {
    tally: Tally,
    cache: CacheStats,
    demo: Option<demo::Counts>,
}

impl Summary {
    /// Prints the summary and turns it into the exit status.
    fn exit_code(&self) -> ExitCode {
        let (t, cache) = (&self.tally, &self.cache);
        let fetched = cache.fetches.saturating_sub(cache.failures);
        println!(
            "summary: {} calls, {} failed, {fetched} tokens fetched, {} 401s seen",
            t.calls, t.failed, t.unauthorized
        );
        println!(
            "cache: {} fetches failed, {} calls waited for a fetch",
            cache.failures, cache.waits
        );
        let mut ok = t.calls > 0 && t.failed == 0 && t.unauthorized == 0;
        if let Some(counts) = &self.demo {
            println!(
                "servers: {} tokens issued, {} 401s sent by the API",
                counts.tokens_issued, counts.unauthorized
            );
            ok &= counts.unauthorized == 0;
        }
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

/// An error and its sources, joined with `: `.
fn chain(err: &dyn Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(err) = source {
        text.push_str(": ");
        text.push_str(&err.to_string());
        source = err.source();
    }
    text
}

/// Settings from the environment.
struct Settings {
    run_for: Duration,
    lifetime_secs: u64,
    provider: Option<Provider>,
}

/// A real token endpoint and API. No `Debug`: it holds the secret.
struct Provider {
    token_url: String,
    client_id: String,
    client_secret: ClientSecret,
    api_url: String,
    scope: Option<String>,
}

impl Settings {
    fn from_env() -> Result<Settings, BoxError> {
        Ok(Settings {
            run_for: Duration::from_secs(number("QUICKSTART_SECONDS", 10)?),
            lifetime_secs: number("TOKEN_LIFETIME_SECS", 3)?,
            provider: Provider::from_env()?,
        })
    }
}

impl Provider {
    /// The provider if all four variables are set, none if none is set.
    fn from_env() -> Result<Option<Provider>, BoxError> {
        let vars = ["TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET", "API_URL"];
        let values = vars.map(var);
        if values.iter().all(|v| matches!(v, Ok(None))) {
            return Ok(None);
        }
        let [token_url, client_id, client_secret, api_url] = values;
        let required = |value: Result<Option<String>, BoxError>, name| {
            value?.ok_or_else(|| -> BoxError {
                format!("{name} is not set; set all of {vars:?} or none").into()
            })
        };
        Ok(Some(Provider {
            token_url: required(token_url, vars[0])?,
            client_id: required(client_id, vars[1])?,
            client_secret: required(client_secret, vars[2])?.into(),
            api_url: required(api_url, vars[3])?,
            scope: var("SCOPE")?,
        }))
    }
}

/// An environment variable; unset and empty are the same.
fn var(name: &str) -> Result<Option<String>, BoxError> {
    match std::env::var(name) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(err) => Err(format!("{name}: {err}").into()),
    }
}

/// A whole number of seconds from the environment, at least 1.
fn number(name: &str, default: u64) -> Result<u64, BoxError> {
    let Some(value) = var(name)? else {
        return Ok(default);
    };
    match value.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{name} must be a whole number of seconds >= 1").into()),
    }
}

/// Logs the library's debug events, stamped like the example's output.
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,token_refresh_runtime=debug"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(Stamp)
        // Colours only on a terminal, so a saved log reads as plain text.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
}

/// The log timer: seconds since start, as in [`stamp`].
struct Stamp;

impl FormatTime for Stamp {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        w.write_str(&stamp())
    }
}
