//! Ready [`FetchToken`](crate::FetchToken) implementations for the OAuth2
//! grants.
//!
//! Every grant sends its request through an [`Endpoint`], so all of them
//! share one transport policy (no redirects followed, a request timeout,
//! a cap on the response size, `https` required except on loopback) and
//! one lenient parser for what token endpoints send back.

mod assertion;
mod endpoint;
mod grants;
mod params;
mod refresh_token;
mod response;

pub use self::assertion::{AssertionKey, CLIENT_ASSERTION_LIFETIME};
pub use self::endpoint::{
    ClientAuth, DEFAULT_LIFETIME, DEFAULT_REQUEST_TIMEOUT, Endpoint, EndpointBuilder,
    MAX_RESPONSE_BYTES,
};
pub use self::grants::{ClientCredentials, DEFAULT_ASSERTION_LIFETIME, Grant, JwtBearer, Password};
pub use self::refresh_token::RefreshTokenGrant;
