//! [`Endpoint`]: where token requests go, how the client authenticates,
//! and the transport policy every grant shares.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, LOCATION};
use tokio::time::Instant;

use super::assertion::AssertionKey;
use super::response::{self, ParseContext};
use crate::{ClientSecret, Error, Token};

/// How long one token request may take unless configured otherwise: 30
/// seconds.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The lifetime given to a token whose response has no `expires_in` and
/// whose access token is not a JWT with an `exp`, unless configured
/// otherwise: one hour.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The largest token response read: 1 MiB. Real ones are a few kilobytes;
/// the cap stops a misbehaving endpoint from filling memory.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The form parameters of one token request.
pub(crate) type Form = Vec<(String, String)>;

/// How the client proves its identity to the token endpoint (RFC 6749
/// section 2.3, RFC 7523 section 2.2).
///
/// ```
/// use token_refresh_runtime::oauth2::ClientAuth;
///
/// let basic = ClientAuth::basic("my-client", "s3cret");
/// assert!(!format!("{basic:?}").contains("s3cret"));
/// ```
#[derive(Debug, Clone)]
pub struct ClientAuth(Auth);

#[derive(Debug, Clone)]
enum Auth {
    None,
    Public { id: String },
    Basic { id: String, secret: ClientSecret },
    Post { id: String, secret: ClientSecret },
    Jwt { id: String, key: AssertionKey },
}

impl ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the id and secret, each
    /// form-urlencoded first as RFC 6749 section 2.3.1 requires.
    pub fn basic(id: impl Into<String>, secret: impl Into<ClientSecret>) -> Self {
        ClientAuth(Auth::Basic {
            id: id.into(),
            secret: secret.into(),
        })
    }

    /// `client_secret_post`: `client_id` and `client_secret` in the form
    /// body.
    pub fn post(id: impl Into<String>, secret: impl Into<ClientSecret>) -> Self {
        ClientAuth(Auth::Post {
            id: id.into(),
            secret: secret.into(),
        })
    }

    /// `client_secret_jwt` or `private_key_jwt` (RFC 7523 section 2.2): a
    /// fresh signed assertion with every request. An HS256 key makes it
    /// `client_secret_jwt`, an RS256 key `private_key_jwt`.
    pub fn jwt(id: impl Into<String>, key: AssertionKey) -> Self {
        ClientAuth(Auth::Jwt { id: id.into(), key })
    }

    /// A public client: only `client_id` in the form body.
    pub fn public(id: impl Into<String>) -> Self {
        ClientAuth(Auth::Public { id: id.into() })
    }

    /// No client authentication at all, for grants whose assertion
    /// identifies the client.
    pub fn none() -> Self {
        ClientAuth(Auth::None)
    }

    fn id(&self) -> Option<&str> {
        match &self.0 {
            Auth::None => None,
            Auth::Public { id } | Auth::Basic { id, .. } | Auth::Post { id, .. } => Some(id),
            Auth::Jwt { id, .. } => Some(id),
        }
    }
}

/// A token endpoint and the client that calls it, shared by every grant.
///
/// Every request follows one policy: it is a form `POST`; redirects are
/// never followed, since a token request carries credentials; plain
/// `http` is refused except on loopback unless allowed; the request has a
/// timeout; and at most [`MAX_RESPONSE_BYTES`] of the answer are read.
///
/// ```
/// use token_refresh_runtime::oauth2::Endpoint;
///
/// let endpoint = Endpoint::new("https://auth.example.com/token", "my-client", "s3cret")?;
/// # Ok::<(), token_refresh_runtime::Error>(())
/// ```
#[derive(Clone)]
pub struct Endpoint {
    url: Url,
    http: reqwest::Client,
    auth: ClientAuth,
    timeout: Duration,
    default_lifetime: Duration,
}

/// Leaves out the HTTP client, whose default headers may carry keys.
impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url.as_str())
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("default_lifetime", &self.default_lifetime)
            .finish_non_exhaustive()
    }
}

