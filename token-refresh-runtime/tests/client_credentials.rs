//! The client credentials fetcher against a token endpoint on loopback
//! that each test starts itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use token_refresh_runtime::oauth2::{ClientAuth, ClientCredentials, Endpoint, MAX_RESPONSE_BYTES};
use token_refresh_runtime::{Error, FetchToken, TokenCache};
use tokio::net::TcpListener;

const CLIENT_ID: &str = "my client:1";
const CLIENT_SECRET: &str = "p@ss/w+rd";
/// Base64 of `my%20client%3A1:p%40ss%2Fw%2Brd`: the id and secret
/// form-urlencoded, then joined, as RFC 6749 section 2.3.1 requires.
const EXPECTED_BASIC: &str = "Basic bXklMjBjbGllbnQlM0ExOnAlNDBzcyUyRnclMkJyZA==";

/// What the endpoint received: the `Authorization` header and the body.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A token endpoint on 127.0.0.1 with one route per behaviour. Dropping
/// the returned handle stops it.
struct Server {
    base: String,
    seen: Seen,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn start() -> Server {
    let seen = Seen::default();
    let app = Router::new()
        .route("/token", post(issue))
        .route("/oauth-error", post(oauth_error))
        .route("/html-500", post(html_500))
        .route("/slow", post(slow))
        .route("/huge", post(huge))
        .with_state(Arc::clone(&seen));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server { base, seen, server }
}

async fn issue(State(seen): State<Seen>, headers: HeaderMap, body: String) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    seen.lock().unwrap().push((auth, body));
    let json = r#"{"access_token":"at-canary-1","token_type":"bearer",
        "expires_in":120,"scope":"orders:read"}"#;
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

async fn oauth_error() -> Response {
    let json = r#"{"error":"invalid_client","error_description":"unknown client"}"#;
    let headers = [(header::CONTENT_TYPE, "application/json")];
    (StatusCode::BAD_REQUEST, headers, json).into_response()
}

async fn html_500() -> Response {
    let html = "<html><body><h1>Internal Server Error</h1></body></html>";
    let headers = [(header::CONTENT_TYPE, "text/html")];
    (StatusCode::INTERNAL_SERVER_ERROR, headers, html).into_response()
}

async fn slow() -> Response {
    tokio::time::sleep(Duration::from_secs(10)).await;
    issue(State(Seen::default()), HeaderMap::new(), String::new()).await
}

async fn huge() -> Response {
    let padding = "x".repeat(MAX_RESPONSE_BYTES);
    format!(r#"{{"access_token":"a","padding":"{padding}"}}"#).into_response()
}

fn fetcher(server: &Server, path: &str) -> ClientCredentials {
    let endpoint = Endpoint::builder(format!("{}{path}", server.base))
        .client_auth(ClientAuth::basic(CLIENT_ID, CLIENT_SECRET))
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    ClientCredentials::new(endpoint).scope("orders:read")
}

#[tokio::test]
async fn sends_basic_credentials_and_reads_the_token() {
    let server = start().await;
    let token = fetcher(&server, "/token").fetch_token(None).await.unwrap();
    assert_eq!(token.access_token().secret(), "at-canary-1");
    assert_eq!(token.lifetime(), Duration::from_secs(120));
    assert_eq!(token.scopes(), ["orders:read"]);
    let seen = server.seen.lock().unwrap().clone();
    let expected_body = "grant_type=client_credentials&scope=orders%3Aread";
    assert_eq!(
        seen,
        [(EXPECTED_BASIC.to_owned(), expected_body.to_owned())]
    );
}

#[tokio::test]
async fn a_cache_over_the_fetcher_serves_the_bearer_header() {
    let server = start().await;
    let cache = TokenCache::new(fetcher(&server, "/token"));
    cache.ensure_fresh().await.unwrap();
    cache.ensure_fresh().await.unwrap();
    assert_eq!(cache.authorization().unwrap(), "Bearer at-canary-1");
    assert_eq!(server.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_oauth_error_body_becomes_a_typed_error() {
    let server = start().await;
    let err = fetcher(&server, "/oauth-error")
        .fetch_token(None)
        .await
        .unwrap_err();
    let oauth = err.oauth().expect("an OAuth error");
    assert_eq!(oauth.status, 400);
    assert_eq!(oauth.error, "invalid_client");
    assert_eq!(oauth.description.as_deref(), Some("unknown client"));
}

#[tokio::test]
async fn a_500_with_an_html_body_is_an_http_error() {
    let server = start().await;
    let err = fetcher(&server, "/html-500")
        .fetch_token(None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::HttpStatus { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        r#"the token endpoint answered HTTP 500: "<html><body><h1>Internal Server Error</h1></body></html>""#
    );
}

#[tokio::test]
async fn a_slow_endpoint_is_a_request_timeout() {
    let server = start().await;
    let err = fetcher(&server, "/slow")
        .fetch_token(None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RequestTimeout { after } if after == Duration::from_millis(500)),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_oversized_response_is_refused() {
    let server = start().await;
    let err = fetcher(&server, "/huge")
        .fetch_token(None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ResponseTooLarge { limit } if limit == MAX_RESPONSE_BYTES));
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error() {
    // Bind and drop a listener to get a loopback port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/token");
    let fetcher = ClientCredentials::new(Endpoint::new(&url, CLIENT_ID, CLIENT_SECRET).unwrap());
    let err = fetcher.fetch_token(None).await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
}

#[test]
fn the_fetcher_never_prints_its_secret() {
    let endpoint = Endpoint::new("https://auth.test/token", CLIENT_ID, CLIENT_SECRET).unwrap();
    let fetcher = ClientCredentials::new(endpoint);
    let debug = format!("{fetcher:?}");
    assert!(!debug.contains(CLIENT_SECRET), "{debug}");
    assert!(debug.contains("ClientSecret(<redacted>)"), "{debug}");
}

#[test]
fn bad_settings_are_typed_errors() {
    let build = |url: &str, id: &str, timeout| {
        Endpoint::builder(url)
            .client_auth(ClientAuth::basic(id, CLIENT_SECRET))
            .timeout(timeout)
            .build()
            .unwrap_err()
    };
    let second = Duration::from_secs(1);
    let zero_lifetime = Endpoint::builder("https://auth.test/token")
        .default_lifetime(Duration::ZERO)
        .build()
        .unwrap_err();
    for err in [
        zero_lifetime,
        build("not a url", CLIENT_ID, second),
        build("http://auth.test/token", CLIENT_ID, second),
        build("https://auth.test/token", "", second),
        build("https://auth.test/token", CLIENT_ID, Duration::ZERO),
    ] {
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    }
}
