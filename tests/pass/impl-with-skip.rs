//! An annotated `impl` block covers only its async methods with a
//! receiver; `skip` opts one out, and other items are left alone.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use support::{ApiError, Client, block_on};
use token_refresh::refresh_token;

static CONSTRUCTED: AtomicUsize = AtomicUsize::new(0);

#[refresh_token]
impl Client {
    const NAME: &'static str = "client";

    /// No receiver: left alone, so it may even return a non-`Result`.
    async fn build() -> Self {
        CONSTRUCTED.fetch_add(1, Ordering::SeqCst);
        Client::new()
    }

    /// Not async: left alone.
    fn label(&self) -> String {
        format!("{}:{}", Self::NAME, self.fetches())
    }

    /// Opted out, so it may return anything.
    #[refresh_token(skip)]
    async fn health(&self) -> bool {
        true
    }

    /// Opted out under its full path.
    #[token_refresh::refresh_token(skip)]
    async fn version(&self) -> Result<u32, ApiError> {
        Ok(3)
    }

    async fn covered(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

fn main() {
    block_on(async {
        let client = Client::build().await;
        assert!(client.health().await);
        assert_eq!(client.version().await.unwrap(), 3);
        assert_eq!(client.label(), "client:0");
        client.covered().await.unwrap();
        assert_eq!(client.label(), "client:1");
    });
    assert_eq!(CONSTRUCTED.load(Ordering::SeqCst), 1);
}
