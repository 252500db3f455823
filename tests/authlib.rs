//! Integration tests against a real OAuth2 server: Authlib's Flask
//! integration, run from `tests/servers/authlib_server.py`.
//!
//! Each test starts its own server on 127.0.0.1 (a free port, so tests run
//! in parallel without sharing counters) and kills it when it ends, panic
//! or not. The server also exits by itself when its standard input closes,
//! which covers a test process that is killed outright.
//!
//! The Python that runs it is `$TOKEN_REFRESH_AUTHLIB_PYTHON`, else
//! `tests/servers/.venv/bin/python`; `.ci/run` creates that venv from
//! `tests/servers/requirements.txt`. Without a Python that can import
//! Authlib and Flask every test passes without running, after one line on
//! stderr saying so, unless `TOKEN_REFRESH_REQUIRE_AUTHLIB=1`, which makes
//! them fail instead (CI sets it, so CI cannot skip them by accident).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use serde::Deserialize;
use token_refresh::oauth2::{ClientAuth, ClientCredentials, Endpoint, Password, RefreshTokenGrant};
use token_refresh::{Error, HasTokenCache, TokenCache};

const PYTHON_ENV: &str = "TOKEN_REFRESH_AUTHLIB_PYTHON";
const REQUIRE_ENV: &str = "TOKEN_REFRESH_REQUIRE_AUTHLIB";

/// How long the server may take to print its address. It usually takes
/// well under a second; the margin is for a loaded CI machine.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

// What `authlib_server.py` knows: its user, its clients and its endpoints.
const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
const BASIC: (&str, &str) = ("basic-client", "basic-secret");
const POST: (&str, &str) = ("post-client", "post-secret");
const ODD: (&str, &str) = ("odd:client/id", "p@ss:w/rd+%&=~");
const SPACED: (&str, &str) = ("spaced client", "a secret with spaces");
const ROTATING: &str = "/oauth/token";
const NOT_ROTATING: &str = "/oauth/token-no-rotate";

// ---------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------

/// The Python to run the server with, found once per test binary; `None`
/// when there is none and the tests may skip.
fn python() -> Option<&'static Path> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| match find_python() {
            Ok(python) => Some(python),
            Err(reason) if std::env::var(REQUIRE_ENV).as_deref() == Ok("1") => {
                panic!("{REQUIRE_ENV}=1 but the Authlib server cannot run: {reason}")
            }
            Err(reason) => {
                // Straight to the process's stderr: the test harness
                // captures `eprintln!` of passing tests, and a skip that
                // nobody sees looks like a pass.
                let _ = writeln!(
                    io::stderr(),
                    "authlib tests NOT RUN: no Python with authlib ({reason}); \
                     set {PYTHON_ENV} or run .ci/run"
                );
                None
            }
        })
        .as_deref()
}

fn find_python() -> Result<PathBuf, String> {
    let python = match std::env::var_os(PYTHON_ENV) {
        Some(path) => PathBuf::from(path),
        None => servers_dir().join(".venv/bin/python"),
    };
    if !python.exists() {
        return Err(format!("{} does not exist", python.display()));
    }
    let status = Command::new(&python)
        .args(["-c", "import authlib, flask"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("{} does not run: {e}", python.display()))?;
    if !status.success() {
        return Err(format!(
            "{} cannot import authlib and flask",
            python.display()
        ));
    }
    Ok(python)
}

fn servers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers")
}

