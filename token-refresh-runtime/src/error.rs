//! The error type shared by the cache, the fetchers and annotated methods.
//!
//! One fetch can fail many waiting callers at once, so [`Error`] is `Clone`:
//! sources are held behind `Arc`. No variant ever carries a secret.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A boxed error from a user's [`FetchToken`](crate::FetchToken) impl.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a token could not be obtained or used.
///
/// ```
/// use token_refresh_runtime::Error;
///
/// let err = Error::fetcher("directory service unavailable");
/// assert_eq!(err.to_string(), "the token fetcher failed");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token endpoint answered with an OAuth2 error body
    /// (RFC 6749 section 5.2).
    #[error("the token endpoint refused the request")]
    OAuth(#[source] OAuthError),

    /// The token endpoint answered with a status that is not a success and
    /// no OAuth2 error, or with a success but a body that is neither JSON
    /// nor a form (an HTML error page, a captive portal).
    #[error("the token endpoint answered HTTP {status}{}", Preview(.preview))]
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// The start of a body that is not JSON, for diagnosis; empty for
        /// a JSON body, which might hold secrets.
        preview: String,
    },

    /// The request to the token endpoint could not be sent or its answer
    /// could not be read.
    #[error("the token request failed")]
    Transport(#[source] Arc<reqwest::Error>),

    /// A request to the API, sent by
    /// [`TokenCache::send_authorized`](crate::TokenCache::send_authorized),
    /// failed before an answer arrived.
    #[error("the API request failed")]
    Request(#[source] Arc<reqwest::Error>),

    /// The token endpoint answered, but not with a usable token.
    #[error("invalid token response: {reason}")]
    InvalidResponse {
        /// What was wrong, without any value from the response.
        reason: &'static str,
    },

    /// The token endpoint issued a token that is not a bearer token, which
    /// cannot be sent as `Authorization: Bearer`.
    #[error("the token endpoint issued a `{token_type}` token; only bearer tokens are supported")]
    UnsupportedTokenType {
        /// The `token_type` the server sent (at most 32 characters of it).
        token_type: String,
    },

    /// The token request took longer than the fetcher's request timeout.
    #[error("the token request did not finish within {}", DisplayDuration(*.after))]
    RequestTimeout {
        /// The timeout that elapsed.
        after: Duration,
    },

    /// The token endpoint's answer was larger than the fetcher accepts.
    #[error("the token response is larger than {limit} bytes")]
    ResponseTooLarge {
        /// The limit in bytes.
        limit: usize,
    },

    /// The token endpoint answered with a redirect, which is never
    /// followed: a token request carries credentials.
    #[error("the token endpoint redirected (HTTP {status}) to {}; redirects are not followed", .host.as_deref().unwrap_or("an unknown host"))]
    Redirect {
        /// The HTTP status of the redirect.
        status: u16,
        /// The host the redirect pointed to, if it named one.
        host: Option<String>,
    },

    /// The refresh token was rejected (`invalid_grant`) and no fallback
    /// grant is configured: the user or client must authorise again.
    #[error("the refresh token was rejected; authorise again to get a new one")]
    ReauthorizationRequired(#[source] Option<OAuthError>),

    /// A JWT assertion could not be signed.
    #[error("the JWT assertion could not be signed")]
    Signing(#[source] Arc<jsonwebtoken::errors::Error>),

    /// The fetch did not finish within the cache's fetch timeout.
    #[error("the token fetch did not finish within {}", DisplayDuration(*.after))]
    Timeout {
        /// The timeout that elapsed.
        after: Duration,
    },

    /// The fetcher panicked; the next call starts a new fetch.
    #[error("the token fetcher panicked")]
    FetchPanicked,

    /// The fetch task stopped before it finished, most likely because the
    /// Tokio runtime it ran on shut down; the next call starts a new fetch.
    #[error("the token fetch stopped before it finished")]
    FetchCancelled,

    /// A user-defined fetcher failed.
    #[error("the token fetcher failed")]
    Fetcher(#[source] Arc<dyn StdError + Send + Sync + 'static>),

    /// A builder was given a value it cannot use.
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// Which value was wrong and why.
        reason: &'static str,
    },

    /// The cache has no token yet: `ensure_fresh()` has not succeeded.
    #[error("no token has been fetched yet; await `ensure_fresh()` first")]
    NoToken,

    /// A fetch had to start outside a Tokio runtime.
    #[error("token refresh needs a Tokio runtime; call it from within one")]
    NoRuntime,
}

impl Error {
    /// Wraps the error of a user-defined fetcher.
    ///
    /// ```
    /// use token_refresh_runtime::Error;
    ///
    /// let io = std::io::Error::other("vault sealed");
    /// let err = Error::fetcher(io);
    /// assert!(std::error::Error::source(&err).is_some());
    /// ```
    pub fn fetcher(source: impl Into<BoxError>) -> Self {
        Error::Fetcher(Arc::from(source.into()))
    }

    /// The OAuth2 error body, when the token endpoint sent one.
    ///
    /// ```
    /// use token_refresh_runtime::Error;
    ///
    /// assert!(Error::NoToken.oauth().is_none());
    /// ```
    pub fn oauth(&self) -> Option<&OAuthError> {
        match self {
            Error::OAuth(oauth) => Some(oauth),
            _ => None,
        }
    }
}

impl Error {
    /// Whether trying again later may succeed: timeouts, transport
    /// failures, panics, HTTP 5xx and 429, and the OAuth2 codes
    /// `server_error` and `temporarily_unavailable`. Other refusals, such
    /// as `invalid_client` or a 4xx, need a change of configuration.
    ///
    /// ```
    /// use token_refresh_runtime::{Error, OAuthError};
    ///
    /// assert!(Error::HttpStatus { status: 503, preview: String::new() }.is_retryable());
    /// assert!(!Error::OAuth(OAuthError::new(401, "invalid_client")).is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::HttpStatus { status, .. } => *status >= 500 || *status == 429,
            Error::OAuth(oauth) => {
                matches!(
                    oauth.error.as_str(),
                    "server_error" | "temporarily_unavailable"
                ) || oauth.status >= 500
                    || oauth.status == 429
            }
            Error::Transport(_)
            | Error::Request(_)
            | Error::RequestTimeout { .. }
            | Error::Timeout { .. }
            | Error::FetchPanicked
            | Error::FetchCancelled
            | Error::Fetcher(_) => true,
            Error::InvalidResponse { .. }
            | Error::Redirect { .. }
            | Error::ReauthorizationRequired(_)
            | Error::Signing(_)
            | Error::UnsupportedTokenType { .. }
            | Error::ResponseTooLarge { .. }
            | Error::InvalidConfig { .. }
            | Error::NoToken
            | Error::NoRuntime => false,
        }
    }

    /// A short, stable name for the kind of error, for logs and metrics:
    /// `oauth`, `http`, `transport`, `timeout`, `invalid_response`, and so
    /// on.
    ///
    /// ```
    /// use token_refresh_runtime::Error;
    ///
    /// assert_eq!(Error::HttpStatus { status: 502, preview: String::new() }.class(), "http");
    /// ```
    pub fn class(&self) -> &'static str {
        match self {
            Error::OAuth(_) => "oauth",
            Error::HttpStatus { .. } => "http",
            Error::Transport(_) => "transport",
            Error::Request(_) => "request",
            Error::InvalidResponse { .. } => "invalid_response",
            Error::Redirect { .. } => "redirect",
            Error::ReauthorizationRequired(_) => "reauthorization_required",
            Error::Signing(_) => "signing",
            Error::UnsupportedTokenType { .. } => "unsupported_token_type",
            Error::RequestTimeout { .. } | Error::Timeout { .. } => "timeout",
            Error::ResponseTooLarge { .. } => "response_too_large",
            Error::FetchPanicked => "panic",
            Error::FetchCancelled => "cancelled",
            Error::Fetcher(_) => "fetcher",
            Error::InvalidConfig { .. } => "invalid_config",
            Error::NoToken => "no_token",
            Error::NoRuntime => "no_runtime",
        }
    }
}

