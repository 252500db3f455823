//! The return type check is by name: `io::Result`-style aliases, a full
//! path and a shadowed `Result` all pass.

mod support;

use support::{Client, block_on};
use token_refresh::refresh_token;

mod api {
    pub use crate::support::ApiError as Error;

    /// Like `std::io::Result`: the error type is hidden in the alias.
    pub type Result<T> = std::result::Result<T, Error>;
}

/// The caller's own `Result`, shadowing the prelude one.
type Result<T, E = api::Error> = std::result::Result<T, E>;

#[refresh_token]
impl Client {
    async fn alias(&self) -> api::Result<u8> {
        Ok(1)
    }

    async fn full_path(&self) -> std::result::Result<u8, api::Error> {
        Ok(2)
    }

    async fn shadowed(&self) -> Result<u8> {
        Ok(3)
    }

    async fn anyhow_style(&self) -> core::result::Result<u8, Box<dyn std::error::Error + Send + Sync>> {
        Ok(4)
    }
}

fn main() {
    let client = Client::new();
    block_on(async {
        assert_eq!(client.alias().await.unwrap(), 1);
        assert_eq!(client.full_path().await.unwrap(), 2);
        assert_eq!(client.shadowed().await.unwrap(), 3);
        assert_eq!(client.anyhow_style().await.unwrap(), 4);
    });
}
