//! On a default method of a trait whose supertrait is `HasTokenCache`.

mod support;

use support::{ApiError, Client, block_on};
use token_refresh::{HasTokenCache, refresh_token};

trait Api: HasTokenCache {
    #[refresh_token]
    async fn authorized(&self) -> Result<bool, ApiError> {
        Ok(self.token_cache().authorization().is_ok())
    }
}

impl Api for Client {}

fn main() {
    let client = Client::new();
    assert!(block_on(client.authorized()).unwrap());
    assert_eq!(client.fetches(), 1);
}