/// Settings for an [`Endpoint`], from [`Endpoint::builder`].
pub struct EndpointBuilder {
    url: String,
    auth: ClientAuth,
    http: Option<reqwest::Client>,
    timeout: Duration,
    default_lifetime: Duration,
    allow_http: bool,
}

impl Endpoint {
    /// The endpoint at `url` for a client that authenticates with HTTP
    /// Basic, the most widely supported method.
    pub fn new(
        url: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<ClientSecret>,
    ) -> Result<Self, Error> {
        Self::builder(url)
            .client_auth(ClientAuth::basic(client_id, client_secret))
            .build()
    }

    /// A builder for the endpoint at `url`, with no client authentication
    /// until [`client_auth`](EndpointBuilder::client_auth) sets one.
    pub fn builder(url: impl Into<String>) -> EndpointBuilder {
        EndpointBuilder {
            url: url.into(),
            auth: ClientAuth::none(),
            http: None,
            timeout: DEFAULT_REQUEST_TIMEOUT,
            default_lifetime: DEFAULT_LIFETIME,
            allow_http: false,
        }
    }

    /// The token URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The client id, if the client authenticates with one.
    pub fn client_id(&self) -> Option<&str> {
        self.auth.id()
    }
}

impl fmt::Debug for EndpointBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointBuilder")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl EndpointBuilder {
    /// How the client authenticates. Default: [`ClientAuth::none`].
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// The HTTP client to send requests with, used as it is: its proxy,
    /// TLS roots and timeouts all apply. Build it with
    /// `redirect::Policy::none()`: a client that follows redirects sends
    /// the request on before the endpoint sees the redirect, and the
    /// endpoint can only refuse the answer. Default: a client of its own
    /// that follows no redirects and honours the proxy environment
    /// variables.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// How long one token request may take. Default
    /// [`DEFAULT_REQUEST_TIMEOUT`], 30 seconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The lifetime of a token whose response has no `expires_in` and
    /// whose access token is not a JWT with an `exp`. Default
    /// [`DEFAULT_LIFETIME`], one hour.
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_lifetime = lifetime;
        self
    }

    /// Allows a plain `http` token URL on a host that is not loopback.
    /// Default: refused, because credentials would cross the network in
    /// the clear.
    pub fn allow_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Builds the endpoint. Fails with [`Error::InvalidConfig`] for a bad
    /// URL (not absolute, plain `http` off loopback, credentials or a
    /// fragment in it), an empty client id, or a zero timeout or default
    /// lifetime.
    pub fn build(self) -> Result<Endpoint, Error> {
        let url = token_url(&self.url, self.allow_http)?;
        if self.auth.id() == Some("") {
            return Err(invalid_config("the client id is empty"));
        }
        if self.timeout.is_zero() {
            return Err(invalid_config(
                "the request timeout must be longer than zero",
            ));
        }
        if self.default_lifetime.is_zero() {
            return Err(invalid_config(
                "the default lifetime must be longer than zero",
            ));
        }
        let http = match self.http {
            Some(http) => http,
            None => default_client(&url)?,
        };
        Ok(Endpoint {
            url,
            http,
            auth: self.auth,
            timeout: self.timeout,
            default_lifetime: self.default_lifetime,
        })
    }
}

/// A client that never follows redirects and honours the proxy
/// environment variables, except for a loopback token URL: plain `http`
/// is allowed there because nothing crosses a network, which a proxy
/// would undo.
fn default_client(url: &Url) -> Result<reqwest::Client, Error> {
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    let builder = match is_loopback(url) {
        true => builder.no_proxy(),
        false => builder,
    };
    Ok(builder.build()?)
}

fn invalid_config(reason: &'static str) -> Error {
    Error::InvalidConfig { reason }
}

