//! The grants against a token endpoint on loopback: what each one puts in
//! its request, how the refresh token grant rotates, drops and falls back,
//! and the assertions the JWT grants sign.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde_json::Value;
use support::*;
use token_refresh_runtime::oauth2::{
    AssertionKey, CLIENT_ASSERTION_LIFETIME, ClientAuth, ClientCredentials,
    DEFAULT_ASSERTION_LIFETIME, Endpoint, JwtBearer, Password, RefreshTokenGrant,
};
use token_refresh_runtime::{Error, FetchToken, Token, TokenCache};

/// A test-only 2048-bit RSA key pair, made with `openssl genrsa 2048` and
/// `openssl rsa -pubout`. It signs nothing outside these tests.
const RSA_PRIVATE_PEM: &str = "\
-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDFG55K6MYgbZEi
ercvomMGhEisMdsLbJAohHBbWDCWpZIHrgdb0remUq4B35BvXz2NaBIWwTVBDgTW
ZmqI5PQ6mvdKjWuVwCyQwWOe0fTj/2IZ+VeXgfKKem1hm2oXwJs+0zglGoSv4GwX
INw1ostR+Mxgez/dqrp8YvcGxAEZEa5D9F7I7KQ5HXH1wkjxpgjfRIrqG5bGMP7i
APbJRgrYhq46mji2evvmIYlAR1hBT6MRi/0iFELq9lkY3RTMnXYlnq5KuQcEZUV6
XHztiVAIJrEZEuNFVRwkAQig1PwTo/+YrST9C/cJXIcAOubqCBTrEOPWSuK4Ir6M
MmIcLTYPAgMBAAECggEAYPshS78zOKJgTiQt/MB706mDrkHLglf0qBLdy3vdUEn/
y0qLsVjA5pN4rVBIGxwzx18kw1Bl+O/CXpE+qsNoDWvQ77wcaq6G3uRgNTUdto6h
wKDnwZJ8+Tial/NlZHFukR9Q2SSuk3CrDkgrQTKrslXljTUnK9REdE4nOAt5dNDa
OgXNLMrSHYS4wL8DfmSKmzEacV75vySqzvnOZVpCDVsD+YBwVYC8Kbs2Hi72eC8W
AgFfp0WbiwZHzj2svdN5/G7vuECQpKpXRW78W1RMA14PYyzmreKY8yNyyrerMzTF
HkH5nOUGMOjHtaVTGPqFREBSwUV1vn3Xuf61q6m96QKBgQDvfFaPV1h6d/FtL4d+
Q8etthfwE00SY7gDRoxiejtFqH+UPDW4TLgsssIhEJylWy8nYkHaYznqic76zueV
piPyiOAMd1iU29ETjmMn7llBoMHQ2GwSO2PlJtnXpsLxrRZzHgJE9146dcXfYFCv
8XhUHL/wPz1gytEcbnkRNEn1qQKBgQDSsy5WAa5nDLOo7FrjNzbvwEHpjCXr7/Ch
GrvnuDXC3lV9UMsJSp6M26B6GwZGaPqDTjccxi/Cabix2wnA38Jqk7r9p9o1aCCi
U0Ju0PQEpDcAe794+eUoGOShabTSCbqzI2uKwN6UylAZYGbiY7DSTTCs0v7DtvaT
/WJu6qWw9wKBgFYOehRcMMEhZLH1iFzJAnHbo1JzvRhEmRUkPsIMZkwrtlyQHkWx
2+TD/5peG8wXriQa3MsbKO6swqHBw9o0r2ox4UDZig1DyCec3Oi2b4BzwfHIM12B
1e28Pj+N/zNVHWIUgIBD26pqM8aHF7eBr9mZ0ycDsoyblPUAhaS3A3SxAoGAdH92
Az/yui+ftqrYpgEFcxKOXx+KaCXGmo05kCmeMBzWj+94E68acy+MT3dZxNyOhsNc
XaCHD6t833oIrogJ6vu7zDxevmDQinAWr0cBZP+XGcFSYQVq2vzIjSbxP6D5hcrz
z0hMyWADYcSXnl0Yi276ltQi4Pvs4m6bWlCLRIkCgYAMyPC1pB8OOQNOIwotpRO/
u172Z/3Jlzw6vWWWGT8xJQmozY6WFiVLiq+8YVtNPNBRgD4wbS6EEJnYIlkONKhq
0xe4o9l1cM5Byp1GCX9NZDTNxRu6U0Iv/929vi6EfP1bKhzOAllsncloHynOd8lp
4pfhiU1P8hth6xvBeiT6VQ==
-----END PRIVATE KEY-----
";

