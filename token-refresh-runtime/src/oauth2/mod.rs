//! OAuth2 fetchers.