/// The server process, killed when this is dropped.
struct Process {
    child: Child,
    /// Held open for the server's life: it exits when this closes.
    _stdin: Option<ChildStdin>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running Authlib server and an HTTP client for talking to it.
struct Server {
    base: String,
    /// Sends every request of a test, the token requests included, and
    /// never through a proxy: nothing may leave the machine.
    http: reqwest::Client,
    _process: Process,
}

impl Server {
    /// Starts a server whose tokens live `lifetime` seconds; `None` when
    /// the tests are to be skipped.
    fn start(lifetime: u64) -> Option<Server> {
        let python = python()?;
        let mut child = Command::new(python)
            .arg(servers_dir().join("authlib_server.py"))
            .args(["--port", "0", "--lifetime", &lifetime.to_string()])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take();
        let process = Process {
            child,
            _stdin: stdin,
        };
        let address = read_address(stdout);
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Some(Server {
            base: format!("http://{address}"),
            http,
            _process: process,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The token endpoint at `path`, for a client that authenticates
    /// with `auth`.
    fn endpoint(&self, path: &str, auth: ClientAuth) -> Endpoint {
        Endpoint::builder(self.url(path))
            .client_auth(auth)
            .http_client(self.http.clone())
            .build()
            .expect("a valid endpoint")
    }

    /// The token endpoint at `path`, for the `client_secret_basic` client.
    fn basic_endpoint(&self, path: &str) -> Endpoint {
        self.endpoint(path, ClientAuth::basic(BASIC.0, BASIC.1))
    }

    /// `GET /api/me` with `authorization`: the status, and the body when
    /// it is a success.
    async fn me(&self, authorization: &HeaderValue) -> (StatusCode, Option<Me>) {
        let response = self
            .http
            .get(self.url("/api/me"))
            .header(AUTHORIZATION, authorization)
            .send()
            .await
            .expect("the API answers");
        let status = response.status();
        let me = if status.is_success() {
            Some(response.json().await.expect("a JSON body"))
        } else {
            None
        };
        (status, me)
    }

    /// What the server has counted: `token.<grant_type>` for each token
    /// request, `token.<grant_type>.<error>` for each refusal, and
    /// `api.<status>` for each API answer.
    async fn stats(&self) -> Stats {
        let counts = self
            .http
            .get(self.url("/_stats"))
            .send()
            .await
            .expect("the stats endpoint answers")
            .json()
            .await
            .expect("JSON stats");
        Stats(counts)
    }
}

/// Waits for the server's first line, `LISTENING 127.0.0.1:PORT`, and
/// returns the address. Panics (the caller's guard then kills the server)
/// if it does not come in time.
fn read_address(stdout: impl io::Read + Send + 'static) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let _ = tx.send(stdout.read_line(&mut line).map(|_| line));
        // Keep reading, so a server that prints more never blocks on a
        // full pipe; this ends when the server does.
        let _ = io::copy(&mut stdout, &mut io::sink());
    });
    let line = match rx.recv_timeout(STARTUP_TIMEOUT) {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => panic!("cannot read the server's output: {e}"),
        Err(_) => panic!("the server printed no address in {STARTUP_TIMEOUT:?}"),
    };
    match line.trim().strip_prefix("LISTENING ") {
        Some(address) if address.starts_with("127.0.0.1:") => address.to_owned(),
        _ => panic!("the server did not start; its first line: {line:?}"),
    }
}

/// The body of `GET /api/me`.
#[derive(Debug, Deserialize)]
struct Me {
    client_id: String,
    user: Option<String>,
}

/// The server's counters; a missing one is zero.
#[derive(Debug)]
struct Stats(HashMap<String, u64>);

impl Stats {
    fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }

    /// Password logins and refreshes requested, refused or not.
    fn logins_and_refreshes(&self) -> (u64, u64) {
        (self.get("token.password"), self.get("token.refresh_token"))
    }

    /// All the refusals of token requests, by counter name.
    fn token_errors(&self) -> Vec<(&str, u64)> {
        let mut errors = self
            .0
            .iter()
            .filter(|(k, _)| k.starts_with("token.") && k.matches('.').count() == 2)
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>();
        errors.sort();
        errors
    }
}

/// Records every refresh token the cache's hook sees, in order.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Option<String>>>>);

impl Seen {
    fn hook(&self) -> impl Fn(&token_refresh::Token) + Send + Sync + 'static {
        let seen = self.clone();
        move |token| {
            let refresh = token.refresh_token().map(|r| r.secret().to_owned());
            seen.0.lock().unwrap().push(refresh);
        }
    }

