//! A hand-made API wrapper, as a crate for a REST service would write it.
//! `#[refresh_token]` on the `impl` block is all it takes to keep the
//! bearer token fresh: every method below may assume the cache holds one.

use std::error::Error;
use std::fmt;

use reqwest::header::AUTHORIZATION;
use reqwest::{Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use token_refresh::oauth2::ClientCredentials;
use token_refresh::{HasTokenCache, TokenCache, refresh_token};

/// A client for the demo API (or, through [`ApiClient::get_text`], any
/// API that takes a bearer token).
pub struct ApiClient {
    base_url: String,
    http: reqwest::Client,
    tokens: TokenCache<ClientCredentials>,
}

/// A user, from `GET /api/users/{id}`.
#[derive(Debug, Deserialize)]
pub struct User {
    pub id: u32,
    pub name: String,
}

/// An order, from `GET /api/orders`.
#[derive(Debug, Deserialize)]
pub struct Order {
    pub id: u32,
    pub item: String,
    pub quantity: u32,
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {}x {}", self.id, self.quantity, self.item)
    }
}

impl ApiClient {
    /// A client for the API at `base_url` that sends its requests with
    /// `http` and takes its tokens from `tokens`.
    pub fn new(
        base_url: &str,
        http: reqwest::Client,
        tokens: TokenCache<ClientCredentials>,
    ) -> Self {
        ApiClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
            tokens,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// How `#[refresh_token]` finds the cache of `self`.
impl HasTokenCache for ApiClient {
    type Fetcher = ClientCredentials;

    fn token_cache(&self) -> &TokenCache<ClientCredentials> {
        &self.tokens
    }
}

// Each method gets a fresh token before its body runs, so `authorization()`
// cannot fail with `NoToken`, and a token about to expire is replaced
// before it is sent.
#[refresh_token]
impl ApiClient {
    /// `GET /api/users/{id}`.
    pub async fn user(&self, id: u32) -> Result<User, ApiError> {
        let response = self
            .http
            .get(self.url(&format!("/api/users/{id}")))
            .header(AUTHORIZATION, self.tokens.authorization()?)
            .send()
            .await?;
        Ok(success(response)?.json().await?)
    }

    /// `GET /api/orders?limit={limit}`.
    pub async fn orders(&self, limit: u32) -> Result<Vec<Order>, ApiError> {
        let response = self
            .http
            .get(self.url(&format!("/api/orders?limit={limit}")))
            .header(AUTHORIZATION, self.tokens.authorization()?)
            .send()
            .await?;
        Ok(success(response)?.json().await?)
    }

    /// `POST /api/echo`: the API answers with `body` and who sent it.
    pub async fn echo(&self, body: &Value) -> Result<Value, ApiError> {
        let response = self
            .http
            .post(self.url("/api/echo"))
            .header(AUTHORIZATION, self.tokens.authorization()?)
            .json(body)
            .send()
            .await?;
        Ok(success(response)?.json().await?)
    }

    /// `GET {base_url}{path}`, the body as text: for any API.
    pub async fn get_text(&self, path: &str) -> Result<String, ApiError> {
        let response = self
            .http
            .get(self.url(path))
            .header(AUTHORIZATION, self.tokens.authorization()?)
            .send()
            .await?;
        Ok(success(response)?.text().await?)
    }
}

/// Turns a status that is not a success into an error.
fn success(response: Response) -> Result<Response, ApiError> {
    match response.status() {
        status if status.is_success() => Ok(response),
        status => Err(ApiError::Status(status)),
    }
}

/// Why an API call failed.
#[derive(Debug)]
pub enum ApiError {
    /// No token could be had: the token endpoint refused or was down.
    Token(token_refresh::Error),
    /// The API answered with a status that is not a success. A 401 means
    /// it did not accept the token.
    Status(StatusCode),
    /// The request could not be sent or the answer could not be read.
    Http(reqwest::Error),
}

impl ApiError {
    /// Whether the API refused the token (HTTP 401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ApiError::Status(StatusCode::UNAUTHORIZED))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Token(_) => f.write_str("could not get an access token"),
            ApiError::Status(status) => write!(f, "the API answered HTTP {status}"),
            ApiError::Http(_) => f.write_str("the API request failed"),
        }
    }
}

impl Error for ApiError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ApiError::Token(err) => Some(err),
            ApiError::Status(_) => None,
            ApiError::Http(err) => Some(err),
        }
    }
}

/// What `#[refresh_token]` converts a failed refresh with.
impl From<token_refresh::Error> for ApiError {
    fn from(err: token_refresh::Error) -> Self {
        ApiError::Token(err)
    }
}

impl From<reqwest::Error> for ApiError {
    fn from(err: reqwest::Error) -> Self {
        ApiError::Http(err)
    }
}
