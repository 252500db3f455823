//! What token endpoints send back, read through the real HTTP path: the
//! forms of `expires_in`, token types, OAuth2 error bodies, error pages,
//! form-encoded answers, and what errors may show of a body.

mod support;

use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header};
use support::*;
use token_refresh_runtime::oauth2::{ClientAuth, ClientCredentials, DEFAULT_LIFETIME, Endpoint};
use token_refresh_runtime::{Error, FetchToken, Token};
use tokio::time::Instant;

fn grant(server: &Server) -> ClientCredentials {
    grant_with_default_lifetime(server, DEFAULT_LIFETIME)
}

fn grant_with_default_lifetime(server: &Server, lifetime: Duration) -> ClientCredentials {
    let endpoint = Endpoint::builder(server.url("/token"))
        .client_auth(ClientAuth::basic(CLIENT_ID, CLIENT_SECRET))
        .timeout(PATIENCE)
        .default_lifetime(lifetime)
        .build()
        .unwrap();
    ClientCredentials::new(endpoint)
}

/// Fetches from a server that answers every request with `body`.
async fn answer(
    status: u16,
    content_type: Option<&'static str>,
    body: &str,
) -> Result<Token, Error> {
    let server = Server::always(status, content_type, body.to_owned()).await;
    let result = grant(&server).fetch_token(None).await;
    assert_eq!(server.count(), 1);
    if let Err(err) = &result {
        assert_clean(err);
    }
    result
}

