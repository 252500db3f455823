//! `impl Trait` in argument position and inside a `Result` return.

mod support;

use std::fmt::Debug;

use support::{ApiError, Client, block_on};
use token_refresh::refresh_token;

#[refresh_token]
impl Client {
    async fn sum(&self, items: impl IntoIterator<Item = u8>) -> Result<u32, ApiError> {
        Ok(items.into_iter().map(u32::from).sum())
    }

    async fn doubled(
        &self,
        items: impl IntoIterator<Item = u8> + Send,
    ) -> Result<impl Iterator<Item = u8>, ApiError> {
        let items: Vec<u8> = items.into_iter().collect();
        Ok(items.into_iter().map(|item| item * 2))
    }

    async fn shown(&self, value: &(impl Debug + ?Sized)) -> Result<impl Debug, ApiError> {
        if format!("{value:?}").is_empty() {
            return Err(ApiError::NotFound);
        }
        Ok(format!("<{value:?}>"))
    }
}

fn main() {
    let client = Client::new();
    block_on(async {
        assert_eq!(client.sum([1, 2, 3]).await.unwrap(), 6);
        let doubled: Vec<u8> = client.doubled(vec![1, 2]).await.unwrap().collect();
        assert_eq!(doubled, [2, 4]);
        assert_eq!(format!("{:?}", client.shown("x").await.unwrap()), "\"<\\\"x\\\">\"");
    });
    assert_eq!(client.fetches(), 1);
}
