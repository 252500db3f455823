//! Ready [`FetchToken`](crate::FetchToken) implementations for OAuth2 grants.
//!
//! Every fetcher here sends its request through one transport policy (no
//! redirects followed, a request timeout, a cap on the response size,
//! `https` required except on loopback) and reads the answer with one
//! parser, so they all treat a token endpoint's quirks the same way.

mod client_credentials;
mod endpoint;
mod response;

pub use self::client_credentials::{ClientCredentials, ClientCredentialsBuilder};
pub use self::endpoint::{DEFAULT_LIFETIME, DEFAULT_REQUEST_TIMEOUT, MAX_RESPONSE_BYTES};