const RSA_PUBLIC_PEM: &str = "\
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxRueSujGIG2RInq3L6Jj
BoRIrDHbC2yQKIRwW1gwlqWSB64HW9K3plKuAd+Qb189jWgSFsE1QQ4E1mZqiOT0
Opr3So1rlcAskMFjntH04/9iGflXl4HyinptYZtqF8CbPtM4JRqEr+BsFyDcNaLL
UfjMYHs/3aq6fGL3BsQBGRGuQ/ReyOykOR1x9cJI8aYI30SK6huWxjD+4gD2yUYK
2IauOpo4tnr75iGJQEdYQU+jEYv9IhRC6vZZGN0UzJ12JZ6uSrkHBGVFelx87YlQ
CCaxGRLjRVUcJAEIoNT8E6P/mK0k/Qv3CVyHADrm6ggU6xDj1kriuCK+jDJiHC02
DwIDAQAB
-----END PUBLIC KEY-----
";

const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const JWT_BEARER_CLIENT: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn endpoint(server: &Server, auth: ClientAuth) -> Endpoint {
    Endpoint::builder(server.url("/token"))
        .client_auth(auth)
        .timeout(PATIENCE)
        .build()
        .unwrap()
}

fn basic() -> ClientAuth {
    ClientAuth::basic(CLIENT_ID, CLIENT_SECRET)
}

fn access(token: &Token) -> &str {
    token.access_token().secret()
}

fn refresh(token: &Token) -> Option<&str> {
    token.refresh_token().map(|r| r.secret())
}

/// Verifies `assertion` with `key` and returns its header and claims.
fn verify(
    assertion: &str,
    key: &DecodingKey,
    algorithm: Algorithm,
    audience: &str,
) -> (Header, Value) {
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let data = jsonwebtoken::decode::<Value>(assertion, key, &validation)
        .unwrap_or_else(|e| panic!("the assertion does not verify: {e}"));
    (data.header, data.claims)
}

fn hs256_decoding() -> DecodingKey {
    DecodingKey::from_secret(HS256_SECRET).unwrap()
}

fn rs256_decoding() -> DecodingKey {
    DecodingKey::from_rsa_pem(RSA_PUBLIC_PEM.as_bytes()).unwrap()
}

/// Checks the time claims: `iat` between `before` and `after` (Unix
/// seconds), `exp` exactly `lifetime` later, and a non-empty `jti`.
fn assert_times(claims: &Value, before: u64, after: u64, lifetime: Duration) {
    let iat = claims["iat"].as_u64().expect("an integer iat");
    let exp = claims["exp"].as_u64().expect("an integer exp");
    assert!(
        (before..=after).contains(&iat),
        "iat {iat} not in {before}..={after}"
    );
    assert_eq!(exp, iat + lifetime.as_secs(), "{claims}");
    let jti = claims["jti"].as_str().expect("a string jti");
    assert!(!jti.is_empty(), "{claims}");
}

// ---------------------------------------------------------------------
// Client credentials

#[tokio::test]
async fn basic_auth_sends_the_form_encoded_id_and_secret_in_the_authorization_header() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let grant = ClientCredentials::new(endpoint(&server, basic()));
    let token = grant.fetch_token(None).await.unwrap();
    assert_eq!(access(&token), "at-canary-1");
    let seen = server.only_request();
    let authorization = seen.header("authorization").unwrap();
    assert_eq!(authorization, EXPECTED_BASIC);
    let decoded = base64_decode(authorization.strip_prefix("Basic ").unwrap());
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "my%20client%3A1:cs-canary%20p%40ss%2Fw%2Brd"
    );
    assert_eq!(seen.form(), pairs(&[("grant_type", "client_credentials")]));
}

