//! Signed JWT assertions (RFC 7523): for the JWT bearer grant and for
//! client authentication with `client_secret_jwt` or `private_key_jwt`.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::Error;

/// How long a client authentication assertion is valid: 60 seconds. A new
/// one is signed for every request, so it only has to outlive the request.
pub const CLIENT_ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// A key that signs assertions: HS256 with a shared secret, or RS256 with
/// an RSA private key.
///
/// ```
/// use token_refresh_runtime::oauth2::AssertionKey;
///
/// let key = AssertionKey::hs256(b"a shared secret of enough length")?.with_key_id("k1");
/// assert_eq!(format!("{key:?}"), "AssertionKey(HS256, <redacted>)");
/// # Ok::<(), token_refresh_runtime::Error>(())
/// ```
#[derive(Clone)]
pub struct AssertionKey {
    algorithm: Algorithm,
    key: Arc<EncodingKey>,
    key_id: Option<String>,
}

impl fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AssertionKey({:?}, <redacted>)", self.algorithm)
    }
}

/// The claims of one assertion. `iat`, `exp` and `jti` are filled in at
/// signing time.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

impl AssertionKey {
    /// An HS256 key from a shared secret (`client_secret_jwt` uses the
    /// client secret). Fails with [`Error::InvalidConfig`] when the secret
    /// is empty.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, Error> {
        let invalid = || Error::InvalidConfig {
            reason: "the HS256 secret is empty or unusable",
        };
        if secret.as_ref().is_empty() {
            return Err(invalid());
        }
        let key = EncodingKey::from_secret(secret.as_ref()).map_err(|_| invalid())?;
        Ok(AssertionKey {
            algorithm: Algorithm::HS256,
            key: Arc::new(key),
            key_id: None,
        })
    }

    /// An RS256 key from a PEM-encoded RSA private key. Fails with
    /// [`Error::InvalidConfig`] when the PEM is not one.
    pub fn rs256_pem(pem: impl AsRef<[u8]>) -> Result<Self, Error> {
        let key = EncodingKey::from_rsa_pem(pem.as_ref()).map_err(|_| Error::InvalidConfig {
            reason: "the RS256 key is not a PEM-encoded RSA private key",
        })?;
        Ok(AssertionKey {
            algorithm: Algorithm::RS256,
            key: Arc::new(key),
            key_id: None,
        })
    }

    /// Sets the `kid` header, which tells the server which key to check.
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// A client authentication assertion (RFC 7523 section 3): the client
    /// is both issuer and subject, the token endpoint the audience.
    pub(crate) fn client_assertion(
        &self,
        client_id: &str,
        audience: &str,
    ) -> Result<String, Error> {
        self.sign(client_id, client_id, audience, CLIENT_ASSERTION_LIFETIME)
    }

    /// Signs a new assertion, valid from now for `lifetime`, with a unique
    /// `jti` so that no two are alike.
    pub(crate) fn sign(
        &self,
        iss: &str,
        sub: &str,
        aud: &str,
        lifetime: Duration,
    ) -> Result<String, Error> {
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = Claims {
            iss,
            sub,
            aud,
            iat,
            exp: iat.saturating_add(lifetime.as_secs().max(1)),
            jti: unique_id(),
        };
        let mut header = Header::new(self.algorithm);
        header.kid = self.key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| Error::Signing(Arc::new(e)))
    }
}

/// 32 hex digits that differ for every call: two SipHash outputs under
/// fresh `RandomState` keys, which std seeds from the operating system
/// once per thread and then advances. Unique, which is all a `jti` needs;
/// not a source of secrets.
fn unique_id() -> String {
    let high = RandomState::new().hash_one(1u8);
    let low = RandomState::new().hash_one(2u8);
    format!("{high:016x}{low:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_assertion_is_new() {
        let key = AssertionKey::hs256(b"a shared secret of enough length").unwrap();
        let a = key
            .client_assertion("c", "https://auth.test/token")
            .unwrap();
        let b = key
            .client_assertion("c", "https://auth.test/token")
            .unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn an_empty_secret_is_a_typed_error() {
        let err = AssertionKey::hs256(b"").unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    }

    #[test]
    fn a_bad_pem_is_a_typed_error() {
        let err = AssertionKey::rs256_pem("not a key").unwrap_err();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    }
}
