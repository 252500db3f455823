//! The grants that trade credentials for a token: client credentials
//! (RFC 6749 section 4.4), resource owner password (section 4.3) and the
//! JWT bearer assertion (RFC 7523 section 2.1).

use std::time::Duration;

use super::assertion::AssertionKey;
use super::endpoint::{Endpoint, Form};
use super::params::{Params, params_methods};
use crate::{Error, FetchToken, Token, UserPassword};

/// A grant: what goes in the form of its token request. Sealed; the
/// grants of this module are the implementations.
pub trait Grant: Send + Sync + 'static + private::Sealed {
    #[doc(hidden)]
    fn endpoint(&self) -> &Endpoint;

    #[doc(hidden)]
    fn form(&self) -> Result<Form, Error>;
}

mod private {
    pub trait Sealed {}
}

/// Implements `FetchToken` for a grant by sending its form.
macro_rules! fetch_by_form {
    ($grant:ty) => {
        impl private::Sealed for $grant {}

        impl FetchToken for $grant {
            async fn fetch_token(&self, _previous: Option<&Token>) -> Result<Token, Error> {
                self.endpoint.request(Grant::form(self)?).await
            }
        }
    };
}

/// The client credentials grant (RFC 6749 section 4.4): a client acting
/// on its own behalf trades its credentials for a token.
///
/// ```
/// use token_refresh_runtime::TokenCache;
/// use token_refresh_runtime::oauth2::{ClientCredentials, Endpoint};
///
/// let endpoint = Endpoint::new("https://auth.example.com/token", "my-client", "s3cret")?;
/// let fetcher = ClientCredentials::new(endpoint)
///     .scope("orders:read")
///     .audience("https://api.example.com");
/// let tokens = TokenCache::new(fetcher);
/// # Ok::<(), token_refresh_runtime::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    endpoint: Endpoint,
    params: Params,
}

impl ClientCredentials {
    /// The grant against `endpoint`, which must authenticate the client.
    pub fn new(endpoint: Endpoint) -> Self {
        ClientCredentials {
            endpoint,
            params: Params::default(),
        }
    }

    params_methods!();
}

impl Grant for ClientCredentials {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn form(&self) -> Result<Form, Error> {
        let mut form = vec![("grant_type".into(), "client_credentials".into())];
        self.params.append_to(&mut form);
        Ok(form)
    }
}

fetch_by_form!(ClientCredentials);

/// The resource owner password grant (RFC 6749 section 4.3). Legacy, and
/// best avoided, but some APIs still require it. Pair it with
/// [`RefreshTokenGrant`](super::RefreshTokenGrant) as the fallback so the
/// password is sent once and the refresh token after that.
///
/// ```
/// use token_refresh_runtime::oauth2::{Endpoint, Password};
///
/// let endpoint = Endpoint::new("https://auth.example.com/token", "my-client", "s3cret")?;
/// let grant = Password::new(endpoint, "alice", "correct horse").scope("profile");
/// assert!(!format!("{grant:?}").contains("correct horse"));
/// # Ok::<(), token_refresh_runtime::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Password {
    endpoint: Endpoint,
    username: String,
    password: UserPassword,
    params: Params,
}

impl Password {
    /// The grant for `username` and `password` against `endpoint`.
    pub fn new(
        endpoint: Endpoint,
        username: impl Into<String>,
        password: impl Into<UserPassword>,
    ) -> Self {
        Password {
            endpoint,
            username: username.into(),
            password: password.into(),
            params: Params::default(),
        }
    }

    params_methods!();
}

impl Grant for Password {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn form(&self) -> Result<Form, Error> {
        let mut form = vec![
            ("grant_type".into(), "password".into()),
            ("username".into(), self.username.clone()),
            ("password".into(), self.password.secret().to_owned()),
        ];
        self.params.append_to(&mut form);
        Ok(form)
    }
}

fetch_by_form!(Password);

/// The JWT bearer grant (RFC 7523 section 2.1): a signed assertion is the
/// grant. A new assertion (`iss`, `sub`, `aud`, `iat`, `exp`, `jti`) is
/// signed for every fetch, so none is ever reused or sent expired.
///
/// ```
/// use std::time::Duration;
/// use token_refresh_runtime::oauth2::{AssertionKey, Endpoint, JwtBearer};
///
/// let endpoint = Endpoint::builder("https://auth.example.com/token").build()?;
/// let key = AssertionKey::hs256(b"a shared secret of enough length")?;
/// let grant = JwtBearer::new(endpoint, key, "service@example.com")
///     .subject("alice@example.com")
///     .assertion_lifetime(Duration::from_secs(120));
/// # Ok::<(), token_refresh_runtime::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct JwtBearer {
    endpoint: Endpoint,
    key: AssertionKey,
    issuer: String,
    subject: Option<String>,
    audience: Option<String>,
    assertion_lifetime: Duration,
    params: Params,
}

/// How long a JWT bearer assertion is valid unless configured otherwise:
/// 5 minutes, the longest many providers accept.
pub const DEFAULT_ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

impl JwtBearer {
    /// The grant with assertions issued by `issuer` and signed with `key`.
    /// The subject defaults to the issuer, the audience to the token URL.
    pub fn new(endpoint: Endpoint, key: AssertionKey, issuer: impl Into<String>) -> Self {
        JwtBearer {
            endpoint,
            key,
            issuer: issuer.into(),
            subject: None,
            audience: None,
            assertion_lifetime: DEFAULT_ASSERTION_LIFETIME,
            params: Params::default(),
        }
    }

    /// The `sub` claim: whom the token is for. Default: the issuer.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// The `aud` claim of the assertion. Default: the token URL.
    pub fn assertion_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// How long each assertion is valid. Default
    /// [`DEFAULT_ASSERTION_LIFETIME`], 5 minutes.
    pub fn assertion_lifetime(mut self, lifetime: Duration) -> Self {
        self.assertion_lifetime = lifetime;
        self
    }

    params_methods!();
}

impl Grant for JwtBearer {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn form(&self) -> Result<Form, Error> {
        let subject = self.subject.as_deref().unwrap_or(&self.issuer);
        let audience = self
            .audience
            .as_deref()
            .unwrap_or(self.endpoint.url().as_str());
        let assertion = self
            .key
            .sign(&self.issuer, subject, audience, self.assertion_lifetime)?;
        let mut form = vec![
            ("grant_type".into(), JWT_BEARER_GRANT.into()),
            ("assertion".into(), assertion),
        ];
        self.params.append_to(&mut form);
        Ok(form)
    }
}

fetch_by_form!(JwtBearer);

/// RFC 7523 section 2.1's `grant_type`.
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