#[tokio::test]
async fn post_auth_sends_the_id_and_secret_in_the_body_and_no_authorization_header() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let auth = ClientAuth::post(CLIENT_ID, CLIENT_SECRET);
    let grant = ClientCredentials::new(endpoint(&server, auth)).scope("orders:read");
    grant.fetch_token(None).await.unwrap();
    let seen = server.only_request();
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(
        seen.form(),
        pairs(&[
            ("grant_type", "client_credentials"),
            ("scope", "orders:read"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
    );
}

#[tokio::test]
async fn scope_audience_repeated_resources_and_extra_params_arrive_exactly() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let grant = ClientCredentials::new(endpoint(&server, basic()))
        .scope("orders:read orders:write")
        .audience("https://api.example.test/")
        .resource("https://a.example.test/x?y=1&z=2")
        .resource("urn:example:b")
        .param("tenant id", "a&b=c+d");
    grant.fetch_token(None).await.unwrap();
    assert_eq!(
        server.only_request().form(),
        pairs(&[
            ("grant_type", "client_credentials"),
            ("scope", "orders:read orders:write"),
            ("audience", "https://api.example.test/"),
            ("resource", "https://a.example.test/x?y=1&z=2"),
            ("resource", "urn:example:b"),
            ("tenant id", "a&b=c+d"),
        ])
    );
}

#[tokio::test]
async fn a_token_request_is_a_form_post_that_accepts_json() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let grant = ClientCredentials::new(endpoint(&server, basic()));
    grant.fetch_token(None).await.unwrap();
    let seen = server.only_request();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.uri, "/token");
    assert_eq!(
        seen.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.header("accept").as_deref(), Some("application/json"));
}

// ---------------------------------------------------------------------
// Refresh token grant

#[tokio::test]
async fn the_refresh_grant_sends_its_refresh_token_and_scope() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let grant = RefreshTokenGrant::new(endpoint(&server, basic()))
        .refresh_token("rt-canary-1")
        .scope("profile");
    grant.fetch_token(None).await.unwrap();
    let seen = server.only_request();
    assert_eq!(
        seen.header("authorization").as_deref(),
        Some(EXPECTED_BASIC)
    );
    assert_eq!(
        seen.form(),
        pairs(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "rt-canary-1"),
            ("scope", "profile"),
        ])
    );
}

#[tokio::test]
async fn a_rotated_refresh_token_replaces_the_old_one_in_the_next_request() {
    let server = Server::start(|n, _| async move {
        let n = n + 1;
        token_json(
            &format!("at-canary-{n}"),
            Some(&format!("rt-canary-{}", n + 1)),
        )
    })
    .await;
    let grant = RefreshTokenGrant::new(endpoint(&server, basic())).refresh_token("rt-canary-1");
    let first = grant.fetch_token(None).await.unwrap();
    assert_eq!(
        (access(&first), refresh(&first)),
        ("at-canary-1", Some("rt-canary-2"))
    );
    assert_eq!(
        grant.current_refresh_token().unwrap().secret(),
        "rt-canary-2"
    );
    let second = grant.fetch_token(Some(&first)).await.unwrap();
    assert_eq!(
        (access(&second), refresh(&second)),
        ("at-canary-2", Some("rt-canary-3"))
    );
    let sent: Vec<_> = server.sent("refresh_token");
    assert_eq!(sent, ["rt-canary-1", "rt-canary-2"]);
}

