//! Works beside `#[tracing::instrument]`, in either order.

mod support;

use support::{ApiError, Client, block_on};
use token_refresh::refresh_token;

impl Client {
    #[refresh_token]
    #[tracing::instrument(skip(self), err(Debug))]
    async fn outer(&self, id: u32) -> Result<u32, ApiError> {
        Ok(id)
    }

    #[tracing::instrument(skip(self), ret)]
    #[refresh_token]
    async fn inner(&mut self, id: u32) -> Result<u32, ApiError> {
        Ok(id + 1)
    }
}

#[refresh_token]
impl Client {
    #[tracing::instrument(level = "debug", skip_all, fields(id))]
    async fn in_block(&self, id: u32) -> Result<u32, ApiError> {
        Ok(id + 2)
    }
}

fn main() {
    let mut client = Client::new();
    block_on(async {
        assert_eq!(client.outer(1).await.unwrap(), 1);
        assert_eq!(client.inner(1).await.unwrap(), 2);
        assert_eq!(client.in_block(1).await.unwrap(), 3);
    });
    assert_eq!(client.fetches(), 1);
}
