//! [`FetchToken`]: how a cache gets a new token from a user's API.

use std::future::Future;

use crate::{Error, Token};

/// Fetches a new access token. Implement it for your API, or use one of the
/// ready OAuth2 fetchers such as
/// [`ClientCredentials`](crate::oauth2::ClientCredentials).
///
/// The cache calls `fetch_token` at most once at a time, on a Tokio task of
/// its own, so the fetch finishes even if the caller that needed it gives
/// up. Write it with `async fn` in your impl:
///
/// ```
/// use std::time::Duration;
/// use token_refresh_runtime::{Error, FetchToken, Token};
///
/// struct FromVault;
///
/// impl FetchToken for FromVault {
///     async fn fetch_token(&self, previous: Option<&Token>) -> Result<Token, Error> {
///         // A refresh grant would send `previous`'s refresh token here.
///         let _ = previous.and_then(Token::refresh_token);
///         Ok(Token::new("eyJhbGciOi", Duration::from_secs(300)))
///     }
/// }
/// ```
pub trait FetchToken: Send + Sync + 'static {
    /// Gets a new token. `previous` is the token the cache holds now, if
    /// any, for grants that exchange it (a refresh grant).
    fn fetch_token(
        &self,
        previous: Option<&Token>,
    ) -> impl Future<Output = Result<Token, Error>> + Send;
}
