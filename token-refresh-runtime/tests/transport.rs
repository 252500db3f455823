//! The transport policy every grant shares: redirects never followed,
//! plain `http` only where allowed, a request timeout, a cap on the
//! response size however the body is framed, and a user-supplied
//! `reqwest::Client` used as given.

mod support;

use std::time::Duration;

use axum::http::header::LOCATION;
use support::*;
use token_refresh_runtime::oauth2::{
    ClientAuth, ClientCredentials, Endpoint, EndpointBuilder, MAX_RESPONSE_BYTES,
};
use token_refresh_runtime::{Error, FetchToken, TokenCache};
use tokio::time::Instant;

fn builder(url: String) -> EndpointBuilder {
    Endpoint::builder(url)
        .client_auth(ClientAuth::basic(CLIENT_ID, CLIENT_SECRET))
        .timeout(PATIENCE)
}

fn grant(url: String) -> ClientCredentials {
    ClientCredentials::new(builder(url).build().unwrap())
}

async fn fetch_error(url: String) -> Error {
    let err = grant(url).fetch_token(None).await.unwrap_err();
    assert_clean(&err);
    err
}

// ---------------------------------------------------------------------
// Redirects

/// A server that answers every request with `status` and, if given, a
/// `Location` header.
async fn redirecting(status: u16, location: Option<String>) -> Server {
    Server::start(move |_, _| {
        let location = location.clone();
        async move {
            let mut response = reply(status, None, "");
            if let Some(location) = location {
                let value = location.parse().unwrap();
                response.headers_mut().insert(LOCATION, value);
            }
            response
        }
    })
    .await
}

/// The redirect target: a second server, named `localhost` in the
/// `Location` so its host differs from the endpoint's 127.0.0.1.
async fn target() -> (Server, String) {
    let target = Server::start(|_, _| async { token_json("at-canary-stolen", None) }).await;
    let location = format!("http://localhost:{}/token", target.addr.port());
    (target, location)
}

async fn assert_redirect_refused(status: u16) {
    let (target, location) = target().await;
    let server = redirecting(status, Some(location)).await;
    let err = fetch_error(server.url("/token")).await;
    assert!(
        matches!(&err, Error::Redirect { status: s, host: Some(h) } if *s == status && h == "localhost"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the token endpoint redirected (HTTP {status}) to localhost; redirects are not followed"
        )
    );
    assert!(!err.is_retryable());
    assert_eq!(server.count(), 1);
    assert_eq!(target.count(), 0, "the redirect was followed");
}

#[tokio::test]
async fn a_301_is_refused_and_not_followed() {
    assert_redirect_refused(301).await;
}

#[tokio::test]
async fn a_302_is_refused_and_not_followed() {
    assert_redirect_refused(302).await;
}

#[tokio::test]
async fn a_307_is_refused_and_not_followed() {
    assert_redirect_refused(307).await;
}

#[tokio::test]
async fn a_308_is_refused_and_not_followed() {
    assert_redirect_refused(308).await;
}

