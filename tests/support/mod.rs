//! Loopback servers for the suites that run many tokens' worth of calls:
//! a token endpoint that issues signed JWTs and can be told to misbehave,
//! and an API that rejects any JWT past its expiry, to the millisecond.
//! Each suite includes this module with `mod support;`.

#![allow(dead_code)] // Each suite uses a different part.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use token_refresh::oauth2::{ClientAuth, ClientCredentials, Endpoint};
use token_refresh::{HasTokenCache, TokenCache, TokenCacheBuilder, refresh_token};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const CLIENT_ID: &str = "suite-client";
pub const CLIENT_SECRET: &str = "suite-secret";
const KEY: &[u8] = b"a signing key for the suites only";

/// The claims of an access token. `exp_ms` makes expiry exact: the
/// standard `exp` has whole seconds, too coarse for one-second tokens.
#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    exp_ms: u64,
}

fn unix_ms() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    now.as_millis() as u64
}

/// How the token endpoint misbehaves: each request draws one outcome from
/// a generator seeded with `seed`, so a run's sequence of faults is fixed.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub seed: u64,
    /// Share of requests answered `503 Service Unavailable`.
    pub unavailable: f64,
    /// Share of connections reset without an answer.
    pub reset: f64,
    /// Share of requests answered only after `delay`.
    pub slow: f64,
    pub delay: Duration,
}

impl Faults {
    pub const NONE: Faults = Faults {
        seed: 0,
        unavailable: 0.0,
        reset: 0.0,
        slow: 0.0,
        delay: Duration::ZERO,
    };
}

enum Outcome {
    Issue,
    Unavailable,
    Reset,
    Slow,
}

/// A token endpoint over raw TCP, so that it can reset connections.
pub struct TokenServer {
    pub url: String,
    shared: Arc<TokenShared>,
    task: JoinHandle<()>,
}

struct TokenShared {
    faults: Faults,
    lifetime: Duration,
    /// Requests received, which also numbers them for the fault draw.
    requests: AtomicU64,
    issued: AtomicU64,
    /// Set to answer every request with 503.
    down: AtomicBool,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TokenServer {
    pub async fn start(lifetime: Duration, faults: Faults) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let shared = Arc::new(TokenShared {
            faults,
            lifetime,
            requests: AtomicU64::new(0),
            issued: AtomicU64::new(0),
            down: AtomicBool::new(false),
        });
        let task = tokio::spawn(accept(listener, Arc::clone(&shared)));
        TokenServer { url, shared, task }
    }

    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    pub fn issued(&self) -> u64 {
        self.shared.issued.load(Ordering::SeqCst)
    }

    /// Makes every later request fail with 503 (`true`) or go back to the
    /// fault plan (`false`).
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }
}

async fn accept(listener: TcpListener, shared: Arc<TokenShared>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve_token(stream, Arc::clone(&shared)));
    }
}

async fn serve_token(mut stream: TcpStream, shared: Arc<TokenShared>) {
    if read_request(&mut stream).await.is_none() {
        return;
    }
    let n = shared.requests.fetch_add(1, Ordering::SeqCst);
    let outcome = if shared.down.load(Ordering::SeqCst) {
        Outcome::Unavailable
    } else {
        draw(&shared.faults, n)
    };
    let body = match outcome {
        Outcome::Reset => {
            let _ = stream.set_zero_linger();
            return;
        }
        Outcome::Unavailable => {
            let body = r#"{"error":"temporarily_unavailable"}"#;
            let _ = respond(&mut stream, "503 Service Unavailable", body).await;
            return;
        }
        Outcome::Slow => {
            tokio::time::sleep(shared.faults.delay).await;
            issue(&shared)
        }
        Outcome::Issue => issue(&shared),
    };
    let _ = respond(&mut stream, "200 OK", &body).await;
}

fn draw(faults: &Faults, n: u64) -> Outcome {
    let unit = (splitmix(faults.seed ^ n.wrapping_mul(0x9E37_79B9)) >> 11) as f64;
    let x = unit / (1u64 << 53) as f64;
    let mut edge = faults.unavailable;
    if x < edge {
        return Outcome::Unavailable;
    }
    edge += faults.reset;
    if x < edge {
        return Outcome::Reset;
    }
    edge += faults.slow;
    if x < edge {
        return Outcome::Slow;
    }
    Outcome::Issue
}

fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn issue(shared: &TokenShared) -> String {
    let n = shared.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let exp_ms = unix_ms() + shared.lifetime.as_millis() as u64;
    let claims = Claims {
        sub: format!("token-{n}"),
        exp: exp_ms / 1000 + 1,
        exp_ms,
    };
    let key = EncodingKey::from_secret(KEY).unwrap();
    let jwt = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap();
    let lifetime = shared.lifetime.as_secs_f64();
    format!(r#"{{"access_token":"{jwt}","token_type":"Bearer","expires_in":{lifetime}}}"#)
}

/// Reads one request's head and body; `None` if the client went away.
async fn read_request(stream: &mut TcpStream) -> Option<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(())
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// What the API saw.
#[derive(Default)]
pub struct ApiCounts {
    pub ok: AtomicU64,
    pub expired: AtomicU64,
    pub invalid: AtomicU64,
    /// How late the latest-arriving expired token was, in milliseconds.
    pub worst_lateness_ms: AtomicU64,
}

/// An API with one route, `GET /resource`, that answers 200 to a bearer
/// JWT signed with the suite key and not past its `exp_ms`, else 401.
pub struct Api {
    pub url: String,
    pub counts: Arc<ApiCounts>,
    task: JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Api {
    pub async fn start() -> Api {
        let counts = Arc::new(ApiCounts::default());
        let app = Router::new()
            .route("/resource", get(resource))
            .with_state(Arc::clone(&counts));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/resource", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Api { url, counts, task }
    }
}

async fn resource(
    State(counts): State<Arc<ApiCounts>>,
    headers: HeaderMap,
) -> Result<&'static str, StatusCode> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let key = DecodingKey::from_secret(KEY).unwrap();
    // `exp_ms` is checked below to the millisecond; the coarse `exp`
    // check is left to jsonwebtoken with no leeway.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.required_spec_claims.clear();
    let claims = bearer.and_then(|jwt| jsonwebtoken::decode::<Claims>(jwt, &key, &validation).ok());
    match claims {
        None => {
            counts.invalid.fetch_add(1, Ordering::Relaxed);
            Err(StatusCode::UNAUTHORIZED)
        }
        Some(data) if data.claims.exp_ms <= unix_ms() => {
            counts.expired.fetch_add(1, Ordering::Relaxed);
            let late = unix_ms() - data.claims.exp_ms;
            counts.worst_lateness_ms.fetch_max(late, Ordering::Relaxed);
            Err(StatusCode::UNAUTHORIZED)
        }
        Some(_) => {
            counts.ok.fetch_add(1, Ordering::Relaxed);
            Ok("ok")
        }
    }
}

/// Why a call through [`Client`] failed.
#[derive(Debug)]
pub enum CallError {
    Token(token_refresh::Error),
    Http(reqwest::Error),
    Status(StatusCode),
}

impl From<token_refresh::Error> for CallError {
    fn from(err: token_refresh::Error) -> Self {
        CallError::Token(err)
    }
}

/// An API client as users write them, its one method annotated.
pub struct Client {
    http: reqwest::Client,
    url: String,
    tokens: TokenCache<ClientCredentials>,
}

impl HasTokenCache for Client {
    type Fetcher = ClientCredentials;

    fn token_cache(&self) -> &TokenCache<ClientCredentials> {
        &self.tokens
    }
}

/// A fetcher for `server`, through a client that ignores any proxy the
/// environment names: the suites talk to loopback only.
pub fn fetcher(server: &TokenServer, request_timeout: Duration) -> ClientCredentials {
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let endpoint = Endpoint::builder(&server.url)
        .client_auth(ClientAuth::basic(CLIENT_ID, CLIENT_SECRET))
        .http_client(http)
        .timeout(request_timeout)
        .build()
        .unwrap();
    ClientCredentials::new(endpoint)
}

impl Client {
    pub fn new(api: &Api, tokens: TokenCacheBuilder<ClientCredentials>) -> Client {
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(256)
            .build()
            .unwrap();
        Client {
            http,
            url: api.url.clone(),
            tokens: tokens.build().unwrap(),
        }
    }
}

#[refresh_token]
impl Client {
    /// One authorised `GET /resource`.
    pub async fn call(&self) -> Result<(), CallError> {
        let response = self
            .http
            .get(&self.url)
            .header(header::AUTHORIZATION, self.tokens.authorization()?)
            .send()
            .await
            .map_err(CallError::Http)?;
        match response.status() {
            StatusCode::OK => Ok(()),
            status => Err(CallError::Status(status)),
        }
    }
}

/// A small generator for the suites' own randomness (call spacing).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A duration uniform in `[low, high)`.
    pub fn between(&mut self, low: Duration, high: Duration) -> Duration {
        self.0 = splitmix(self.0);
        let span = (high - low).as_nanos() as u64;
        low + Duration::from_nanos(self.0 % span.max(1))
    }
}