#[tokio::test]
async fn a_response_without_a_refresh_token_keeps_the_old_one() {
    let server =
        Server::start(|n, _| async move { token_json(&format!("at-canary-{}", n + 1), None) })
            .await;
    let grant = RefreshTokenGrant::new(endpoint(&server, basic())).refresh_token("rt-canary-1");
    let first = grant.fetch_token(None).await.unwrap();
    assert_eq!(
        (access(&first), refresh(&first)),
        ("at-canary-1", Some("rt-canary-1"))
    );
    let second = grant.fetch_token(Some(&first)).await.unwrap();
    assert_eq!(
        (access(&second), refresh(&second)),
        ("at-canary-2", Some("rt-canary-1"))
    );
    let sent: Vec<_> = server.sent("refresh_token");
    assert_eq!(sent, ["rt-canary-1", "rt-canary-1"]);
}

#[tokio::test]
async fn invalid_grant_requires_reauthorization_and_the_dead_token_is_never_sent_again() {
    let server = Server::start(|_, _| async { oauth_error("invalid_grant") }).await;
    let grant = RefreshTokenGrant::new(endpoint(&server, basic())).refresh_token("rt-canary-1");
    let err = grant.fetch_token(None).await.unwrap_err();
    assert_clean(&err);
    let Error::ReauthorizationRequired(Some(oauth)) = &err else {
        panic!("{err:?}");
    };
    assert_eq!((oauth.status, oauth.error.as_str()), (400, "invalid_grant"));
    assert!(!err.is_retryable());
    assert!(grant.current_refresh_token().is_none());
    let again = grant.fetch_token(None).await.unwrap_err();
    assert_clean(&again);
    assert!(
        matches!(again, Error::ReauthorizationRequired(None)),
        "{again:?}"
    );
    assert_eq!(
        server.count(),
        1,
        "the rejected refresh token was sent again"
    );
}

#[tokio::test]
async fn a_failure_other_than_invalid_grant_keeps_the_refresh_token() {
    let server = Server::start(|n, _| async move {
        match n {
            0 => reply(503, Some("text/plain"), "try later"),
            _ => token_json("at-canary-1", None),
        }
    })
    .await;
    let grant = RefreshTokenGrant::new(endpoint(&server, basic())).refresh_token("rt-canary-1");
    let err = grant.fetch_token(None).await.unwrap_err();
    assert_clean(&err);
    assert!(
        matches!(err, Error::HttpStatus { status: 503, .. }),
        "{err:?}"
    );
    let token = grant.fetch_token(None).await.unwrap();
    assert_eq!(refresh(&token), Some("rt-canary-1"));
    let sent: Vec<_> = server.sent("refresh_token");
    assert_eq!(sent, ["rt-canary-1", "rt-canary-1"]);
}

/// Answers `invalid_grant` to a refresh, and a token to any other grant.
async fn reject_refreshes(_: usize, seen: Seen) -> axum::response::Response {
    match seen.param("grant_type").as_str() {
        "refresh_token" => oauth_error("invalid_grant"),
        "client_credentials" => token_json("at-canary-cc", None),
        "password" => token_json("at-canary-pw", Some("rt-canary-pw")),
        other => panic!("unexpected grant {other}"),
    }
}

#[tokio::test]
async fn invalid_grant_falls_back_to_client_credentials_in_the_same_fetch() {
    let server = Server::start(reject_refreshes).await;
    let fallback = ClientCredentials::new(endpoint(&server, basic())).scope("orders:read");
    let grant = RefreshTokenGrant::new(endpoint(&server, basic()))
        .refresh_token("rt-canary-1")
        .fallback(fallback);
    let token = grant.fetch_token(None).await.unwrap();
    assert_eq!((access(&token), refresh(&token)), ("at-canary-cc", None));
    let forms: Vec<_> = server.requests().iter().map(Seen::form).collect();
    assert_eq!(
        forms,
        [
            pairs(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "rt-canary-1")
            ]),
            pairs(&[
                ("grant_type", "client_credentials"),
                ("scope", "orders:read")
            ]),
        ]
    );
    assert!(grant.current_refresh_token().is_none());
}

