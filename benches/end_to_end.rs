//! Group `end_to_end`: one authorised `GET /` to a loopback API, with and
//! without `#[refresh_token]`.
//!
//! The API (axum, on 127.0.0.1 at a port the OS picks, started and stopped
//! here) answers 200 to `Authorization: Bearer bench-token` and 401 to
//! anything else.
//!
//! - `annotated`: a client method under `#[token_refresh::refresh_token]`
//!   that sends the request with `self.tokens.authorization()?`.
//! - `hand_written`: the same request with a fixed `Authorization` value.
//!
//! Both use one kept-alive connection from the same kind of
//! `reqwest::Client` and read the whole answer. The API and the clients
//! share the current-thread runtime that criterion drives.
//!
//! After the group, the two clients and a control (a second hand-written
//! client on its own connection) take turns for `INTERLEAVED_ROUNDS`
//! rounds and the medians are printed as `end_to_end/interleaved`: on a
//! shared machine two separate criterion runs drift apart by more than
//! the overhead sought, taking turns cancels that drift, and the control
//! shows how far two identical clients differ by chance.
//!
//! Run with `cargo bench --bench end_to_end`.

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use token_refresh::{Error, FetchToken, HasTokenCache, Token, TokenCache, refresh_token};
use tokio::sync::oneshot;

const BEARER: &str = "Bearer bench-token";

/// Rounds (one request of each client) in the interleaved comparison.
const INTERLEAVED_ROUNDS: usize = 15_000;

/// Hands out a token that lives for an hour, so it stays fresh throughout.
struct LongLived;

impl FetchToken for LongLived {
    async fn fetch_token(&self, _: Option<&Token>) -> Result<Token, Error> {
        Ok(Token::new("bench-token", Duration::from_secs(3600)))
    }
}

/// Read only through `Debug`, when a request fails.
#[derive(Debug)]
#[allow(dead_code)]
enum ApiError {
    Token(Error),
    Http(reqwest::Error),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError::Token(err)
    }
}

impl From<reqwest::Error> for ApiError {
    fn from(err: reqwest::Error) -> Self {
        ApiError::Http(err)
    }
}

/// A client whose methods get their token from a cache.
struct Annotated {
    http: reqwest::Client,
    url: String,
    tokens: TokenCache<LongLived>,
}

impl HasTokenCache for Annotated {
    type Fetcher = LongLived;

    fn token_cache(&self) -> &TokenCache<LongLived> {
        &self.tokens
    }
}

#[refresh_token]
impl Annotated {
    async fn get(&self) -> Result<StatusCode, ApiError> {
        let response = self
            .http
            .get(&self.url)
            .header(AUTHORIZATION, self.tokens.authorization()?)
            .send()
            .await?;
        let status = response.status();
        response.bytes().await?;
        Ok(status)
    }
}

/// The same client with a header value fixed in advance.
struct HandWritten {
    http: reqwest::Client,
    url: String,
    authorization: HeaderValue,
}

impl HandWritten {
    async fn get(&self) -> Result<StatusCode, ApiError> {
        let response = self
            .http
            .get(&self.url)
            .header(AUTHORIZATION, self.authorization.clone())
            .send()
            .await?;
        let status = response.status();
        response.bytes().await?;
        Ok(status)
    }
}

/// The client both benchmarks use: keep-alive (reqwest's default pool),
/// and never a proxy, so requests go straight to loopback.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client")
}

async fn api(headers: HeaderMap) -> StatusCode {
    match headers.get(AUTHORIZATION) {
        Some(value) if value == BEARER => StatusCode::OK,
        _ => StatusCode::UNAUTHORIZED,
    }
}

/// Starts the API on 127.0.0.1 at a port the OS picks; returns its URL
/// and what stops it.
fn start_api(runtime: &tokio::runtime::Runtime) -> (String, oneshot::Sender<()>) {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = oneshot::channel::<()>();
    let app = Router::new().route("/", get(api));
    runtime.spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .expect("API server");
    });
    (format!("http://{addr}/"), stop)
}

/// Times `rounds` requests of each of the three clients, taking turns
/// (in an order that rotates) so that all see the same machine, and
/// returns their median times: annotated, hand_written, and a second
/// hand-written client on a connection of its own, which shows how far
/// two identical clients differ by chance.
async fn interleaved(
    annotated: &Annotated,
    hand_written: &HandWritten,
    control: &HandWritten,
    rounds: usize,
) -> [Duration; 3] {
    let mut times: [Vec<Duration>; 3] = Default::default();
    for round in 0..rounds {
        for turn in 0..3 {
            let which = (round + turn) % 3;
            let began = Instant::now();
            let status = match which {
                0 => annotated.get().await.expect("annotated"),
                1 => hand_written.get().await.expect("hand_written"),
                _ => control.get().await.expect("control"),
            };
            times[which].push(began.elapsed());
            assert_eq!(status, StatusCode::OK);
        }
    }
    times.map(|mut v| {
        v.sort_unstable();
        v[v.len() / 2]
    })
}

fn end_to_end(c: &mut Criterion) {
    // The API and the clients share one thread, so a request is a
    // ping-pong over loopback with no cross-thread wake-ups to add noise.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (url, stop) = start_api(&runtime);

    let annotated = Annotated {
        http: http_client(),
        url: url.clone(),
        tokens: TokenCache::new(LongLived),
    };
    let hand_written = HandWritten {
        http: http_client(),
        url,
        authorization: HeaderValue::try_from(BEARER.to_owned()).expect("header value"),
    };
    // The first call fetches the token and opens the connection; both
    // must be let in.
    runtime.block_on(async {
        assert_eq!(annotated.get().await.expect("annotated"), StatusCode::OK);
        assert_eq!(annotated.tokens.stats().fetches, 1);
        let status = hand_written.get().await.expect("hand_written");
        assert_eq!(status, StatusCode::OK);
    });

    let mut group = c.benchmark_group("end_to_end");
    group.sample_size(50);
    group.bench_function("annotated", |b| {
        b.to_async(&runtime).iter(|| async {
            let status = annotated.get().await.expect("annotated");
            assert_eq!(status, StatusCode::OK);
        })
    });
    group.bench_function("hand_written", |b| {
        b.to_async(&runtime).iter(|| async {
            let status = hand_written.get().await.expect("hand_written");
            assert_eq!(status, StatusCode::OK);
        })
    });
    group.finish();

    // Separate runs drift apart by more than the difference sought on a
    // shared machine; taking turns cancels that drift out.
    let control = HandWritten {
        http: http_client(),
        url: hand_written.url.clone(),
        authorization: hand_written.authorization.clone(),
    };
    let [a, h, c] = runtime.block_on(interleaved(
        &annotated,
        &hand_written,
        &control,
        INTERLEAVED_ROUNDS,
    ));
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let percent = |x: Duration, y: Duration| (x.as_secs_f64() / y.as_secs_f64() - 1.0) * 100.0;
    println!(
        "end_to_end/interleaved ({INTERLEAVED_ROUNDS} rounds, medians): annotated {:.2} µs, \
         hand_written {:.2} µs, control {:.2} µs; annotated vs hand_written {:+.2}%, \
         control vs hand_written {:+.2}% (chance)",
        micros(a),
        micros(h),
        micros(c),
        percent(a, h),
        percent(c, h),
    );
    assert_eq!(
        annotated.tokens.stats().fetches,
        1,
        "annotated fetched again"
    );

    let _ = stop.send(());
    runtime.block_on(tokio::task::yield_now());
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = end_to_end
}
criterion_main!(benches);
