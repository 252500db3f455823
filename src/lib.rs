#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use token_refresh_macros::refresh_token;
pub use token_refresh_runtime::{
    AccessToken, BoxError, ClientSecret, DEFAULT_FETCH_TIMEOUT, DEFAULT_REFRESH_MARGIN,
    EnsureFresh, Error, FetchToken, HasTokenCache, OAuthError, RefreshToken, Token, TokenCache,
    TokenCacheBuilder, oauth2,
};

/// Support for the code `#[refresh_token]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use token_refresh_runtime::__private::*;
}
