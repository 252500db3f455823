//! The runtime behind [token-refresh](https://docs.rs/token-refresh): the
//! [`TokenCache`], the [`FetchToken`] trait a client implements for its API,
//! ready OAuth2 fetchers in [`oauth2`], and the [`Error`] type.
//!
//! Most users add the `token-refresh` crate, which re-exports all of this
//! together with the `#[refresh_token]` attribute.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
mod cache;
mod clock;
mod error;
mod fetch;
pub mod oauth2;
mod refresh;
mod secret;
mod token;

pub use crate::backoff::{DEFAULT_RETRY_MAX, DEFAULT_RETRY_MIN};
pub use crate::cache::{
    CacheStats, DEFAULT_EXPIRY_MARGIN, DEFAULT_FETCH_TIMEOUT, DEFAULT_REFRESH_MARGIN, EnsureFresh,
    HasTokenCache, TokenCache, TokenCacheBuilder,
};
pub use crate::clock::Clock;
pub use crate::error::{BoxError, Error, OAuthError};
pub use crate::fetch::FetchToken;
pub use crate::secret::{AccessToken, ClientSecret, RefreshToken, UserPassword};
pub use crate::token::Token;

/// The HTTP client the fetchers use, re-exported so that a client you
/// build for them is always of the version they expect.
pub use reqwest;

/// Support for the code `#[refresh_token]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    use crate::{Error, HasTokenCache, TokenCache};

    /// The cache of `client`, found through [`HasTokenCache`].
    #[inline]
    pub fn cache_of<T: HasTokenCache + ?Sized>(client: &T) -> &TokenCache<T::Fetcher> {
        client.token_cache()
    }

    /// Converts a refresh error into the annotated method's error type.
    #[inline]
    pub fn into_method_error<E: From<Error>>(err: Error) -> E {
        E::from(err)
    }
}