impl From<reqwest::Error> for Error {
    fn from(err: reqwest::Error) -> Self {
        Error::Transport(Arc::new(err))
    }
}

/// An OAuth2 error response (RFC 6749 section 5.2), with the HTTP status it
/// came with.
///
/// ```
/// use token_refresh_runtime::OAuthError;
///
/// let err = OAuthError::new(401, "invalid_client");
/// assert_eq!(err.to_string(), "invalid_client (HTTP 401)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status of the response.
    pub status: u16,
    /// The `error` code, such as `invalid_client` or `invalid_grant`.
    pub error: String,
    /// The optional human-readable `error_description`.
    pub description: Option<String>,
    /// The optional `error_uri`.
    pub uri: Option<String>,
}

impl OAuthError {
    /// An error with a status and a code, without description or URI.
    pub fn new(status: u16, error: impl Into<String>) -> Self {
        OAuthError {
            status,
            error: error.into(),
            description: None,
            uri: None,
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        if let Some(description) = &self.description {
            write!(f, ": {description}")?;
        }
        write!(f, " (HTTP {})", self.status)
    }
}

impl StdError for OAuthError {}

/// Prints a body preview after a colon, or nothing when there is none.
struct Preview<'a>(&'a str);

impl fmt::Display for Preview<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            "" => Ok(()),
            preview => write!(f, ": {preview:?}"),
        }
    }
}

/// Prints a duration the way a person reads it: `30s`, `1.5s`, `250ms`.
struct DisplayDuration(Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d < Duration::from_secs(1) {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(f, "{}s", d.as_secs_f64())
        }
    }
}