#[tokio::test]
async fn invalid_grant_falls_back_to_the_password_grant_whose_refresh_token_is_used_next() {
    let server = Server::start(|n, seen| async move {
        match n {
            // The second refresh, with the password grant's token.
            2 => token_json("at-canary-2", None),
            _ => reject_refreshes(n, seen).await,
        }
    })
    .await;
    let login = Password::new(endpoint(&server, basic()), "alice", PASSWORD);
    let grant = RefreshTokenGrant::new(endpoint(&server, basic()))
        .refresh_token("rt-canary-old")
        .fallback(login);
    let token = grant.fetch_token(None).await.unwrap();
    assert_eq!(
        (access(&token), refresh(&token)),
        ("at-canary-pw", Some("rt-canary-pw"))
    );
    let next = grant.fetch_token(Some(&token)).await.unwrap();
    assert_eq!(
        (access(&next), refresh(&next)),
        ("at-canary-2", Some("rt-canary-pw"))
    );
    let forms: Vec<_> = server.requests().iter().map(Seen::form).collect();
    assert_eq!(
        forms,
        [
            pairs(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "rt-canary-old")
            ]),
            pairs(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD)
            ]),
            pairs(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "rt-canary-pw")
            ]),
        ]
    );
}

#[tokio::test]
async fn without_a_refresh_token_the_fallback_runs_first_and_its_refresh_token_is_used_next() {
    let server = Server::start(|_, seen| async move {
        match seen.param("grant_type").as_str() {
            "password" => token_json("at-canary-1", Some("rt-canary-1")),
            _ => token_json("at-canary-2", Some("rt-canary-2")),
        }
    })
    .await;
    let login = Password::new(endpoint(&server, basic()), "alice", PASSWORD);
    let grant = RefreshTokenGrant::new(endpoint(&server, basic())).fallback(login);
    let first = grant.fetch_token(None).await.unwrap();
    assert_eq!(
        (access(&first), refresh(&first)),
        ("at-canary-1", Some("rt-canary-1"))
    );
    let second = grant.fetch_token(Some(&first)).await.unwrap();
    assert_eq!(
        (access(&second), refresh(&second)),
        ("at-canary-2", Some("rt-canary-2"))
    );
    let grants: Vec<_> = server.sent("grant_type");
    assert_eq!(grants, ["password", "refresh_token"]);
    assert_eq!(server.requests()[1].param("refresh_token"), "rt-canary-1");
}

#[tokio::test]
async fn without_a_refresh_token_or_fallback_reauthorization_is_required_without_a_request() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let grant = RefreshTokenGrant::new(endpoint(&server, basic()));
    let err = grant.fetch_token(None).await.unwrap_err();
    assert_clean(&err);
    assert!(
        matches!(err, Error::ReauthorizationRequired(None)),
        "{err:?}"
    );
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn a_failing_fallback_returns_its_own_error() {
    let server = Server::start(|_, seen| async move {
        match seen.param("grant_type").as_str() {
            "refresh_token" => oauth_error("invalid_grant"),
            _ => oauth_error("invalid_client"),
        }
    })
    .await;
    let fallback = ClientCredentials::new(endpoint(&server, basic()));
    let grant = RefreshTokenGrant::new(endpoint(&server, basic()))
        .refresh_token("rt-canary-1")
        .fallback(fallback);
    let err = grant.fetch_token(None).await.unwrap_err();
    assert_clean(&err);
    assert_eq!(
        err.oauth().map(|o| o.error.as_str()),
        Some("invalid_client")
    );
    assert_eq!(server.count(), 2);
}

