//! [`Token`]: an access token with its expiry and what came with it.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::secret::{AccessToken, RefreshToken};

/// An access token, when it expires, and what the server sent with it.
///
/// The expiry is a monotonic deadline ([`tokio::time::Instant`]), so wall
/// clock jumps never make a token look fresh or stale, and tests can drive
/// it with Tokio's paused time.
///
/// ```
/// use std::time::Duration;
/// use token_refresh_runtime::Token;
///
/// let token = Token::new("eyJhbGciOi", Duration::from_secs(3600))
///     .with_refresh_token("tGzv3JOkF0XG5Qx2TlKWIA")
///     .with_scopes(["read", "write"]);
/// assert_eq!(token.lifetime(), Duration::from_secs(3600));
/// assert_eq!(token.scopes(), ["read", "write"]);
/// assert!(!format!("{token:?}").contains("eyJhbGciOi"));
/// ```
#[derive(Clone)]
pub struct Token {
    access_token: AccessToken,
    token_type: String,
    issued_at: Instant,
    expires_at: Instant,
    refresh_token: Option<RefreshToken>,
    scopes: Vec<String>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &self.access_token)
            .field("token_type", &self.token_type)
            .field("lifetime", &self.lifetime())
            .field("expires_in", &self.expires_in())
            .field("refresh_token", &self.refresh_token)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl Token {
    /// The longest lifetime a token is given: 365 days. A longer lifetime,
    /// including one that would overflow the clock, is clamped to this, so
    /// a token the server calls eternal is still refreshed once a year.
    pub const MAX_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

    /// A bearer token issued now that lives for `lifetime`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use token_refresh_runtime::Token;
    ///
    /// let forever = Token::new("t", Duration::MAX);
    /// assert_eq!(forever.lifetime(), Token::MAX_LIFETIME);
    /// ```
    pub fn new(access_token: impl Into<AccessToken>, lifetime: Duration) -> Self {
        Self::new_at(access_token, Instant::now(), lifetime)
    }

    /// A bearer token issued at `issued_at` that lives for `lifetime`.
    ///
    /// Fetchers pass the moment they sent the request, so the time the
    /// answer spent on the wire counts against the token. An `issued_at`
    /// in the future is taken as now.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokio::time::Instant;
    /// use token_refresh_runtime::Token;
    ///
    /// let sent = Instant::now();
    /// let token = Token::new_at("t", sent, Duration::from_secs(60));
    /// assert_eq!(token.expires_at(), sent + Duration::from_secs(60));
    /// ```
    pub fn new_at(
        access_token: impl Into<AccessToken>,
        issued_at: Instant,
        lifetime: Duration,
    ) -> Self {
        // An `issued_at` in the future counts from now, so that no token
        // is ever valid for more than `MAX_LIFETIME` from now.
        let issued_at = issued_at.min(Instant::now());
        let lifetime = lifetime.min(Self::MAX_LIFETIME);
        // Only an `issued_at` within a year of the end of the clock's range
        // could overflow; treating such a token as already expired is safe.
        let expires_at = issued_at.checked_add(lifetime).unwrap_or(issued_at);
        Token {
            access_token: access_token.into(),
            token_type: "Bearer".to_owned(),
            issued_at,
            expires_at,
            refresh_token: None,
            scopes: Vec::new(),
        }
    }

    /// A bearer token issued now that expires at `expires_at`.
    ///
    /// A deadline in the past gives a token that is already expired; one
    /// further away than [`Token::MAX_LIFETIME`] is clamped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokio::time::Instant;
    /// use token_refresh_runtime::Token;
    ///
    /// let deadline = Instant::now() + Duration::from_secs(90);
    /// let token = Token::expiring_at("t", deadline);
    /// assert_eq!(token.expires_at(), deadline);
    /// ```
    pub fn expiring_at(access_token: impl Into<AccessToken>, expires_at: Instant) -> Self {
        let now = Instant::now();
        Self::new_at(access_token, now, expires_at.saturating_duration_since(now))
    }

    /// Sets the refresh token sent with this access token.
    pub fn with_refresh_token(mut self, refresh_token: impl Into<RefreshToken>) -> Self {
        self.refresh_token = Some(refresh_token.into());
        self
    }

    /// Sets the scopes the server granted.
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the token type the server reported (`Bearer` unless set).
    pub fn with_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = token_type.into();
        self
    }

    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The token type the server reported, `Bearer` unless it said otherwise.
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// The refresh token, if the server sent one.
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    /// The scopes the server granted; empty when it did not say.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// When the token was issued (when its request was sent).
    pub fn issued_at(&self) -> Instant {
        self.issued_at
    }

    /// When the token expires.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// How long the token lives from issue to expiry.
    pub fn lifetime(&self) -> Duration {
        self.expires_at.saturating_duration_since(self.issued_at)
    }

    /// How long the token has left from now; zero once it has expired.
    pub fn expires_in(&self) -> Duration {
        self.expires_at.saturating_duration_since(Instant::now())
    }

    /// Whether the token has expired.
    pub fn is_expired(&self) -> bool {
        Instant::now() >= self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_token_is_valid_for_more_than_the_maximum_from_now() {
        let ten_years = Duration::from_secs(10 * 365 * 24 * 60 * 60);
        let token = Token::new_at("t", Instant::now() + ten_years, Duration::from_secs(60));
        assert!(token.expires_in() <= Duration::from_secs(60));
        let token = Token::new("t", Duration::MAX);
        assert!(token.expires_in() <= Token::MAX_LIFETIME);
    }
}
