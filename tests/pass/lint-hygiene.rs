//! The expansion raises no lint in a crate that denies the strict ones,
//! and its locals cannot clash with the caller's names.

#![deny(warnings, unused, unused_qualifications, unused_results)]
#![deny(non_snake_case, rust_2018_idioms, clippy::all)]
#![forbid(unsafe_code)]

mod support;

use support::{ApiError, Client, block_on};
use token_refresh::refresh_token;

#[refresh_token]
impl Client {
    /// Uses the names the expansion uses for its own locals.
    async fn same_names(&self, __token_refresh_cache: u8) -> Result<u8, ApiError> {
        let __token_refresh_err = __token_refresh_cache + 1;
        Ok(__token_refresh_err)
    }

    async fn by_mut(&mut self) -> Result<(), ApiError> {
        Ok(())
    }

    async fn early_return(&self, fail: bool) -> Result<(), ApiError> {
        if fail {
            return Err(ApiError::NotFound);
        }
        Ok(())
    }
}

fn main() {
    let mut client = Client::new();
    block_on(async {
        assert_eq!(client.same_names(1).await.unwrap(), 2);
        client.by_mut().await.unwrap();
        assert!(client.early_return(true).await.is_err());
    });
}