    fn refresh_tokens(&self) -> Vec<Option<String>> {
        self.0.lock().unwrap().clone()
    }
}

fn password_then_refresh(server: &Server, path: &str) -> RefreshTokenGrant {
    let endpoint = server.basic_endpoint(path);
    let login = Password::new(endpoint.clone(), USERNAME, PASSWORD).scope("profile");
    RefreshTokenGrant::new(endpoint).fallback(login)
}

// ---------------------------------------------------------------------
// Client credentials and client authentication
// ---------------------------------------------------------------------

/// Fetches a client-credentials token as `client` and checks that the API
/// takes it.
async fn client_credentials_work(server: &Server, auth: ClientAuth, client: &str) {
    let grant = ClientCredentials::new(server.endpoint(ROTATING, auth));
    let cache = TokenCache::new(grant);
    cache.ensure_fresh().await.expect("a token");
    let (status, me) = server.me(&cache.authorization().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let me = me.unwrap();
    assert_eq!((me.client_id.as_str(), me.user), (client, None));
    assert_eq!(cache.stats().fetches, 1);
    assert_eq!(server.stats().await.get("token.client_credentials"), 1);
}

#[tokio::test]
async fn client_credentials_with_client_secret_basic() {
    let Some(server) = Server::start(60) else {
        return;
    };
    client_credentials_work(&server, ClientAuth::basic(BASIC.0, BASIC.1), BASIC.0).await;
}

#[tokio::test]
async fn client_credentials_with_client_secret_post() {
    let Some(server) = Server::start(60) else {
        return;
    };
    client_credentials_work(&server, ClientAuth::post(POST.0, POST.1), POST.0).await;
}

/// RFC 6749 section 2.3.1: the id and secret are form-encoded before
/// HTTP Basic, so a `:` in the id cannot be taken for the separator.
#[tokio::test]
async fn client_secret_basic_encodes_reserved_characters() {
    let Some(server) = Server::start(60) else {
        return;
    };
    client_credentials_work(&server, ClientAuth::basic(ODD.0, ODD.1), ODD.0).await;
}

/// Authlib percent-decodes Basic credentials (`urllib.parse.unquote`),
/// which leaves a `+` as it is: a space must travel as `%20`.
#[tokio::test]
async fn client_secret_basic_encodes_spaces_so_authlib_reads_them() {
    let Some(server) = Server::start(60) else {
        return;
    };
    let auth = ClientAuth::basic(SPACED.0, SPACED.1);
    client_credentials_work(&server, auth, SPACED.0).await;
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client() {
    let Some(server) = Server::start(60) else {
        return;
    };
    let cases = [
        ClientAuth::basic(BASIC.0, "wrong"),
        ClientAuth::post(POST.0, "wrong"),
        // The right secret, sent the way this client may not use.
        ClientAuth::post(BASIC.0, BASIC.1),
    ];
    for auth in cases {
        let described = format!("{auth:?}");
        let endpoint = server.endpoint(ROTATING, auth);
        let cache = TokenCache::new(ClientCredentials::new(endpoint));
        let err = cache.ensure_fresh().await.unwrap_err();
        let oauth = err
            .oauth()
            .unwrap_or_else(|| panic!("{described}: {err:?}"));
        assert_eq!(oauth.error, "invalid_client", "{described}");
        // 401 even for `client_secret_post`: Authlib answers 401 whenever
        // the endpoint accepts HTTP Basic, not only when the client used it.
        assert_eq!(oauth.status, 401, "{described}");
        assert!(!err.is_retryable(), "{described}");
        assert_eq!(cache.stats().failures, 1);
        assert!(matches!(cache.authorization(), Err(Error::NoToken)));
    }
    let stats = server.stats().await;
    assert_eq!(stats.get("token.client_credentials.invalid_client"), 3);
}

// ---------------------------------------------------------------------
// Password, then refresh tokens
// ---------------------------------------------------------------------

#[tokio::test]
async fn password_then_rotating_refresh_tokens() {
    let Some(server) = Server::start(2) else {
        return;
    };
    let seen = Seen::default();
    let cache = TokenCache::builder(password_then_refresh(&server, ROTATING))
        .on_token(seen.hook())
        .build()
        .unwrap();

    // The first fetch logs in with the password.
    cache.ensure_fresh().await.unwrap();
    let first = cache.authorization().unwrap();
    let (status, me) = server.me(&first).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me.unwrap().user.as_deref(), Some(USERNAME));
    let stats = server.stats().await;
    assert_eq!(stats.logins_and_refreshes(), (1, 0));

    // Forced: the refresh token is used, and the server sends a new one.
    cache.force_refresh().await.unwrap();
    assert_ne!(cache.authorization().unwrap(), first);
    assert_eq!(server.stats().await.get("token.refresh_token"), 1);

    // After expiry the cache refreshes by itself, again with the refresh
    // token.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert!(cache.token().unwrap().is_expired());
    cache.ensure_fresh().await.unwrap();
    assert_eq!(
        server.me(&cache.authorization().unwrap()).await.0,
        StatusCode::OK
    );

    let stats = server.stats().await;
    assert_eq!(stats.logins_and_refreshes(), (1, 2));
    assert_eq!(stats.token_errors(), []);
    assert_eq!(cache.stats().fetches, 3);

    // Three tokens, three different refresh tokens, and the grant holds
    // the newest.
    let refresh: Vec<String> = seen
        .refresh_tokens()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(refresh.len(), 3);
    assert_eq!(refresh.iter().collect::<HashSet<_>>().len(), 3, "rotated");
    let current = cache.fetcher().current_refresh_token().unwrap();
    assert_eq!(current.secret(), refresh[2]);

    // A rotated-out refresh token is dead on the server.
    let endpoint = server.basic_endpoint(ROTATING);
    let old = RefreshTokenGrant::new(endpoint).refresh_token(refresh[0].clone());
    let err = TokenCache::new(old).ensure_fresh().await.unwrap_err();
    let Error::ReauthorizationRequired(Some(oauth)) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(oauth.error, "invalid_grant");
}

#[tokio::test]
async fn password_then_the_same_refresh_token_without_rotation() {
    let Some(server) = Server::start(60) else {
        return;
    };
    let seen = Seen::default();
    let cache = TokenCache::builder(password_then_refresh(&server, NOT_ROTATING))
        .on_token(seen.hook())
        .build()
        .unwrap();

    cache.ensure_fresh().await.unwrap();
    let mut access = vec![cache.authorization().unwrap()];
    for _ in 0..2 {
        cache.force_refresh().await.unwrap();
        access.push(cache.authorization().unwrap());
    }
    for authorization in &access {
        assert_eq!(server.me(authorization).await.0, StatusCode::OK);
    }
    assert_eq!(access.iter().collect::<HashSet<_>>().len(), 3);

    let stats = server.stats().await;
    assert_eq!(stats.logins_and_refreshes(), (1, 2));
    assert_eq!(stats.token_errors(), []);

    // The refreshed tokens carry no refresh token of their own, so every
    // token the cache hands out carries the first one, which still works.
    let refresh = seen.refresh_tokens();
    assert_eq!(refresh.len(), 3);
    assert!(refresh[0].is_some());
    assert!(refresh.iter().all(|r| *r == refresh[0]), "{refresh:?}");
    let current = cache.fetcher().current_refresh_token().unwrap();
    assert_eq!(Some(current.secret()), refresh[0].as_deref());
}

#[tokio::test]
async fn a_rejected_refresh_token_requires_reauthorization_once() {
    let Some(server) = Server::start(60) else {
        return;
    };
    let endpoint = server.basic_endpoint(ROTATING);
    let cache = TokenCache::new(RefreshTokenGrant::new(endpoint).refresh_token("bogus"));

    let err = cache.ensure_fresh().await.unwrap_err();
    let Error::ReauthorizationRequired(Some(oauth)) = &err else {
        panic!("{err:?}");
    };
    assert_eq!((oauth.error.as_str(), oauth.status), ("invalid_grant", 400));
    assert!(cache.fetcher().current_refresh_token().is_none());

    // Forced past the backoff: the dead token is not sent again, and the
    // fetch fails without a request.
    let err = cache.force_refresh().await.unwrap_err();
    assert!(
        matches!(err, Error::ReauthorizationRequired(None)),
        "{err:?}"
    );
    let stats = server.stats().await;
    assert_eq!(stats.get("token.refresh_token"), 1);
    assert_eq!(stats.get("token.refresh_token.invalid_grant"), 1);
    assert_eq!(cache.stats().failures, 2);
}

#[tokio::test]
async fn a_rejected_refresh_token_falls_back_to_the_password() {
    let Some(server) = Server::start(60) else {
        return;
    };
    let grant = password_then_refresh(&server, ROTATING).refresh_token("bogus");
    let cache = TokenCache::new(grant);

    cache.ensure_fresh().await.unwrap();
    let (status, me) = server.me(&cache.authorization().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me.unwrap().user.as_deref(), Some(USERNAME));
    let stats = server.stats().await;
    assert_eq!(stats.get("token.refresh_token.invalid_grant"), 1);
    assert_eq!(stats.get("token.password"), 1);

    // The password login brought a good refresh token, used from now on.
    cache.force_refresh().await.unwrap();
    let stats = server.stats().await;
    assert_eq!(stats.logins_and_refreshes(), (1, 2));
    assert_eq!(stats.get("token.refresh_token.invalid_grant"), 1);
}

// ---------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------

#[tokio::test]
async fn the_api_refuses_an_expired_token_and_the_cache_replaces_it() {
    let Some(server) = Server::start(2) else {
        return;
    };
    let grant = ClientCredentials::new(server.basic_endpoint(ROTATING));
    let cache = TokenCache::new(grant);
    cache.ensure_fresh().await.unwrap();
    let old = cache.authorization().unwrap();
    assert_eq!(server.me(&old).await.0, StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let response = server
        .http
        .get(server.url("/api/me"))
        .header(AUTHORIZATION, &old)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()[WWW_AUTHENTICATE].to_str().unwrap();
    assert!(challenge.contains("invalid_token"), "{challenge}");

    cache.ensure_fresh().await.unwrap();
    let new = cache.authorization().unwrap();
    assert_ne!(new, old);
    assert_eq!(server.me(&new).await.0, StatusCode::OK);
    assert_eq!(cache.stats().fetches, 2);
}

// ---------------------------------------------------------------------
// An annotated client over many token lifetimes
// ---------------------------------------------------------------------

/// An API client as a user of the crate would write it.
struct MeClient {
    url: String,
    http: reqwest::Client,
    tokens: TokenCache<RefreshTokenGrant>,
}

impl HasTokenCache for MeClient {
    type Fetcher = RefreshTokenGrant;

    fn token_cache(&self) -> &TokenCache<RefreshTokenGrant> {
        &self.tokens
    }
}

#[token_refresh::refresh_token]
impl MeClient {
    async fn me(&self) -> Result<Me, CallError> {
        let response = self
            .http
            .get(&self.url)
            .header(AUTHORIZATION, self.tokens.authorization()?)
            .send()
            .await?;
        match response.status() {
            StatusCode::OK => Ok(response.json().await?),
            status => Err(CallError::Status(status)),
        }
    }
}

#[derive(Debug)]
enum CallError {
    Token(Error),
    Status(StatusCode),
    Http(reqwest::Error),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Token(err) => write!(f, "no token: {err:?}"),
            CallError::Status(status) => write!(f, "the API answered {status}"),
            CallError::Http(err) => write!(f, "the request failed: {err}"),
        }
    }
}

