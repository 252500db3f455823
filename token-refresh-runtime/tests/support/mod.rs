//! Loopback servers and checks shared by the HTTP tests.
//!
//! Every server listens on 127.0.0.1, port 0, and stops when its handle
//! is dropped (the test runtime ends its connections with the test).

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use token_refresh_runtime::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A client id that needs form-encoding before HTTP Basic.
pub const CLIENT_ID: &str = "my client:1";
/// A client secret that needs form-encoding before HTTP Basic.
pub const CLIENT_SECRET: &str = "cs-canary p@ss/w+rd";
/// The secret as it appears form-encoded in a body or a Basic header.
pub const CLIENT_SECRET_ENCODED: &str = "cs-canary+p%40ss%2Fw%2Brd";
/// The secret as it appears percent-encoded in a Basic header.
pub const CLIENT_SECRET_BASIC: &str = "cs-canary%20p%40ss%2Fw%2Brd";
/// `Basic ` and the base64 of `my%20client%3A1:cs-canary%20p%40ss%2Fw%2Brd`
/// (computed with `base64` outside the test): id and secret each
/// form-urlencoded, then joined, as RFC 6749 section 2.3.1 requires.
pub const EXPECTED_BASIC: &str =
    "Basic bXklMjBjbGllbnQlM0ExOmNzLWNhbmFyeSUyMHAlNDBzcyUyRnclMkJyZA==";
/// A resource owner's password.
pub const PASSWORD: &str = "pw-canary correct horse";
/// An HS256 shared secret.
pub const HS256_SECRET: &[u8] = b"hs-canary-a-shared-secret-of-enough-length";

/// Every secret a test uses, in every form it may travel in. Each error a
/// test sees must contain none of them. Access and refresh tokens in the
/// tests all contain `canary`, so that word covers them.
pub const SECRETS: &[&str] = &[
    "canary",
    CLIENT_SECRET,
    CLIENT_SECRET_ENCODED,
    CLIENT_SECRET_BASIC,
    "bXklMjBjbGllbnQlM0ExOmNzLWNhbmFyeSUyMHAlNDBzcyUyRnclMkJyZA==",
    PASSWORD,
    "hs-canary-a-shared-secret-of-enough-length",
];

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Seen {
    /// The body as decoded form pairs, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }

    /// The value of the one form parameter `name`; panics when it is
    /// missing or repeated.
    pub fn param(&self, name: &str) -> String {
        let values: Vec<_> = self
            .form()
            .into_iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(values.len(), 1, "{name} in {:?}", self.form());
        values.into_iter().next().unwrap()
    }

    /// The form's parameter names, in order.
    pub fn keys(&self) -> Vec<String> {
        self.form().into_iter().map(|(k, _)| k).collect()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

/// Owned pairs from borrowed ones, to compare with [`Seen::form`].
pub fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

type Handler =
    Arc<dyn Fn(usize, Seen) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    handler: Handler,
}

/// An HTTP server on 127.0.0.1 that records every request and answers
/// each with `handler(index, request)`, `index` counting from 0.
pub struct Server {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    pub async fn start<F, Fut>(handler: F) -> Server
    where
        F: Fn(usize, Seen) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            seen: Arc::clone(&seen),
            handler: Arc::new(move |n, request| Box::pin(handler(n, request))),
        };
        let app = Router::new().fallback(handle).with_state(shared);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Server { addr, seen, task }
    }

    /// A server that answers every request with the same response.
    pub async fn always(status: u16, content_type: Option<&'static str>, body: String) -> Server {
        Server::start(move |_, _| {
            let body = body.clone();
            async move { reply(status, content_type, body) }
        })
        .await
    }

    /// A server that answers every request with `json` and status 200.
    pub async fn json(json: impl Into<String>) -> Server {
        Server::always(200, Some("application/json"), json.into()).await
    }

    /// `http://127.0.0.1:PORT` and `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The form parameter `name` of each request so far, in order.
    pub fn sent(&self, name: &str) -> Vec<String> {
        self.requests().iter().map(|r| r.param(name)).collect()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// The only request; panics unless there was exactly one.
    pub fn only_request(&self) -> Seen {
        let seen = self.requests();
        assert_eq!(seen.len(), 1, "{seen:?}");
        seen.into_iter().next().unwrap()
    }
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let request = Seen {
        method,
        uri: uri.to_string(),
        headers,
        body,
    };
    let n = {
        let mut seen = shared.seen.lock().unwrap();
        seen.push(request.clone());
        seen.len() - 1
    };
    (shared.handler)(n, request).await
}

