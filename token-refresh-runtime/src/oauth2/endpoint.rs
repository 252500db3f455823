//! The transport policy every OAuth2 fetcher shares: how a token request is
//! sent and how much of the answer is read.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use tokio::time::Instant;

use super::response::{self, ParseContext};
use crate::{ClientSecret, Error, Token};

/// How long one token request may take unless configured otherwise: 30
/// seconds.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The lifetime given to a token whose response has no `expires_in`,
/// unless configured otherwise: one hour.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The largest token response read: 1 MiB. Real ones are a few kilobytes;
/// the cap stops a misbehaving endpoint from filling memory.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// How the client proves its identity to the token endpoint.
#[derive(Debug, Clone)]
pub(crate) enum ClientAuth {
    /// HTTP Basic with the form-urlencoded id and secret
    /// (`client_secret_basic`, RFC 6749 section 2.3.1).
    Basic { id: String, secret: ClientSecret },
}

/// Where token requests go and how they are sent.
#[derive(Debug, Clone)]
pub(crate) struct TokenEndpoint {
    pub url: Url,
    pub http: reqwest::Client,
    pub auth: ClientAuth,
    pub timeout: Duration,
    pub default_lifetime: Duration,
}

/// Parses a token URL and refuses plain `http` anywhere but loopback, where
/// nothing crosses a network, unless `allow_http` is set.
pub(crate) fn token_url(url: &str, allow_http: bool) -> Result<Url, Error> {
    let url = Url::parse(url).map_err(|_| Error::InvalidConfig {
        reason: "the token URL is not a valid absolute URL",
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http || is_loopback(&url) => Ok(url),
        "http" => Err(Error::InvalidConfig {
            reason: "the token URL uses `http` on a host that is not loopback; \
                     use `https` or opt in with `allow_http()`",
        }),
        _ => Err(Error::InvalidConfig {
            reason: "the token URL must use `https` (or `http` on loopback)",
        }),
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

/// The client every fetcher uses unless given one: redirects are never
/// followed, because a token request carries the client's credentials.
pub(crate) fn default_http_client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(Error::from)
}

impl TokenEndpoint {
    /// Sends one token request with the grant's `params` and reads the
    /// answer.
    pub async fn request(&self, params: &[(&str, &str)]) -> Result<Token, Error> {
        let body = form_body(params);
        let request = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .timeout(self.timeout);
        let request = match &self.auth {
            ClientAuth::Basic { id, secret } => {
                request.basic_auth(form_encode(id), Some(form_encode(secret.secret())))
            }
        };
        let sent_at = Instant::now();
        let mut response = request
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        let body = read_capped(&mut response).await.map_err(|e| match e {
            ReadError::Transport(e) => self.transport(e),
            ReadError::TooLarge => Error::ResponseTooLarge {
                limit: MAX_RESPONSE_BYTES,
            },
        })?;
        let cx = ParseContext {
            status,
            sent_at,
            default_lifetime: self.default_lifetime,
        };
        response::parse(&body, cx)
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
}

enum ReadError {
    Transport(reqwest::Error),
    TooLarge,
}

/// Reads the body chunk by chunk and stops past [`MAX_RESPONSE_BYTES`],
/// whatever `Content-Length` claims.
async fn read_capped(response: &mut reqwest::Response) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn form_body(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// The `application/x-www-form-urlencoded` encoding of one value, which
/// RFC 6749 section 2.3.1 applies to the id and secret before Basic.
fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        assert!(token_url("http://127.0.0.1:8080/token", false).is_ok());
        assert!(token_url("http://[::1]/token", false).is_ok());
        assert!(token_url("http://localhost/token", false).is_ok());
        assert!(token_url("https://auth.example.test/token", false).is_ok());
        let err = token_url("http://auth.example.test/token", false).unwrap_err();
        assert!(err.to_string().contains("allow_http"), "{err}");
        assert!(token_url("http://auth.example.test/token", true).is_ok());
        assert!(token_url("ftp://127.0.0.1/token", true).is_err());
        assert!(token_url("/token", false).is_err());
    }

    #[test]
    fn credentials_are_form_encoded_before_basic() {
        assert_eq!(form_encode("my client:1"), "my+client%3A1");
        assert_eq!(form_encode("p@ss/w+rd"), "p%40ss%2Fw%2Brd");
    }
}