#[test]
fn debug_of_the_refresh_grant_shows_no_refresh_token_or_fallback_secret() {
    let endpoint =
        Endpoint::new("https://auth.example.test/token", CLIENT_ID, CLIENT_SECRET).unwrap();
    let login = Password::new(endpoint.clone(), "alice", PASSWORD);
    let grant = RefreshTokenGrant::new(endpoint)
        .refresh_token("rt-canary-1")
        .fallback(login);
    let debug = format!("{grant:?}");
    for secret in SECRETS {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(debug.contains("has_refresh_token: true"), "{debug}");
}

// ---------------------------------------------------------------------
// The on_token hook

type HookLog = Arc<Mutex<Vec<(String, Option<String>, Option<String>)>>>;

/// A cache over `grant` whose hook records, for each new token, its
/// access token, its refresh token, and the access token the cache held
/// for callers at that moment.
fn cache_with_log(grant: RefreshTokenGrant) -> (TokenCache<RefreshTokenGrant>, HookLog) {
    let log = HookLog::default();
    let cell = Arc::new(OnceLock::<TokenCache<RefreshTokenGrant>>::new());
    let cache = TokenCache::builder(grant)
        .on_token({
            let log = Arc::clone(&log);
            let cell = Arc::clone(&cell);
            move |token| {
                let published = cell
                    .get()
                    .and_then(TokenCache::token)
                    .map(|t| access(&t).to_owned());
                log.lock().unwrap().push((
                    access(token).to_owned(),
                    refresh(token).map(str::to_owned),
                    published,
                ));
            }
        })
        .build()
        .unwrap();
    cell.set(cache.clone()).ok().unwrap();
    (cache, log)
}

fn entry(
    at: &str,
    rt: Option<&str>,
    published: Option<&str>,
) -> (String, Option<String>, Option<String>) {
    (
        at.to_owned(),
        rt.map(str::to_owned),
        published.map(str::to_owned),
    )
}

#[tokio::test]
async fn the_on_token_hook_sees_every_new_token_before_any_caller_does() {
    let server = Server::start(|n, _| async move {
        match n {
            0 => token_json("at-canary-1", Some("rt-canary-2")),
            1 => token_json("at-canary-2", Some("rt-canary-3")),
            _ => token_json("at-canary-3", None),
        }
    })
    .await;
    let grant = RefreshTokenGrant::new(endpoint(&server, basic())).refresh_token("rt-canary-1");
    let (cache, log) = cache_with_log(grant);

    cache.ensure_fresh().await.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [entry("at-canary-1", Some("rt-canary-2"), None)]
    );
    cache.force_refresh().await.unwrap();
    cache.force_refresh().await.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [
            entry("at-canary-1", Some("rt-canary-2"), None),
            entry("at-canary-2", Some("rt-canary-3"), Some("at-canary-1")),
            // No rotation: the hook sees the kept refresh token.
            entry("at-canary-3", Some("rt-canary-3"), Some("at-canary-2")),
        ]
    );
    assert_eq!(cache.authorization().unwrap(), "Bearer at-canary-3");
    let sent: Vec<_> = server.sent("refresh_token");
    assert_eq!(sent, ["rt-canary-1", "rt-canary-2", "rt-canary-3"]);
}

#[tokio::test]
async fn the_on_token_hook_runs_before_any_concurrent_caller_is_released() {
    let server = Server::start(|_, _| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token_json("at-canary-1", Some("rt-canary-2"))
    })
    .await;
    let grant = RefreshTokenGrant::new(endpoint(&server, basic())).refresh_token("rt-canary-1");
    let (cache, log) = cache_with_log(grant);
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let cache = cache.clone();
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                cache.ensure_fresh().await.unwrap();
                log.lock().unwrap().clone()
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(
            caller.await.unwrap(),
            [entry("at-canary-1", Some("rt-canary-2"), None)]
        );
    }
    assert_eq!(server.count(), 1);
}

// ---------------------------------------------------------------------
// Password grant

#[tokio::test]
async fn the_password_grant_sends_username_and_password() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let grant =
        Password::new(endpoint(&server, basic()), "alice@example.test", PASSWORD).scope("profile");
    grant.fetch_token(None).await.unwrap();
    let seen = server.only_request();
    assert_eq!(
        seen.header("authorization").as_deref(),
        Some(EXPECTED_BASIC)
    );
    assert_eq!(
        seen.form(),
        pairs(&[
            ("grant_type", "password"),
            ("username", "alice@example.test"),
            ("password", PASSWORD),
            ("scope", "profile"),
        ])
    );
    assert!(
        seen.body.starts_with(
            "grant_type=password&username=alice%40example.test&password=pw-canary+correct+horse"
        ),
        "{}",
        seen.body
    );
}

