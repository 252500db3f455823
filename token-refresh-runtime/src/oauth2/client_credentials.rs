//! The client credentials grant (RFC 6749 section 4.4): a client that acts
//! on its own behalf trades its id and secret for a token.

use std::time::Duration;

use super::endpoint::{self, ClientAuth, TokenEndpoint};
use crate::{ClientSecret, Error, FetchToken, Token};

/// Fetches tokens with the client credentials grant.
///
/// The client authenticates with HTTP Basic, its id and secret
/// form-urlencoded first as RFC 6749 section 2.3.1 requires.
///
/// ```
/// use token_refresh_runtime::TokenCache;
/// use token_refresh_runtime::oauth2::ClientCredentials;
///
/// let fetcher = ClientCredentials::builder(
///     "https://auth.example.com/oauth/token",
///     "my-client",
///     "my-secret",
/// )
/// .scope("orders:read")
/// .build()?;
/// let tokens = TokenCache::new(fetcher);
/// # Ok::<(), token_refresh_runtime::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    endpoint: TokenEndpoint,
    scope: Option<String>,
}

/// Settings for [`ClientCredentials`], from [`ClientCredentials::builder`].
#[derive(Debug)]
pub struct ClientCredentialsBuilder {
    token_url: String,
    client_id: String,
    client_secret: ClientSecret,
    scope: Option<String>,
    http: Option<reqwest::Client>,
    timeout: Duration,
    default_lifetime: Duration,
    allow_http: bool,
}

impl ClientCredentials {
    /// Starts a fetcher for the token endpoint at `token_url`.
    pub fn builder(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<ClientSecret>,
    ) -> ClientCredentialsBuilder {
        ClientCredentialsBuilder {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scope: None,
            http: None,
            timeout: endpoint::DEFAULT_REQUEST_TIMEOUT,
            default_lifetime: endpoint::DEFAULT_LIFETIME,
            allow_http: false,
        }
    }
}

impl ClientCredentialsBuilder {
    /// The space-separated scopes to ask for. Default: none, so the server
    /// grants its default scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The HTTP client to send requests with. Default: a client of its own
    /// that never follows redirects. A client given here is used as it is,
    /// so build it with `redirect::Policy::none()` too.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// How long one token request may take. Default
    /// [`DEFAULT_REQUEST_TIMEOUT`](super::DEFAULT_REQUEST_TIMEOUT), 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The lifetime of a token whose response has no `expires_in`. Default
    /// [`DEFAULT_LIFETIME`](super::DEFAULT_LIFETIME), one hour.
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_lifetime = lifetime;
        self
    }

    /// Allows a plain `http` token URL on a host that is not loopback.
    /// Default: refused, because the secret would cross the network in the
    /// clear.
    pub fn allow_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Builds the fetcher. Fails with [`Error::InvalidConfig`] for a bad
    /// URL, an empty client id or a zero timeout.
    pub fn build(self) -> Result<ClientCredentials, Error> {
        let url = endpoint::token_url(&self.token_url, self.allow_http)?;
        if self.client_id.is_empty() {
            return Err(Error::InvalidConfig {
                reason: "the client id is empty",
            });
        }
        if self.timeout.is_zero() {
            return Err(Error::InvalidConfig {
                reason: "the request timeout must be longer than zero",
            });
        }
        let http = match self.http {
            Some(http) => http,
            None => endpoint::default_http_client()?,
        };
        let auth = ClientAuth::Basic {
            id: self.client_id,
            secret: self.client_secret,
        };
        Ok(ClientCredentials {
            endpoint: TokenEndpoint {
                url,
                http,
                auth,
                timeout: self.timeout,
                default_lifetime: self.default_lifetime,
            },
            scope: self.scope,
        })
    }
}

impl FetchToken for ClientCredentials {
    async fn fetch_token(&self, _previous: Option<&Token>) -> Result<Token, Error> {
        let mut params = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &self.scope {
            params.push(("scope", scope));
        }
        self.endpoint.request(&params).await
    }
}