/// The fetch for a JSON token response whose `expires_in` is `raw`.
async fn with_expires_in(raw: &str) -> Result<Token, Error> {
    let body =
        format!(r#"{{"access_token":"at-canary-1","token_type":"bearer","expires_in":{raw}}}"#);
    answer(200, Some("application/json"), &body).await
}

async fn lifetime_of(raw: &str) -> Duration {
    with_expires_in(raw).await.unwrap().lifetime()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// An HS256 JWT access token whose `exp` is `exp` (Unix seconds).
fn jwt_access_token(exp: u64) -> String {
    let key = EncodingKey::from_secret(b"the API's own key, not the client's").unwrap();
    let claims = serde_json::json!({ "sub": "svc", "exp": exp });
    jsonwebtoken::encode(&Header::default(), &claims, &key).unwrap()
}

fn assert_roughly(actual: Duration, expected: Duration) {
    let low = expected.saturating_sub(secs(2));
    assert!(
        (low..=expected + secs(2)).contains(&actual),
        "{actual:?} is not {expected:?} ± 2 s"
    );
}

// ---------------------------------------------------------------------
// expires_in

#[tokio::test]
async fn expires_in_as_a_number_is_the_lifetime() {
    assert_eq!(lifetime_of("3599").await, secs(3599));
}

#[tokio::test]
async fn expires_in_as_a_numeric_string_is_accepted() {
    assert_eq!(lifetime_of(r#""3599""#).await, secs(3599));
}

#[tokio::test]
async fn expires_in_as_a_numeric_string_with_spaces_is_accepted() {
    assert_eq!(lifetime_of(r#"" 3599 ""#).await, secs(3599));
}

#[tokio::test]
async fn expires_in_as_a_whole_float_is_accepted() {
    assert_eq!(lifetime_of("3600.0").await, secs(3600));
}

#[tokio::test]
async fn expires_in_in_exponent_notation_is_accepted() {
    assert_eq!(lifetime_of("3.6e3").await, secs(3600));
}

#[tokio::test]
async fn a_fractional_expires_in_is_rounded_down() {
    assert_eq!(lifetime_of("59.9").await, secs(59));
}

#[tokio::test]
async fn expires_in_zero_is_a_lifetime_of_zero() {
    let token = with_expires_in("0").await.unwrap();
    assert_eq!(token.lifetime(), Duration::ZERO);
    assert!(token.is_expired());
}

#[tokio::test]
async fn a_null_expires_in_falls_back_to_the_exp_of_a_jwt_access_token() {
    let at = jwt_access_token(unix_now() + 120);
    let body = serde_json::json!({ "access_token": at, "expires_in": null }).to_string();
    let token = answer(200, Some("application/json"), &body).await.unwrap();
    assert_roughly(token.lifetime(), secs(120));
}

#[tokio::test]
async fn a_missing_expires_in_falls_back_to_the_exp_of_a_jwt_access_token() {
    let at = jwt_access_token(unix_now() + 120);
    let body = serde_json::json!({ "access_token": at, "token_type": "Bearer" }).to_string();
    let token = answer(200, Some("application/json"), &body).await.unwrap();
    assert_roughly(token.lifetime(), secs(120));
}

#[tokio::test]
async fn an_explicit_expires_in_wins_over_the_exp_of_a_jwt_access_token() {
    let at = jwt_access_token(unix_now() + 120);
    let body = serde_json::json!({ "access_token": at, "expires_in": 30 }).to_string();
    let token = answer(200, Some("application/json"), &body).await.unwrap();
    assert_eq!(token.lifetime(), secs(30));
}

#[tokio::test]
async fn a_jwt_access_token_whose_exp_has_passed_is_already_expired() {
    let at = jwt_access_token(unix_now() - 600);
    let body = serde_json::json!({ "access_token": at }).to_string();
    let token = answer(200, Some("application/json"), &body).await.unwrap();
    assert_eq!(token.lifetime(), Duration::ZERO);
}

#[tokio::test]
async fn a_missing_expires_in_with_an_opaque_token_gets_the_default_lifetime() {
    let body = r#"{"access_token":"at-canary-1","token_type":"bearer"}"#;
    let token = answer(200, Some("application/json"), body).await.unwrap();
    assert_eq!(token.lifetime(), DEFAULT_LIFETIME);
    assert_eq!(DEFAULT_LIFETIME, secs(3600));
}

#[tokio::test]
async fn a_null_expires_in_with_an_opaque_token_gets_the_configured_default_lifetime() {
    let body = r#"{"access_token":"at-canary-1","expires_in":null}"#;
    let server = Server::json(body).await;
    let grant = grant_with_default_lifetime(&server, secs(90));
    let token = grant.fetch_token(None).await.unwrap();
    assert_eq!(token.lifetime(), secs(90));
}

#[tokio::test]
async fn a_negative_expires_in_is_an_invalid_response_naming_the_field() {
    let err = with_expires_in("-1").await.unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid token response: `expires_in` is negative"
    );
}

#[tokio::test]
async fn a_non_numeric_expires_in_is_an_invalid_response_naming_the_field() {
    let err = with_expires_in(r#""soon""#).await.unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid token response: `expires_in` is not a number"
    );
}

#[tokio::test]
async fn the_largest_u64_expires_in_is_clamped_to_the_maximum_lifetime() {
    assert_eq!(
        lifetime_of("18446744073709551615").await,
        Token::MAX_LIFETIME
    );
}

#[tokio::test]
async fn an_astronomical_float_expires_in_is_clamped_to_the_maximum_lifetime() {
    assert_eq!(lifetime_of("1e300").await, Token::MAX_LIFETIME);
}

#[tokio::test]
async fn the_lifetime_counts_from_when_the_request_was_sent() {
    let server = Server::start(|_, _| async {
        tokio::time::sleep(secs(1)).await;
        json(r#"{"access_token":"at-canary-1","expires_in":10}"#)
    })
    .await;
    let before = Instant::now();
    let token = grant(&server).fetch_token(None).await.unwrap();
    let after = Instant::now();
    assert_eq!(token.lifetime(), secs(10));
    assert!(token.issued_at() >= before);
    // The second the server took is part of the ten: by the time the
    // answer arrived at most nine were left. Counted from the answer, ten
    // would be left and the token would expire about 11 s after `before`.
    assert!(
        token.expires_at() <= after + secs(9),
        "issued {:?} before the answer arrived",
        after - token.issued_at()
    );
    assert!(
        token.expires_at() - before < Duration::from_millis(10_500),
        "expires {:?} after the call started",
        token.expires_at() - before
    );
}

// ---------------------------------------------------------------------
// token_type

#[tokio::test]
async fn a_bearer_token_type_is_accepted_in_any_case() {
    for kind in ["bearer", "BEARER", "Bearer"] {
        let body = format!(r#"{{"access_token":"at-canary-1","token_type":"{kind}"}}"#);
        let token = answer(200, Some("application/json"), &body).await;
        assert!(token.is_ok(), "{kind}: {token:?}");
    }
}

#[tokio::test]
async fn a_missing_token_type_is_taken_as_bearer() {
    let token = answer(
        200,
        Some("application/json"),
        r#"{"access_token":"at-canary-1"}"#,
    )
    .await
    .unwrap();
    assert_eq!(token.token_type(), "Bearer");
}

#[tokio::test]
async fn a_mac_token_type_is_unsupported() {
    let body = r#"{"access_token":"at-canary-1","token_type":"mac","expires_in":60}"#;
    let err = answer(200, Some("application/json"), body)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedTokenType { token_type } if token_type == "mac"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the token endpoint issued a `mac` token; only bearer tokens are supported"
    );
    assert!(!err.is_retryable());
}

// ---------------------------------------------------------------------
// OAuth2 error bodies (RFC 6749 section 5.2)

const ERROR_BODY: &str = r#"{"error":"invalid_client","error_description":"client authentication failed","error_uri":"https://auth.example.test/errors/invalid_client"}"#;

async fn assert_oauth_error(status: u16, content_type: &'static str) {
    let err = answer(status, Some(content_type), ERROR_BODY)
        .await
        .unwrap_err();
    let Error::OAuth(oauth) = &err else {
        panic!("{status} {content_type}: {err:?}");
    };
    assert_eq!(oauth.status, status);
    assert_eq!(oauth.error, "invalid_client");
    assert_eq!(
        oauth.description.as_deref(),
        Some("client authentication failed")
    );
    assert_eq!(
        oauth.uri.as_deref(),
        Some("https://auth.example.test/errors/invalid_client")
    );
    assert_eq!(err.to_string(), "the token endpoint refused the request");
    assert_eq!(
        oauth.to_string(),
        format!("invalid_client: client authentication failed (HTTP {status})")
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn an_oauth_error_body_with_status_400_is_recognised() {
    assert_oauth_error(400, "application/json").await;
}

#[tokio::test]
async fn an_oauth_error_body_with_status_401_is_recognised() {
    assert_oauth_error(401, "application/json").await;
}

#[tokio::test]
async fn an_oauth_error_body_with_status_200_is_recognised() {
    assert_oauth_error(200, "application/json").await;
}

#[tokio::test]
async fn an_oauth_error_body_labelled_text_plain_is_recognised() {
    assert_oauth_error(400, "text/plain").await;
}

#[tokio::test]
async fn an_oauth_error_body_labelled_text_plain_with_status_200_is_recognised() {
    assert_oauth_error(200, "text/plain; charset=utf-8").await;
}

#[tokio::test]
async fn a_temporarily_unavailable_oauth_error_is_retryable() {
    let body = r#"{"error":"temporarily_unavailable"}"#;
    let err = answer(400, Some("application/json"), body)
        .await
        .unwrap_err();
    assert_eq!(err.oauth().unwrap().error, "temporarily_unavailable");
    assert!(err.is_retryable());
}

// ---------------------------------------------------------------------
// Bodies that are not token responses

const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
    <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n\
    </body>\r\n</html>\r\n";

#[tokio::test]
async fn an_html_502_page_is_a_retryable_http_status_with_a_short_preview() {
    let page = format!("{NGINX_502}{}", "<!-- padding -->\r\n".repeat(40));
    let err = answer(502, Some("text/html"), &page).await.unwrap_err();
    let Error::HttpStatus { status, preview } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*status, 502);
    assert_eq!(
        preview,
        "<html> <head><title>502 Bad Gateway</title></head> <body> <center><h1>502 Bad Ga..."
    );
    assert!(err.is_retryable());
    assert_eq!(
        err.to_string(),
        r#"the token endpoint answered HTTP 502: "<html> <head><title>502 Bad Gateway</title></head> <body> <center><h1>502 Bad Ga...""#
    );
}

#[tokio::test]
async fn a_captive_portal_page_with_status_200_is_an_http_status() {
    let page = "<html><head><title>Sign in to Airport Wi-Fi</title></head><body>\
        <form action=\"/login\" method=\"post\"><input name=\"code\"><button>Connect</button>\
        </form></body></html>";
    let err = answer(200, Some("text/html"), page).await.unwrap_err();
    let Error::HttpStatus { status, preview } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*status, 200);
    assert_eq!(
        preview,
        r#"<html><head><title>Sign in to Airport Wi-Fi</title></head><body><form action="/l..."#
    );
}

/// A portal page with no whitespace at all, as minifiers produce, reads
/// like `key=value&key=value` to a heuristic that only looks for `=` and
/// spaces; labelled `text/html`, it must still not be taken for a form.
#[tokio::test]
async fn a_minified_captive_portal_page_labelled_html_is_an_http_status() {
    let page = r#"<html><script>location.href="http://10.0.0.1/login?a=1&b=2"</script></html>"#;
    let err = answer(200, Some("text/html"), page).await.unwrap_err();
    assert!(
        matches!(&err, Error::HttpStatus { status: 200, preview } if preview == page),
        "{err:?}"
    );
}

#[tokio::test]
async fn http_429_is_retryable() {
    let err = answer(429, Some("text/plain"), "Too Many Requests")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::HttpStatus { status: 429, preview } if preview == "Too Many Requests"),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn http_503_is_retryable() {
    let err = answer(503, None, "").await.unwrap_err();
    assert!(
        matches!(&err, Error::HttpStatus { status: 503, preview } if preview.is_empty()),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "the token endpoint answered HTTP 503");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn http_400_without_an_oauth_body_is_not_retryable() {
    let err = answer(400, Some("text/plain"), "Bad Request")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::HttpStatus { status: 400, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn http_403_without_an_oauth_body_is_not_retryable() {
    let err = answer(403, Some("text/html"), "<h1>Forbidden</h1>")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::HttpStatus { status: 403, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_json_body_on_a_failed_status_is_never_previewed() {
    let body = r#"{"access_token":"at-canary-1","refresh_token":"rt-canary-1"}"#;
    let err = answer(500, Some("application/json"), body)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::HttpStatus { status: 500, preview } if preview.is_empty()),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------
// Form-encoded responses and missing fields

#[tokio::test]
async fn a_form_encoded_token_response_is_accepted() {
    let body = "access_token=at-canary-1&token_type=bearer&expires_in=3600\
        &refresh_token=rt-canary-1&scope=read+write";
    let token = answer(200, Some("application/x-www-form-urlencoded"), body)
        .await
        .unwrap();
    assert_eq!(token.access_token().secret(), "at-canary-1");
    assert_eq!(token.lifetime(), secs(3600));
    assert_eq!(token.refresh_token().unwrap().secret(), "rt-canary-1");
    assert_eq!(token.scopes(), ["read", "write"]);
}

#[tokio::test]
async fn a_form_encoded_oauth_error_is_recognised() {
    let body = "error=invalid_client&error_description=unknown+client";
    let err = answer(401, Some("application/x-www-form-urlencoded"), body)
        .await
        .unwrap_err();
    let oauth = err.oauth().expect("an OAuth error");
    assert_eq!(oauth.status, 401);
    assert_eq!(oauth.error, "invalid_client");
    assert_eq!(oauth.description.as_deref(), Some("unknown client"));
}

#[tokio::test]
async fn a_response_without_an_access_token_is_an_error_that_echoes_no_secret() {
    let body = r#"{"refresh_token":"rt-canary-echo","id_token":"at-canary-echo","expires_in":60}"#;
    let err = answer(200, Some("application/json"), body)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid token response: `access_token` is missing"
    );
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("rt-canary-echo") && !text.contains("at-canary-echo"),
        "{text}"
    );
}

/// A token response that is almost JSON (a trailing comma, or cut short
/// on the way) is not JSON, so it is previewed like an HTML page, and the
/// preview carries the access token into the error message. An error may
/// show nothing from a body that may hold secrets.
#[tokio::test]
async fn a_malformed_json_token_response_shows_no_secret() {
    let body = r#"{"access_token":"at-canary-1","refresh_token":"rt-canary-1","expires_in":3600,}"#;
    let err = answer(200, Some("application/json"), body)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::HttpStatus { status: 200, .. } | Error::InvalidResponse { .. }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_empty_access_token_is_an_invalid_response() {
    let body = r#"{"access_token":"","refresh_token":"rt-canary-1"}"#;
    let err = answer(200, Some("application/json"), body)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid token response: `access_token` is not a non-empty string"
    );
}

// ---------------------------------------------------------------------
// Error hygiene

/// Every error these answers produce starts lowercase, has no full stop,
/// and shows none of the secrets that were in the request or the body.
#[tokio::test]
async fn every_error_is_lowercase_and_shows_no_secret() {
    let canary_json = r#"{"access_token":"at-canary-x","refresh_token":"rt-canary-x""#;
    let bodies: Vec<(u16, Option<&'static str>, String)> = vec![
        (
            200,
            Some("application/json"),
            r#"{"refresh_token":"rt-canary-x"}"#.into(),
        ),
        (
            200,
            Some("application/json"),
            format!(r#"{canary_json},"expires_in":-5}}"#),
        ),
        (
            200,
            Some("application/json"),
            format!(r#"{canary_json},"expires_in":"soon"}}"#),
        ),
        (
            200,
            Some("application/json"),
            format!(r#"{canary_json},"token_type":"mac"}}"#),
        ),
        (
            200,
            Some("application/json"),
            r#"{"access_token":"at-canary-x","refresh_token":7}"#.into(),
        ),
        (500, Some("application/json"), format!("{canary_json}}}")),
        (
            401,
            Some("application/x-www-form-urlencoded"),
            "error=invalid_client".into(),
        ),
        (
            400,
            Some("application/json"),
            r#"{"error":"invalid_grant"}"#.into(),
        ),
        (502, Some("text/html"), NGINX_502.into()),
        (503, None, String::new()),
        (200, Some("text/plain"), "ok".into()),
    ];
    let mut classes = Vec::new();
    for (status, content_type, body) in bodies {
        // Post auth, so the client secret is in the body as well.
        let server = Server::always(status, content_type, body.clone()).await;
        let endpoint = Endpoint::builder(server.url("/token"))
            .client_auth(ClientAuth::post(CLIENT_ID, CLIENT_SECRET))
            .build()
            .unwrap();
        let err = ClientCredentials::new(endpoint)
            .fetch_token(None)
            .await
            .expect_err(&body);
        assert_clean(&err);
        classes.push(err.class());
    }
    assert_eq!(
        classes,
        [
            "invalid_response",
            "invalid_response",
            "invalid_response",
            "unsupported_token_type",
            "invalid_response",
            "http",
            "oauth",
            "oauth",
            "http",
            "http",
            "http",
        ]
    );
}

// ---------------------------------------------------------------------
// What a hostile or careless server sends back into errors

#[tokio::test]
async fn a_success_body_that_is_not_markup_is_never_previewed() {
    // It may well be the token itself, sent bare.
    let err = answer(200, Some("text/plain"), "at-canary-bare-token")
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::HttpStatus { status: 200, preview } if preview.is_empty()));
}

#[tokio::test]
async fn an_error_page_echoing_credentials_previews_none_of_them() {
    let page = format!("<html>rejected request with {EXPECTED_BASIC}</html>");
    let err = answer(400, Some("text/html"), &page).await.unwrap_err();
    let Error::HttpStatus {
        status: 400,
        preview,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(preview, "<html>rejected request with Basic <redacted>");
    let page = "<html>Authorization: Bearer at-canary-9 refused</html>";
    let err = answer(403, Some("text/html"), page).await.unwrap_err();
    assert!(matches!(&err, Error::HttpStatus { status: 403, preview } if preview.is_empty()));
}

#[tokio::test]
async fn an_oauth_description_echoing_the_secret_is_redacted() {
    let body = format!(
        r#"{{"error":"invalid_client","error_description":"bad secret {CLIENT_SECRET} or {CLIENT_SECRET_ENCODED}"}}"#
    );
    let err = answer(401, Some("application/json"), &body)
        .await
        .unwrap_err();
    let description = err.oauth().unwrap().description.clone().unwrap();
    assert_eq!(description, "bad secret <redacted> or <redacted>");
}

#[tokio::test]
async fn server_text_cannot_forge_log_lines_or_grow_without_bound() {
    let forged = "nope\r\n2026-01-01T00:00:00Z  WARN forged: line\u{1b}[31m";
    let long = "x".repeat(1 << 19);
    let body = serde_json::json!({
        "error": forged,
        "error_description": long,
    })
    .to_string();
    let err = answer(400, Some("application/json"), &body)
        .await
        .unwrap_err();
    let oauth = err.oauth().unwrap();
    // The code keeps only the characters RFC 6749 allows in it.
    assert_eq!(
        oauth.error,
        "nope2026-01-01T00:00:00Z  WARN forged: line[31m"
    );
    let description = oauth.description.as_deref().unwrap();
    assert_eq!(description.chars().count(), 256 + "...".len());
    let kind = r#"{"access_token":"a","token_type":"mac\r\nWARN forged"}"#;
    let err = answer(200, Some("application/json"), kind)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedTokenType { token_type } if token_type == "mac WARN forged"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_json_body_after_a_byte_order_mark_is_read() {
    let body = "\u{feff}{\"access_token\":\"at-canary-1\",\"expires_in\":60}";
    let token = answer(200, Some("application/json"), body).await.unwrap();
    assert_eq!(token.lifetime(), Duration::from_secs(60));
}

#[tokio::test]
async fn not_modified_is_an_http_status_rather_than_a_redirect() {
    let err = answer(304, None, "").await.unwrap_err();
    assert!(
        matches!(err, Error::HttpStatus { status: 304, .. }),
        "{err:?}"
    );
}

#[test]
fn an_endpoint_prints_no_header_of_its_http_client() {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-api-key", "key-canary-7".parse().unwrap());
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let endpoint = Endpoint::builder("https://auth.test/token")
        .http_client(http)
        .build()
        .unwrap();
    let debug = format!("{:?}", ClientCredentials::new(endpoint));
    assert!(!debug.contains("key-canary"), "{debug}");
    assert!(debug.contains("https://auth.test/token"), "{debug}");
}