#[test]
fn debug_of_the_password_grant_never_shows_the_password() {
    let endpoint =
        Endpoint::new("https://auth.example.test/token", CLIENT_ID, CLIENT_SECRET).unwrap();
    let grant = Password::new(endpoint, "alice", PASSWORD);
    let debug = format!("{grant:?}");
    for secret in SECRETS {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(debug.contains("UserPassword(<redacted>)"), "{debug}");
    assert!(debug.contains("alice"), "{debug}");
}

// ---------------------------------------------------------------------
// JWT bearer grant (RFC 7523 section 2.1)

fn hs256() -> AssertionKey {
    AssertionKey::hs256(HS256_SECRET).unwrap()
}

fn rs256() -> AssertionKey {
    AssertionKey::rs256_pem(RSA_PRIVATE_PEM).unwrap()
}

#[tokio::test]
async fn the_jwt_bearer_grant_sends_an_hs256_assertion_with_every_claim() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let url = server.url("/token");
    let grant = JwtBearer::new(
        endpoint(&server, ClientAuth::none()),
        hs256(),
        "svc@example.test",
    )
    .subject("alice@example.test")
    .scope("calendar");
    let before = unix_now();
    grant.fetch_token(None).await.unwrap();
    let after = unix_now();
    let seen = server.only_request();
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.keys(), ["grant_type", "assertion", "scope"]);
    assert_eq!(seen.param("grant_type"), JWT_BEARER_GRANT);
    assert_eq!(seen.param("scope"), "calendar");
    let (header, claims) = verify(
        &seen.param("assertion"),
        &hs256_decoding(),
        Algorithm::HS256,
        &url,
    );
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(claims["iss"], "svc@example.test");
    assert_eq!(claims["sub"], "alice@example.test");
    assert_eq!(claims["aud"], url.as_str());
    assert_times(&claims, before, after, DEFAULT_ASSERTION_LIFETIME);
}

#[tokio::test]
async fn the_jwt_bearer_subject_defaults_to_the_issuer() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let url = server.url("/token");
    let grant = JwtBearer::new(
        endpoint(&server, ClientAuth::none()),
        hs256(),
        "svc@example.test",
    );
    grant.fetch_token(None).await.unwrap();
    let assertion = server.only_request().param("assertion");
    let (_, claims) = verify(&assertion, &hs256_decoding(), Algorithm::HS256, &url);
    assert_eq!(claims["iss"], "svc@example.test");
    assert_eq!(claims["sub"], "svc@example.test");
}

#[tokio::test]
async fn the_jwt_bearer_audience_and_lifetime_can_be_set() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let grant = JwtBearer::new(
        endpoint(&server, ClientAuth::none()),
        hs256(),
        "svc@example.test",
    )
    .assertion_audience("https://oauth2.example.test/")
    .assertion_lifetime(Duration::from_secs(120));
    let before = unix_now();
    grant.fetch_token(None).await.unwrap();
    let after = unix_now();
    let assertion = server.only_request().param("assertion");
    let (_, claims) = verify(
        &assertion,
        &hs256_decoding(),
        Algorithm::HS256,
        "https://oauth2.example.test/",
    );
    assert_eq!(claims["aud"], "https://oauth2.example.test/");
    assert_times(&claims, before, after, Duration::from_secs(120));
}

#[tokio::test]
async fn the_jwt_bearer_grant_signs_rs256_assertions_with_the_key_id() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let url = server.url("/token");
    let key = rs256().with_key_id("test-key-1");
    let grant = JwtBearer::new(
        endpoint(&server, ClientAuth::none()),
        key,
        "svc@example.test",
    );
    let before = unix_now();
    grant.fetch_token(None).await.unwrap();
    let after = unix_now();
    let assertion = server.only_request().param("assertion");
    let (header, claims) = verify(&assertion, &rs256_decoding(), Algorithm::RS256, &url);
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some("test-key-1"));
    assert_eq!(claims["iss"], "svc@example.test");
    assert_eq!(claims["sub"], "svc@example.test");
    assert_eq!(claims["aud"], url.as_str());
    assert_times(&claims, before, after, DEFAULT_ASSERTION_LIFETIME);
}

