//! Newtypes for credentials. Each keeps its value out of `Debug` output and
//! has no `Display`, so a secret cannot reach a log line or an error message
//! by accident; reading it takes an explicit call to `secret()`.

use std::fmt;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself. Call this only where the value is sent
            /// over the wire.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

secret_type! {
    /// An OAuth2 access token, the value sent as `Authorization: Bearer`.
    ///
    /// ```
    /// use token_refresh_runtime::AccessToken;
    ///
    /// let token = AccessToken::new("eyJhbGciOi");
    /// assert_eq!(format!("{token:?}"), "AccessToken(<redacted>)");
    /// assert_eq!(token.secret(), "eyJhbGciOi");
    /// ```
    AccessToken
}

secret_type! {
    /// An OAuth2 refresh token (RFC 6749 section 1.5).
    ///
    /// ```
    /// use token_refresh_runtime::RefreshToken;
    ///
    /// let token = RefreshToken::new("tGzv3JOkF0XG5Qx2TlKWIA");
    /// assert_eq!(format!("{token:?}"), "RefreshToken(<redacted>)");
    /// ```
    RefreshToken
}

secret_type! {
    /// An OAuth2 client secret (RFC 6749 section 2.3.1).
    ///
    /// ```
    /// use token_refresh_runtime::ClientSecret;
    ///
    /// let secret = ClientSecret::new("s3cr3t");
    /// assert_eq!(format!("{secret:?}"), "ClientSecret(<redacted>)");
    /// ```
    ClientSecret
}

secret_type! {
    /// A resource owner's password, for the password grant.
    ///
    /// ```
    /// use token_refresh_runtime::UserPassword;
    ///
    /// let password = UserPassword::new("correct horse");
    /// assert_eq!(format!("{password:?}"), "UserPassword(<redacted>)");
    /// ```
    UserPassword
}
