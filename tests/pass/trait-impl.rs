//! On the `impl` of a trait with `async fn` methods, including one the
//! trait declares as returning a `Send` future.

mod support;

use std::future::Future;

use support::{ApiError, Client, assert_send, block_on};
use token_refresh::refresh_token;

trait Users {
    async fn name(&self, id: u32) -> Result<String, ApiError>;

    /// Callers may spawn this one, so its future must be `Send`.
    fn count(&self) -> impl Future<Output = Result<usize, ApiError>> + Send;

    /// Not async: left alone.
    fn kind(&self) -> &'static str;

    const LIMIT: usize;
    type Id;
}

#[refresh_token]
impl Users for Client {
    async fn name(&self, id: u32) -> Result<String, ApiError> {
        self.tokens.authorization()?;
        Ok(format!("user-{id}"))
    }

    async fn count(&self) -> Result<usize, ApiError> {
        Ok(2)
    }

    fn kind(&self) -> &'static str {
        "users"
    }

    const LIMIT: usize = 10;
    type Id = u32;
}

fn main() {
    let client = Client::new();
    assert_eq!(client.kind(), "users");
    assert_eq!(<Client as Users>::LIMIT, 10);
    let id: <Client as Users>::Id = 7;
    block_on(async {
        assert_eq!(client.name(id).await.unwrap(), "user-7");
        assert_eq!(assert_send(client.count()).await.unwrap(), 2);
    });
    assert_eq!(client.fetches(), 1);
}
