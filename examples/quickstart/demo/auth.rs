//! A token endpoint for the client credentials grant (RFC 6749 section
//! 4.4): `POST /oauth/token` with `grant_type=client_credentials` and the
//! client's id and secret, either as HTTP Basic (section 2.3.1) or as
//! `client_id` and `client_secret` in the form body.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use jsonwebtoken::{EncodingKey, Header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AUDIENCE, CLIENT_ID, CLIENT_SECRET, Claims, ISSUER, Stats};

pub(super) fn router(
    key: &[u8],
    lifetime_secs: u64,
    stats: Arc<Stats>,
) -> jsonwebtoken::errors::Result<Router> {
    let state = Arc::new(Issuer {
        key: EncodingKey::from_secret(key)?,
        lifetime_secs,
        stats,
    });
    Ok(Router::new()
        .route("/oauth/token", post(token))
        .with_state(state))
}

struct Issuer {
    key: EncodingKey,
    lifetime_secs: u64,
    stats: Arc<Stats>,
}

/// The form fields of a token request; others are ignored.
#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(
    State(issuer): State<Arc<Issuer>>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    // RFC 6749 section 5.1: token responses must not be cached.
    let no_store = [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")];
    match issuer.answer(&headers, form) {
        Ok(body) => (no_store, Json(body)).into_response(),
        Err(refusal) => (no_store, refusal).into_response(),
    }
}

impl Issuer {
    fn answer(
        &self,
        headers: &HeaderMap,
        form: Result<Form<TokenRequest>, FormRejection>,
    ) -> Result<Value, Refusal> {
        let Ok(Form(request)) = form else {
            return Err(Refusal::request("the body must be a valid form"));
        };
        let (id, secret) = credentials(headers, &request)?;
        let known = same(secret.as_bytes(), CLIENT_SECRET.as_bytes());
        if !(id == CLIENT_ID && known) {
            return Err(Refusal::client("unknown client or wrong secret"));
        }
        match request.grant_type.as_deref() {
            Some("client_credentials") => self.issue(id, request.scope),
            Some(_) => Err(Refusal::grant()),
            None => Err(Refusal::request("grant_type is missing")),
        }
    }

    /// Signs a new token and builds the section 5.1 response.
    fn issue(&self, client: String, scope: Option<String>) -> Result<Value, Refusal> {
        let now = jsonwebtoken::get_current_timestamp();
        // Taken before signing, so two concurrent requests never share a
        // number; a failed signing leaves a gap, which is fine.
        let n = self.stats.tokens_issued.fetch_add(1, Ordering::Relaxed) + 1;
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: client,
            iat: now,
            exp: now + self.lifetime_secs,
            jti: n.to_string(),
            scope: scope.clone(),
        };
        let jwt = jsonwebtoken::encode(&Header::default(), &claims, &self.key)
            .map_err(|_| Refusal::server())?;
        say!(
            "auth",
            "issued token #{n}, expires in {}s",
            self.lifetime_secs
        );
        let mut body = json!({
            "access_token": jwt,
            "token_type": "Bearer",
            "expires_in": self.lifetime_secs,
        });
        if let Some(scope) = scope {
            body["scope"] = scope.into();
        }
        Ok(body)
    }
}

/// A client id and secret.
type Credentials = (String, String);

/// The client's id and secret, from exactly one of Basic and the body.
fn credentials(headers: &HeaderMap, request: &TokenRequest) -> Result<Credentials, Refusal> {
    let basic = basic_credentials(headers)?;
    let body = match (&request.client_id, &request.client_secret) {
        (Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
        (None, None) => None,
        _ => return Err(Refusal::client("client_id needs client_secret")),
    };
    match (basic, body) {
        (Some(basic), None) => Ok(basic),
        (None, Some(body)) => Ok(body),
        // Section 2.3: a client must not use more than one method.
        (Some(_), Some(_)) => Err(Refusal::request("two authentication methods")),
        (None, None) => Err(Refusal::client("no client authentication")),
    }
}

/// The credentials of an `Authorization: Basic` header, if there is one:
/// base64 of `id:secret`, each form-urlencoded first (section 2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<Credentials>, Refusal> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || Refusal::client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("Basic") {
        return Err(malformed());
    }
    let decoded = base64_decode(encoded.trim()).ok_or_else(malformed)?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    Ok(Some((id, secret)))
}

/// Standard base64 with padding (RFC 4648 section 4), as Basic uses.
fn base64_decode(input: &str) -> Option<Vec<u8>> {
    if input.len() % 4 != 0 {
        return None;
    }
    let data = input.strip_suffix("==").or(input.strip_suffix('='));
    let data = data.unwrap_or(input);
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0);
    for byte in data.bytes() {
        bits = bits << 6 | u32::from(base64_value(byte)?);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from(bits >> count).ok()?);
            // Keep only the bits not yet output, so the next byte is
            // exactly the top 8 of what is left.
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

fn base64_value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes `application/x-www-form-urlencoded`: `+` is a space and `%XX`
/// a byte.
fn form_decode(input: &str) -> Option<String> {
    let mut out = Vec::with_capacity(input.len());
    let mut bytes = input.bytes();
    while let Some(byte) = bytes.next() {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
            }
            _ => out.push(byte),
        }
    }
    String::from_utf8(out).ok()
}

/// Compares secrets in time that depends only on their lengths, so the
/// answer's timing does not tell how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An error response (RFC 6749 section 5.2).
struct Refusal {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
}

impl Refusal {
    fn request(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn client(description: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    fn grant() -> Self {
        let text = "only client_credentials is supported";
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", text)
    }

    fn server() -> Self {
        let text = "the token could not be signed";
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", text)
    }

    fn new(status: StatusCode, error: &'static str, description: &'static str) -> Self {
        Refusal {
            status,
            error,
            description,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        say!("auth", "refused: {} ({})", self.error, self.description);
        let body = Json(json!({
            "error": self.error,
            "error_description": self.description,
        }));
        if self.status == StatusCode::UNAUTHORIZED {
            // Section 5.2: a 401 names the scheme the client should use.
            let challenge = [(WWW_AUTHENTICATE, r#"Basic realm="quickstart""#)];
            return (self.status, challenge, body).into_response();
        }
        (self.status, body).into_response()
    }
}