/// Parses a token URL and refuses plain `http` anywhere but loopback,
/// where nothing crosses a network, unless `allow_http` is set.
fn token_url(url: &str, allow_http: bool) -> Result<Url, Error> {
    let url =
        Url::parse(url).map_err(|_| invalid_config("the token URL is not a valid absolute URL"))?;
    // Credentials in the URL would be stripped from the request, and
    // printed wherever the URL is; a fragment is never sent at all.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid_config(
            "the token URL must not carry credentials; use `client_auth`",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid_config("the token URL must not have a `#fragment`"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http || is_loopback(&url) => Ok(url),
        "http" => Err(invalid_config(
            "the token URL uses `http` on a host that is not loopback; \
             use `https` or opt in with `Endpoint::builder(url).allow_http()`",
        )),
        _ => Err(invalid_config(
            "the token URL must use `https` (or `http` on loopback)",
        )),
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    // IPv6 hosts come bracketed: `[::1]`.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Endpoint {
    /// Sends one token request with the grant's `form` and reads the
    /// answer.
    pub(crate) async fn request(&self, form: Form) -> Result<Token, Error> {
        let sent_at = Instant::now();
        let (request, sent_secrets) = self.build(form)?;
        let mut response = request.send().await.map_err(|e| self.transport(e))?;
        self.refuse_redirects(&response)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = self.read_capped(&mut response).await?;
        let cx = ParseContext {
            status,
            content_type: content_type.as_deref(),
            sent_at,
            default_lifetime: self.default_lifetime,
            sent_secrets: &sent_secrets,
        };
        response::parse(&body, cx)
    }

    /// Every value a request with `form` carries that is not known to be
    /// public, in each encoding it travels in, so that none can come back
    /// inside an error. Unknown extra parameters count as secret.
    fn secrets_in(&self, form: &Form) -> Vec<String> {
        const PUBLIC: [&str; 7] = [
            "grant_type",
            "scope",
            "audience",
            "resource",
            "client_id",
            "username",
            "client_assertion_type",
        ];
        let mut secrets: Vec<String> = form
            .iter()
            .filter(|(key, _)| !PUBLIC.contains(&key.as_str()))
            .map(|(_, value)| value.clone())
            .collect();
        if let Auth::Basic { secret, .. } = &self.auth.0 {
            secrets.push(secret.secret().to_owned());
        }
        // As sent in Basic (`%20` for a space) and in a form body (`+`).
        let encoded: Vec<String> = secrets
            .iter()
            .flat_map(|s| {
                let in_form = form_urlencoded::byte_serialize(s.as_bytes()).collect();
                [form_encode(s), in_form]
            })
            .collect();
        secrets.extend(encoded);
        secrets
    }

    /// The `POST` of `form`, with the client's authentication added, and
    /// the secrets it carries.
    fn build(&self, mut form: Form) -> Result<(reqwest::RequestBuilder, Vec<String>), Error> {
        let mut request = self
            .http
            .post(self.url.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .timeout(self.timeout);
        let mut push = |k: &str, v: String| form.push((k.to_owned(), v));
        match &self.auth.0 {
            Auth::None => {}
            Auth::Public { id } => push("client_id", id.clone()),
            Auth::Basic { id, secret } => {
                let secret = form_encode(secret.secret());
                request = request.basic_auth(form_encode(id), Some(secret));
            }
            Auth::Post { id, secret } => {
                push("client_id", id.clone());
                push("client_secret", secret.secret().to_owned());
            }
            Auth::Jwt { id, key } => {
                let assertion = key.client_assertion(id, self.url.as_str())?;
                push("client_id", id.clone());
                push("client_assertion_type", JWT_BEARER_CLIENT.to_owned());
                push("client_assertion", assertion);
            }
        }
        let secrets = self.secrets_in(&form);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish();
        let request = request
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        Ok((request, secrets))
    }

    /// A redirect answer is an error, and so is an answer from elsewhere,
    /// which means a user-supplied client followed one.
    fn refuse_redirects(&self, response: &reqwest::Response) -> Result<(), Error> {
        let status = response.status();
        let redirect = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
        if redirect {
            let target = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|location| self.url.join(location).ok());
            return Err(Error::Redirect {
                status: status.as_u16(),
                host: target.and_then(|t| t.host_str().map(short_host)),
            });
        }
        if response.url() != &self.url {
            return Err(Error::Redirect {
                status: status.as_u16(),
                host: response.url().host_str().map(short_host),
            });
        }
        Ok(())
    }

    fn transport(&self, err: reqwest::Error) -> Error {
        if err.is_timeout() {
            Error::RequestTimeout {
                after: self.timeout,
            }
        } else {
            Error::from(err)
        }
    }

    /// Reads the body chunk by chunk and stops past [`MAX_RESPONSE_BYTES`],
    /// whatever `Content-Length` claims.
    async fn read_capped(&self, response: &mut reqwest::Response) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(e))? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(Error::ResponseTooLarge {
                    limit: MAX_RESPONSE_BYTES,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// A host name as an error shows it: at most 64 characters, enough for
/// any real one.
fn short_host(host: &str) -> String {
    response::clean(host, 64, &[])
}

/// RFC 7523 section 2.2's `client_assertion_type`.
const JWT_BEARER_CLIENT: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The `application/x-www-form-urlencoded` encoding of one value, which
/// RFC 6749 section 2.3.1 applies to the id and secret before Basic. A
/// space becomes `%20` rather than `+`: both decode to a space as a form,
/// but servers that percent-decode Basic credentials (Authlib among
/// them) read only `%20` as one.
fn form_encode(value: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
    // A literal `+` is already `%2B`, so every `+` left is a space.
    encoded.replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        assert!(token_url("http://127.0.0.1:8080/token", false).is_ok());
        assert!(token_url("http://127.8.9.10/token", false).is_ok());
        assert!(token_url("http://[::1]/token", false).is_ok());
        assert!(token_url("http://localhost/token", false).is_ok());
        assert!(token_url("https://auth.example.test/token", false).is_ok());
        let err = token_url("http://auth.example.test/token", false).unwrap_err();
        assert!(err.to_string().contains("allow_http"), "{err}");
        assert!(token_url("http://auth.example.test/token", true).is_ok());
        assert!(token_url("ftp://127.0.0.1/token", true).is_err());
        assert!(token_url("/token", false).is_err());
        assert!(token_url("https://id:pw@auth.test/token", false).is_err());
        assert!(token_url("https://auth.test/token#part", false).is_err());
    }

    #[test]
    fn every_value_but_the_public_ones_counts_as_a_secret() {
        let key = AssertionKey::hs256(b"a shared secret of enough length").unwrap();
        let endpoint = Endpoint::builder("https://auth.test/token")
            .client_auth(ClientAuth::jwt("client-1", key))
            .build()
            .unwrap();
        let form = vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), "rt 1".into()),
            ("subject_token".into(), "st-1".into()),
        ];
        let (_, secrets) = endpoint.build(form).unwrap();
        let assertion = secrets.iter().find(|s| s.starts_with("eyJ"));
        assert!(assertion.is_some(), "{secrets:?}");
        for secret in ["rt 1", "rt%201", "rt+1", "st-1"] {
            assert!(
                secrets.iter().any(|s| s == secret),
                "{secret} in {secrets:?}"
            );
        }
        for public in ["refresh_token", "client-1"] {
            assert!(
                !secrets.iter().any(|s| s == public),
                "{public} in {secrets:?}"
            );
        }
    }

    #[test]
    fn credentials_are_form_encoded_before_basic() {
        assert_eq!(form_encode("my client:1"), "my%20client%3A1");
        assert_eq!(form_encode("p@ss/w+rd"), "p%40ss%2Fw%2Brd");
    }
}