/// A response with `status`, an optional content type and `body`.
pub fn reply(status: u16, content_type: Option<&str>, body: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    let mut response = (status, body.into()).into_response();
    match content_type {
        Some(kind) => {
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, kind.parse().unwrap());
        }
        None => {
            response.headers_mut().remove(header::CONTENT_TYPE);
        }
    }
    response
}

/// A 200 JSON response.
pub fn json(body: impl Into<String>) -> Response {
    reply(200, Some("application/json"), body)
}

/// A 200 token response with `access_token`, `expires_in` 3600 and, when
/// given, a refresh token.
pub fn token_json(access: &str, refresh: Option<&str>) -> Response {
    let mut body = serde_json::json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 3600,
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = refresh.into();
    }
    json(body.to_string())
}

/// A 400 OAuth2 error response with `code`.
pub fn oauth_error(code: &str) -> Response {
    let body = serde_json::json!({ "error": code, "error_description": "refused by test" });
    reply(400, Some("application/json"), body.to_string())
}

/// A server on 127.0.0.1 that reads each request (headers and a
/// `Content-Length` body), counts it, writes `response` byte for byte and
/// closes the connection: for answers a well-behaved HTTP server will not
/// send.
pub struct RawServer {
    pub addr: SocketAddr,
    count: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawServer {
    pub async fn start(response: Vec<u8>) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&count);
        let response = Arc::new(response);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let counter = Arc::clone(&counter);
                let response = Arc::clone(&response);
                tokio::spawn(async move {
                    serve_raw(stream, &counter, &response).await;
                });
            }
        });
        RawServer { addr, count, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

async fn serve_raw(mut stream: TcpStream, count: &AtomicUsize, response: &[u8]) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while request.len() < head_end + length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    count.fetch_add(1, Ordering::SeqCst);
    // The client may stop reading and close early; that is its right.
    let _ = stream.write_all(response).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

/// A JSON token response padded with `x` to exactly `len` bytes.
pub fn padded_json(len: usize) -> String {
    let frame = r#"{"access_token":"at-canary-big","padding":""}"#;
    let padding = "x".repeat(len - frame.len());
    format!(r#"{{"access_token":"at-canary-big","padding":"{padding}"}}"#)
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Decodes standard base64 (with padding), for checking Basic headers.
pub fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for byte in text.bytes().filter(|&b| b != b'=') {
        let value = ALPHABET.iter().position(|&a| a == byte).unwrap() as u32;
        acc = (acc << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Checks an error a test produced: its message and those of its sources
/// start lowercase and end without a full stop, and neither its `Display`
/// nor its `Debug` shows any secret. Returns the error for chaining.
pub fn assert_clean(err: &Error) -> &Error {
    let display = err.to_string();
    let debug = format!("{err:?}");
    let mut messages = vec![display.clone()];
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        messages.push(s.to_string());
        source = s.source();
    }
    let first = display.chars().next().expect("an empty error message");
    assert!(first.is_lowercase(), "not lowercase: {display}");
    assert!(!display.ends_with('.'), "ends with a full stop: {display}");
    for secret in SECRETS {
        for text in messages.iter().chain([&debug]) {
            assert!(!text.contains(secret), "{secret:?} leaked in {text}");
        }
    }
    err
}

/// The time a request may take in these tests before something is wrong.
pub const PATIENCE: Duration = Duration::from_secs(10);
