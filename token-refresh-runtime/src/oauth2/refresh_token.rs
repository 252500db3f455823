//! The refresh token grant (RFC 6749 section 6), with rotation and a
//! fallback grant for when the refresh token is rejected.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use super::endpoint::Endpoint;
use super::grants::Grant;
use super::params::{Params, params_methods};
use crate::{Error, FetchToken, RefreshToken, Token};

/// Fetches tokens with a refresh token, keeping the newest one.
///
/// - When a response carries a new refresh token (rotation), it replaces
///   the old one; when it carries none, the old one is kept, and the
///   returned token carries it too.
/// - When the refresh token is rejected with `invalid_grant` it is
///   forgotten and never sent again. The fallback grant, if any, is used
///   instead (it also runs when there is no refresh token yet); without
///   one the fetch fails with [`Error::ReauthorizationRequired`].
///
/// To save rotated refresh tokens, register a hook with
/// [`TokenCacheBuilder::on_token`](crate::TokenCacheBuilder::on_token):
/// it sees every new token before any caller does.
///
/// ```
/// use token_refresh_runtime::oauth2::{Endpoint, Password, RefreshTokenGrant};
///
/// let endpoint = Endpoint::new("https://auth.example.com/token", "my-client", "s3cret")?;
/// let login = Password::new(endpoint.clone(), "alice", "correct horse");
/// // Logs in with the password once, then refreshes.
/// let grant = RefreshTokenGrant::new(endpoint).fallback(login);
/// # Ok::<(), token_refresh_runtime::Error>(())
/// ```
pub struct RefreshTokenGrant {
    endpoint: Endpoint,
    params: Params,
    /// The newest refresh token; `None` before the first one or after it
    /// was rejected.
    refresh_token: Mutex<Option<RefreshToken>>,
    fallback: Option<Box<dyn Grant>>,
}

impl fmt::Debug for RefreshTokenGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokenGrant")
            .field("endpoint", &self.endpoint)
            .field("params", &self.params)
            .field("has_refresh_token", &self.current_refresh_token().is_some())
            .field("has_fallback", &self.fallback.is_some())
            .finish()
    }
}

impl RefreshTokenGrant {
    /// The grant against `endpoint`, with no refresh token yet.
    pub fn new(endpoint: Endpoint) -> Self {
        RefreshTokenGrant {
            endpoint,
            params: Params::default(),
            refresh_token: Mutex::new(None),
            fallback: None,
        }
    }

    /// The refresh token to start from, for example one saved earlier.
    pub fn refresh_token(self, refresh_token: impl Into<RefreshToken>) -> Self {
        *self.slot() = Some(refresh_token.into());
        self
    }

    params_methods!();

    /// The grant used when there is no refresh token, or it was rejected:
    /// for example [`Password`](super::Password) or
    /// [`ClientCredentials`](super::ClientCredentials).
    pub fn fallback(mut self, grant: impl Grant) -> Self {
        self.fallback = Some(Box::new(grant));
        self
    }

    /// The refresh token the next fetch will send, if any.
    pub fn current_refresh_token(&self) -> Option<RefreshToken> {
        self.slot().clone()
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<RefreshToken>> {
        self.refresh_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn refresh(&self, refresh_token: &RefreshToken) -> Result<Token, Error> {
        let mut form = vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), refresh_token.secret().to_owned()),
        ];
        self.params.append_to(&mut form);
        self.endpoint.request(form).await
    }

    /// Remembers the token's refresh token, or gives it the old one.
    fn keep(&self, token: Token, old: Option<RefreshToken>) -> Token {
        match (token.refresh_token(), old) {
            (Some(new), _) => {
                *self.slot() = Some(new.clone());
                token
            }
            (None, Some(old)) => token.with_refresh_token(old),
            (None, None) => token,
        }
    }
}

impl FetchToken for RefreshTokenGrant {
    async fn fetch_token(&self, _previous: Option<&Token>) -> Result<Token, Error> {
        let mut rejection = None;
        if let Some(refresh_token) = self.current_refresh_token() {
            match self.refresh(&refresh_token).await {
                Ok(token) => return Ok(self.keep(token, Some(refresh_token))),
                Err(Error::OAuth(oauth)) if oauth.error == "invalid_grant" => {
                    tracing::warn!(
                        fallback = self.fallback.is_some(),
                        "the refresh token was rejected (invalid_grant) and is dropped"
                    );
                    let mut slot = self.slot();
                    if slot.as_ref() == Some(&refresh_token) {
                        *slot = None;
                    }
                    rejection = Some(oauth);
                }
                Err(err) => return Err(err),
            }
        }
        match &self.fallback {
            Some(grant) => {
                let token = grant.endpoint().request(grant.form()?).await?;
                Ok(self.keep(token, None))
            }
            None => Err(Error::ReauthorizationRequired(rejection)),
        }
    }
}