impl From<Error> for CallError {
    fn from(err: Error) -> Self {
        CallError::Token(err)
    }
}

impl From<reqwest::Error> for CallError {
    fn from(err: reqwest::Error) -> Self {
        CallError::Http(err)
    }
}

/// What the callers of the long run saw.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    unauthorized: AtomicU64,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, result: Result<Me, CallError>) {
        match result {
            Ok(me) if me.user.as_deref() == Some(USERNAME) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(me) => self.failures.lock().unwrap().push(format!("{me:?}")),
            Err(CallError::Status(StatusCode::UNAUTHORIZED)) => {
                self.unauthorized.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => self.failures.lock().unwrap().push(err.to_string()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_annotated_client_outlasts_many_token_lifetimes() {
    const LIFETIME: Duration = Duration::from_secs(2);
    const RUN_FOR: Duration = Duration::from_millis(11_500);
    const WORKERS: u64 = 4;
    let Some(server) = Server::start(LIFETIME.as_secs()) else {
        return;
    };
    let seen = Seen::default();
    // Rotation with concurrent callers is the hard case: two fetches at
    // once would both send the same refresh token, and the second would
    // be refused.
    let tokens = TokenCache::builder(password_then_refresh(&server, ROTATING))
        .on_token(seen.hook())
        .build()
        .unwrap();
    let client = Arc::new(MeClient {
        url: server.url("/api/me"),
        http: server.http.clone(),
        tokens,
    });
    let tally = Arc::new(Tally::default());

    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..WORKERS {
        let (client, tally) = (Arc::clone(&client), Arc::clone(&tally));
        workers.spawn(async move {
            let mut i = 0u64;
            while started.elapsed() < RUN_FOR {
                if i % 5 == 0 {
                    // A burst: calls that find the same stale token at
                    // the same moment.
                    let (a, b, c) = tokio::join!(client.me(), client.me(), client.me());
                    [a, b, c].into_iter().for_each(|r| tally.record(r));
                } else {
                    tally.record(client.me().await);
                }
                // Between 100 and 199 ms, different for every worker.
                let pause = 100 + (worker * 37 + i * 53) % 100;
                tokio::time::sleep(Duration::from_millis(pause)).await;
                i += 1;
            }
        });
    }
    while let Some(joined) = workers.join_next().await {
        joined.expect("a worker panicked");
    }
    let elapsed = started.elapsed();

    let ok = tally.ok.load(Ordering::Relaxed);
    let unauthorized = tally.unauthorized.load(Ordering::Relaxed);
    let failures = tally.failures.lock().unwrap().clone();
    let cache = client.tokens.stats();
    let stats = server.stats().await;
    let _ = writeln!(
        io::stderr(),
        "long run: {elapsed:.1?}, {ok} calls ok, {unauthorized} 401s, {} failures, \
         {cache:?}, server {stats:?}",
        failures.len()
    );
    assert_eq!(unauthorized, 0);
    assert_eq!(failures, Vec::<String>::new());
    assert!(ok >= 100, "only {ok} calls in {elapsed:?}");

    // A short token is refreshed at half its life, so about two fetches
    // per lifetime; many more would mean refreshing too eagerly, fewer
    // than one per lifetime that expired tokens were used.
    let lifetimes = elapsed.as_secs_f64() / LIFETIME.as_secs_f64();
    let most = (2.0 * lifetimes.ceil()) as u64 + 2;
    assert!(
        (5..=most).contains(&cache.fetches),
        "{} fetches in {elapsed:?} ({lifetimes:.1} lifetimes)",
        cache.fetches
    );
    assert_eq!(cache.failures, 0);

    // One login, every later fetch a refresh, none refused; the API saw
    // every call succeed.
    assert_eq!(stats.get("token.password"), 1);
    assert_eq!(stats.get("token.refresh_token"), cache.fetches - 1);
    assert_eq!(stats.token_errors(), []);
    assert_eq!(stats.get("api.401"), 0);
    assert_eq!(stats.get("api.200"), ok);
    let refresh = seen.refresh_tokens();
    assert_eq!(refresh.len() as u64, cache.fetches);
    assert_eq!(refresh.iter().collect::<HashSet<_>>().len(), refresh.len());
}
