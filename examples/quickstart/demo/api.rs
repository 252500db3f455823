//! A small JSON API that takes only valid bearer JWTs (RFC 6750): signed
//! with the demo key, from the demo issuer, for this API, and not expired.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::errors::{self as jwt, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AUDIENCE, Claims, ISSUER, Stats};

pub(super) fn router(key: &[u8], stats: Arc<Stats>) -> jwt::Result<Router> {
    let mut validation = Validation::new(Algorithm::HS256);
    // The default leeway is 60 s, which would let a 3 s token live on for
    // a minute: with none, an expired token is refused at once.
    validation.leeway = 0;
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let verifier = Arc::new(Verifier {
        key: DecodingKey::from_secret(key)?,
        validation,
        stats,
    });
    let router = Router::new()
        .route("/api/users/{id}", get(user))
        .route("/api/orders", get(orders))
        .route("/api/echo", post(echo));
    Ok(router.with_state(verifier))
}

struct Verifier {
    key: DecodingKey,
    validation: Validation,
    stats: Arc<Stats>,
}

async fn user(_: Caller, Path(id): Path<u32>) -> Json<Value> {
    Json(json!({ "id": id, "name": format!("user-{id}") }))
}

#[derive(Deserialize)]
struct OrdersQuery {
    limit: Option<u32>,
}

async fn orders(_: Caller, Query(query): Query<OrdersQuery>) -> Json<Value> {
    let items = ["tea", "scones", "jam", "cream"];
    let orders: Vec<Value> = (1..=query.limit.unwrap_or(3).min(10))
        .map(|id| {
            let item = items[id as usize % items.len()];
            json!({ "id": id, "item": item, "quantity": id })
        })
        .collect();
    Json(Value::Array(orders))
}

async fn echo(Caller(claims): Caller, Json(body): Json<Value>) -> Json<Value> {
    Json(json!({ "echo": body, "caller": claims.sub }))
}

/// The verified claims of the request's token. As an extractor it runs
/// before the handler, so no handler sees an unauthorised request.
struct Caller(Claims);

impl FromRequestParts<Arc<Verifier>> for Caller {
    type Rejection = Unauthorized;

    async fn from_request_parts(
        parts: &mut Parts,
        verifier: &Arc<Verifier>,
    ) -> Result<Self, Unauthorized> {
        match verifier.verify(&parts.headers) {
            Ok(claims) => Ok(Caller(claims)),
            Err(refusal) => {
                verifier.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
                let reason = refusal.description();
                say!("api", "401 {} {}: {reason}", parts.method, parts.uri.path());
                Err(refusal)
            }
        }
    }
}

impl Verifier {
    fn verify(&self, headers: &HeaderMap) -> Result<Claims, Unauthorized> {
        let header = headers.get(AUTHORIZATION).ok_or(Unauthorized::Missing)?;
        let header = header.to_str().map_err(|_| Unauthorized::Missing)?;
        let (scheme, token) = header.split_once(' ').ok_or(Unauthorized::Missing)?;
        if !scheme.eq_ignore_ascii_case("Bearer") {
            return Err(Unauthorized::Missing);
        }
        let data = jsonwebtoken::decode::<Claims>(token.trim(), &self.key, &self.validation);
        data.map(|data| data.claims)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => Unauthorized::Expired,
                _ => Unauthorized::Invalid,
            })
    }
}

/// Why a request was refused with 401.
enum Unauthorized {
    /// No bearer token: RFC 6750 section 3.1 says to send no error code.
    Missing,
    Expired,
    Invalid,
}

impl Unauthorized {
    fn description(&self) -> &'static str {
        match self {
            Unauthorized::Missing => "no bearer token",
            Unauthorized::Expired => "the token has expired",
            Unauthorized::Invalid => "the token is not valid",
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 section 3).
    fn challenge(&self) -> String {
        match self {
            Unauthorized::Missing => r#"Bearer realm="quickstart""#.to_owned(),
            _ => format!(
                r#"Bearer realm="quickstart", error="invalid_token", error_description="{}""#,
                self.description()
            ),
        }
    }
}

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut body = json!({ "error_description": self.description() });
        if !matches!(self, Unauthorized::Missing) {
            body["error"] = "invalid_token".into();
        }
        let challenge = [(WWW_AUTHENTICATE, self.challenge())];
        (StatusCode::UNAUTHORIZED, challenge, Json(body)).into_response()
    }
}