#[tokio::test]
async fn the_jwt_bearer_grant_never_reuses_an_assertion() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let url = server.url("/token");
    let grant = JwtBearer::new(
        endpoint(&server, ClientAuth::none()),
        hs256(),
        "svc@example.test",
    );
    for _ in 0..3 {
        grant.fetch_token(None).await.unwrap();
    }
    let assertions: Vec<_> = server.sent("assertion");
    let jtis: HashSet<_> = assertions
        .iter()
        .map(|a| verify(a, &hs256_decoding(), Algorithm::HS256, &url).1["jti"].to_string())
        .collect();
    assert_eq!(assertions.iter().collect::<HashSet<_>>().len(), 3);
    assert_eq!(jtis.len(), 3, "{jtis:?}");
}

// ---------------------------------------------------------------------
// Client authentication with a JWT (RFC 7523 section 2.2)

async fn client_assertion_request(key: AssertionKey) -> (Seen, String, u64, u64) {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let url = server.url("/token");
    let grant = ClientCredentials::new(endpoint(&server, ClientAuth::jwt(CLIENT_ID, key)));
    let before = unix_now();
    grant.fetch_token(None).await.unwrap();
    let after = unix_now();
    (server.only_request(), url, before, after)
}

#[tokio::test]
async fn client_secret_jwt_sends_an_hs256_client_assertion() {
    let (seen, url, before, after) = client_assertion_request(hs256()).await;
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(
        seen.keys(),
        [
            "grant_type",
            "client_id",
            "client_assertion_type",
            "client_assertion"
        ]
    );
    assert_eq!(seen.param("client_id"), CLIENT_ID);
    assert_eq!(seen.param("client_assertion_type"), JWT_BEARER_CLIENT);
    let assertion = seen.param("client_assertion");
    let (header, claims) = verify(&assertion, &hs256_decoding(), Algorithm::HS256, &url);
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], CLIENT_ID);
    assert_eq!(claims["aud"], url.as_str());
    assert_times(&claims, before, after, CLIENT_ASSERTION_LIFETIME);
}

#[tokio::test]
async fn private_key_jwt_sends_an_rs256_client_assertion() {
    let (seen, url, before, after) = client_assertion_request(rs256()).await;
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.param("client_id"), CLIENT_ID);
    assert_eq!(seen.param("client_assertion_type"), JWT_BEARER_CLIENT);
    let assertion = seen.param("client_assertion");
    let (header, claims) = verify(&assertion, &rs256_decoding(), Algorithm::RS256, &url);
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], CLIENT_ID);
    assert_eq!(claims["aud"], url.as_str());
    assert_times(&claims, before, after, CLIENT_ASSERTION_LIFETIME);
}

#[tokio::test]
async fn every_request_gets_a_new_client_assertion() {
    let server = Server::start(|_, _| async { token_json("at-canary-1", None) }).await;
    let url = server.url("/token");
    let auth = ClientAuth::jwt(CLIENT_ID, hs256());
    let grant = ClientCredentials::new(endpoint(&server, auth));
    grant.fetch_token(None).await.unwrap();
    grant.fetch_token(None).await.unwrap();
    let assertions: Vec<_> = server.sent("client_assertion");
    assert_ne!(assertions[0], assertions[1]);
    let jti = |a: &str| verify(a, &hs256_decoding(), Algorithm::HS256, &url).1["jti"].clone();
    assert_ne!(jti(&assertions[0]), jti(&assertions[1]));
}

#[test]
fn debug_of_the_jwt_grants_shows_no_key() {
    let endpoint = Endpoint::builder("https://auth.example.test/token")
        .client_auth(ClientAuth::jwt(CLIENT_ID, hs256()))
        .build()
        .unwrap();
    let grant = JwtBearer::new(endpoint, rs256(), "svc@example.test");
    let debug = format!("{grant:?}");
    for secret in SECRETS.iter().chain(&["PRIVATE KEY", "MIIE"]) {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    assert!(debug.contains("AssertionKey(RS256, <redacted>)"), "{debug}");
}