#[tokio::test]
async fn a_relative_redirect_names_the_endpoint_host() {
    let server = redirecting(302, Some("/elsewhere".into())).await;
    let err = fetch_error(server.url("/token")).await;
    assert!(
        matches!(&err, Error::Redirect { status: 302, host: Some(h) } if h == "127.0.0.1"),
        "{err:?}"
    );
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_redirect_without_a_location_names_no_host() {
    let server = redirecting(307, None).await;
    let err = fetch_error(server.url("/token")).await;
    assert!(
        matches!(
            err,
            Error::Redirect {
                status: 307,
                host: None
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the token endpoint redirected (HTTP 307) to an unknown host; redirects are not followed"
    );
}

/// A client that follows redirects sends the request on before the
/// endpoint can refuse (as the `http_client` docs warn); the answer from
/// elsewhere is still refused, and reqwest drops `Authorization` on the
/// way to another host.
#[tokio::test]
async fn a_user_client_that_follows_redirects_still_gets_no_token() {
    let (target, location) = target().await;
    let server = redirecting(307, Some(location)).await;
    let http = reqwest::Client::builder().build().unwrap();
    let endpoint = builder(server.url("/token"))
        .http_client(http)
        .build()
        .unwrap();
    let err = ClientCredentials::new(endpoint)
        .fetch_token(None)
        .await
        .unwrap_err();
    assert_clean(&err);
    assert!(
        matches!(&err, Error::Redirect { status: 200, host: Some(h) } if h == "localhost"),
        "{err:?}"
    );
    assert_eq!(target.only_request().header("authorization"), None);
}

// ---------------------------------------------------------------------
// Plain http

#[test]
fn plain_http_to_a_host_that_is_not_loopback_is_refused() {
    for url in [
        "http://auth.example.test/token",
        "http://localhost.example.test/token",
        "http://10.0.0.1/token",
    ] {
        let err = builder(url.into()).build().unwrap_err();
        assert_clean(&err);
        assert!(matches!(err, Error::InvalidConfig { .. }), "{url}: {err:?}");
        assert_eq!(
            err.to_string(),
            "invalid configuration: the token URL uses `http` on a host that is not loopback; \
             use `https` or opt in with `Endpoint::builder(url).allow_http()`",
            "{url}"
        );
    }
}

#[test]
fn plain_http_to_a_host_that_is_not_loopback_is_allowed_with_allow_http() {
    let endpoint = builder("http://auth.example.test/token".into())
        .allow_http()
        .build()
        .unwrap();
    assert_eq!(endpoint.url().as_str(), "http://auth.example.test/token");
}

#[test]
fn plain_http_on_loopback_needs_no_opt_in() {
    for url in [
        "http://127.0.0.1:1/token",
        "http://localhost:1/token",
        "http://[::1]:1/token",
    ] {
        assert!(builder(url.into()).build().is_ok(), "{url}");
    }
}

// ---------------------------------------------------------------------
// Timeout and size

#[tokio::test]
async fn a_server_slower_than_the_timeout_is_a_request_timeout() {
    let server = Server::start(|_, _| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        token_json("at-canary-late", None)
    })
    .await;
    let endpoint = builder(server.url("/token"))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = ClientCredentials::new(endpoint)
        .fetch_token(None)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_clean(&err);
    assert!(
        matches!(err, Error::RequestTimeout { after } if after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the token request did not finish within 300ms"
    );
    assert!(err.is_retryable());
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

fn assert_too_large(err: &Error) {
    assert!(
        matches!(err, Error::ResponseTooLarge { limit } if *limit == MAX_RESPONSE_BYTES),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("the token response is larger than {MAX_RESPONSE_BYTES} bytes")
    );
}

#[tokio::test]
async fn a_body_one_byte_over_the_limit_is_refused() {
    let server = Server::json(padded_json(MAX_RESPONSE_BYTES + 1)).await;
    let err = fetch_error(server.url("/token")).await;
    assert_too_large(&err);
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_read() {
    let server = Server::json(padded_json(MAX_RESPONSE_BYTES)).await;
    let token = grant(server.url("/token")).fetch_token(None).await.unwrap();
    assert_eq!(token.access_token().secret(), "at-canary-big");
}

const HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n";

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused() {
    let body = padded_json(2 * MAX_RESPONSE_BYTES);
    let mut response = format!("{HEAD}Transfer-Encoding: chunked\r\n\r\n").into_bytes();
    for chunk in body.as_bytes().chunks(64 * 1024) {
        response.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        response.extend_from_slice(chunk);
        response.extend_from_slice(b"\r\n");
    }
    response.extend_from_slice(b"0\r\n\r\n");
    let server = RawServer::start(response).await;
    let err = fetch_error(server.url("/token")).await;
    assert_too_large(&err);
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_body_without_a_length_over_the_limit_is_refused() {
    // Neither Content-Length nor chunked: the body ends when the server
    // closes the connection.
    let body = padded_json(2 * MAX_RESPONSE_BYTES);
    let response = [format!("{HEAD}\r\n").as_bytes(), body.as_bytes()].concat();
    let server = RawServer::start(response).await;
    let err = fetch_error(server.url("/token")).await;
    assert_too_large(&err);
}

/// A `Content-Length` smaller than what follows: HTTP framing ends the
/// body at the declared length, so the client reads those 64 bytes and
/// never buffers the rest. The size cap cannot trigger here (nothing past
/// the 64 bytes is read); what matters is that the truncated start is not
/// taken for a token, is not echoed, and nothing beyond it is read.
#[tokio::test]
async fn a_small_lying_content_length_ends_the_body_at_the_declared_length() {
    let padding = "x".repeat(2 * MAX_RESPONSE_BYTES);
    let body = format!(r#"{{"padding":"{padding}","access_token":"at-canary-big"}}"#);
    let head = format!("{HEAD}Content-Length: 64\r\n\r\n");
    let server = RawServer::start([head.as_bytes(), body.as_bytes()].concat()).await;
    let started = Instant::now();
    let err = fetch_error(server.url("/token")).await;
    // The 64 bytes are the start of a JSON object: broken JSON, which is
    // never previewed since it may hold tokens.
    assert!(
        matches!(
            &err,
            Error::InvalidResponse {
                reason: "the body is not valid JSON"
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_body_cut_short_of_its_content_length_is_a_retryable_transport_error() {
    let response = format!("{HEAD}Content-Length: 1000\r\n\r\n{{\"access_token\":\"at-canary-1\"")
        .into_bytes();
    let server = RawServer::start(response).await;
    let err = fetch_error(server.url("/token")).await;
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
}

// ---------------------------------------------------------------------
// A user-supplied client

#[tokio::test]
async fn a_user_client_is_used_with_its_default_headers() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-client-marker", "from-user-client".parse().unwrap());
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let endpoint = builder(server.url("/token"))
        .http_client(http)
        .build()
        .unwrap();
    ClientCredentials::new(endpoint)
        .fetch_token(None)
        .await
        .unwrap();
    let seen = server.only_request();
    assert_eq!(
        seen.header("x-client-marker").as_deref(),
        Some("from-user-client")
    );
    assert_eq!(
        seen.header("authorization").as_deref(),
        Some(EXPECTED_BASIC)
    );
}

#[tokio::test]
async fn a_user_client_sends_through_its_proxy() {
    // The proxy is a loopback server that answers the token request
    // itself; `token.invalid` is never resolved or contacted.
    let proxy = Server::start(|_, _| async { token_json("at-canary-proxied", None) }).await;
    let http = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(proxy.url("")).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let endpoint = builder("http://token.invalid/token".into())
        .allow_http()
        .http_client(http)
        .build()
        .unwrap();
    let token = ClientCredentials::new(endpoint)
        .fetch_token(None)
        .await
        .unwrap();
    assert_eq!(token.access_token().secret(), "at-canary-proxied");
    let seen = proxy.only_request();
    assert_eq!(seen.uri, "http://token.invalid/token");
    assert_eq!(seen.header("host").as_deref(), Some("token.invalid"));
    assert_eq!(
        seen.header("authorization").as_deref(),
        Some(EXPECTED_BASIC)
    );
    assert_eq!(seen.form(), pairs(&[("grant_type", "client_credentials")]));
}

// ---------------------------------------------------------------------
// One token per set of parameters

#[tokio::test]
async fn caches_whose_fetchers_differ_in_client_scope_audience_or_resource_get_different_tokens() {
    // Issues a token named after the client, scope, audience and resources.
    let server = Server::start(|_, seen| async move {
        let name = ["client_id", "scope", "audience", "resource"]
            .map(|key| {
                let values: Vec<_> = seen
                    .form()
                    .into_iter()
                    .filter(|(k, _)| k == key)
                    .map(|(_, v)| v)
                    .collect();
                values.join(",")
            })
            .join("|");
        token_json(&format!("at-canary-{name}"), None)
    })
    .await;
    let fetcher = |client: &str, scope: &str, audience: &str, resource: &str| {
        let endpoint = Endpoint::builder(server.url("/token"))
            .client_auth(ClientAuth::post(client, CLIENT_SECRET))
            .build()
            .unwrap();
        ClientCredentials::new(endpoint)
            .scope(scope)
            .audience(audience)
            .resource(resource)
    };
    let caches = [
        TokenCache::new(fetcher("a", "read", "api-1", "urn:r1")),
        TokenCache::new(fetcher("b", "read", "api-1", "urn:r1")),
        TokenCache::new(fetcher("a", "write", "api-1", "urn:r1")),
        TokenCache::new(fetcher("a", "read", "api-2", "urn:r1")),
        TokenCache::new(fetcher("a", "read", "api-1", "urn:r2")),
    ];
    let mut headers = Vec::new();
    for cache in &caches {
        cache.ensure_fresh().await.unwrap();
        headers.push(cache.authorization().unwrap());
    }
    assert_eq!(
        headers,
        [
            "Bearer at-canary-a|read|api-1|urn:r1",
            "Bearer at-canary-b|read|api-1|urn:r1",
            "Bearer at-canary-a|write|api-1|urn:r1",
            "Bearer at-canary-a|read|api-2|urn:r1",
            "Bearer at-canary-a|read|api-1|urn:r2",
        ]
    );
    assert_eq!(server.count(), 5);
}

// ---------------------------------------------------------------------
// Error hygiene

#[tokio::test]
async fn transport_errors_are_lowercase_and_show_no_secret() {
    let unreachable = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = fetch_error(format!("http://127.0.0.1:{unreachable}/token")).await;
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
    for built in [
        builder("ftp://127.0.0.1/token".into()).build(),
        builder("/token".into()).build(),
        builder("https://auth.example.test/token".into())
            .timeout(Duration::ZERO)
            .build(),
        Endpoint::builder("https://auth.example.test/token")
            .client_auth(ClientAuth::post("", CLIENT_SECRET))
            .build(),
    ] {
        let err = built.unwrap_err();
        assert_clean(&err);
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    }
}
