//! The `#[refresh_token]` attribute of the
//! [token-refresh](https://docs.rs/token-refresh) crate.
//!
//! Use it through `token_refresh::refresh_token`: the code it generates
//! names items of the `token_refresh` crate, so this crate does nothing on
//! its own.

#![warn(missing_docs)]

mod args;
mod expand;
mod valid;

use proc_macro::TokenStream;

/// Makes an async method fetch a fresh token before its body runs.
///
/// Put it on an `impl` block to cover every `async fn` that takes `self`,
/// or on a single method. The method's future, when first polled, awaits
/// the client's [`TokenCache`] until it holds a fresh token, then runs the
/// body. A token that cannot be had ends the call early with the method's
/// own error, made with `From<token_refresh::Error>`.
///
/// ```text
/// use token_refresh::{refresh_token, Error, FetchToken, HasTokenCache, TokenCache};
///
/// struct Client<F> {
///     http: reqwest::Client,
///     tokens: TokenCache<F>,
/// }
///
/// impl<F: FetchToken> HasTokenCache for Client<F> {
///     type Fetcher = F;
///
///     fn token_cache(&self) -> &TokenCache<F> {
///         &self.tokens
///     }
/// }
///
/// #[derive(Debug)]
/// enum ApiError {
///     Token(Error),
///     Http(reqwest::Error),
/// }
///
/// impl From<Error> for ApiError {
///     fn from(err: Error) -> Self {
///         ApiError::Token(err)
///     }
/// }
///
/// #[refresh_token]
/// impl<F: FetchToken> Client<F> {
///     /// The body finds a fresh token in the cache.
///     async fn user(&self, id: u32) -> Result<String, ApiError> {
///         let auth = self.tokens.authorization()?;
///         let url = format!("https://api.example.com/users/{id}");
///         let request = self.http.get(url).header("authorization", auth);
///         let response = request.send().await.map_err(ApiError::Http)?;
///         response.text().await.map_err(ApiError::Http)
///     }
///
///     /// Left as written: this endpoint needs no token.
///     #[refresh_token(skip)]
///     async fn health(&self) -> Result<(), ApiError> {
///         Ok(())
///     }
///
///     /// Not async, so left as written.
///     fn base_url(&self) -> &str {
///         "https://api.example.com"
///     }
/// }
/// ```
///
/// `user` above is the same as this hand-written method:
///
/// ```text
/// async fn user(&self, id: u32) -> Result<String, ApiError> {
///     {
///         let cache = HasTokenCache::token_cache(&*self);
///         if let Err(err) = cache.ensure_fresh().await {
///             return Err(ApiError::from(err));
///         }
///     }
///     let auth = self.tokens.authorization()?;
///     // ...
/// }
/// ```
///
/// # Where it goes
///
/// - On an `impl` block, inherent or of a trait with `async fn` methods:
///   every `async fn` with a `self` receiver is covered. Other functions,
///   constants and types are left alone.
/// - On one `async fn` with a receiver: `&self`, `&mut self`, `self`,
///   `self: Box<Self>`, `self: Arc<Self>`, `self: &Arc<Self>`,
///   `self: Pin<&mut Self>` and the like.
///
/// A covered method must return a `Result`: a type whose path ends in
/// `Result`, so `std::io::Result<T>` or an alias of your own works too. Its
/// error type must implement `From<token_refresh::Error>`.
///
/// # Arguments
///
/// - `#[refresh_token(cache = field)]` reads the [`TokenCache`] in
///   `self.field` instead of calling `HasTokenCache`. On a method inside
///   an annotated `impl` block, it overrides the block's choice.
/// - `#[refresh_token(skip)]`, on a method inside an annotated `impl`
///   block, leaves that method as written.
///
/// # Futures
///
/// The method stays an `async fn`: creating its future does nothing, and
/// its future is `Send` exactly when the unannotated one is. Across the
/// refresh it holds only a `&TokenCache`, never `&Self`, so a `&mut self`
/// method of a type that is `Send` but not `Sync` still gives a `Send`
/// future.
///
/// [`TokenCache`]: https://docs.rs/token-refresh/latest/token_refresh/struct.TokenCache.html
#[proc_macro_attribute]
pub fn refresh_token(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::refresh_token(args.into(), input.into()).into()
}
