//! Generic impls, generic methods, `where` clauses and lifetimes, explicit
//! and elided, come through unchanged.

mod support;

use std::borrow::Borrow;
use std::fmt::Display;

use support::{ApiError, Counting, block_on};
use token_refresh::{FetchToken, HasTokenCache, TokenCache, refresh_token};

struct Client<'a, F> {
    tokens: TokenCache<F>,
    prefix: &'a str,
}

impl<F: FetchToken> HasTokenCache for Client<'_, F> {
    type Fetcher = F;

    fn token_cache(&self) -> &TokenCache<F> {
        &self.tokens
    }
}

#[refresh_token]
impl<'a, F> Client<'a, F>
where
    F: FetchToken,
{
    async fn prefix(&self) -> Result<&'a str, ApiError> {
        Ok(self.prefix)
    }

    async fn elided(&self, key: &str) -> Result<&str, ApiError> {
        Ok(if key.is_empty() { self.prefix } else { "keyed" })
    }

    async fn explicit<'k>(&'k self, key: &'k str) -> Result<&'k str, ApiError> {
        Ok(if key.is_empty() { self.prefix } else { key })
    }

    async fn generic<K, V: Clone>(&self, key: K, values: &[V]) -> Result<Vec<V>, ApiError>
    where
        K: Borrow<str> + Send,
        V: Send + Sync,
    {
        Ok(values.iter().take(key.borrow().len()).cloned().collect())
    }

    async fn labelled<const N: usize, T: Display>(&self, items: [T; N]) -> Result<String, ApiError> {
        let joined: Vec<String> = items.iter().map(|item| format!("{}{item}", self.prefix)).collect();
        Ok(joined.join(","))
    }
}

fn main() {
    let client = Client {
        tokens: TokenCache::new(Counting::default()),
        prefix: "p-",
    };
    block_on(async {
        assert_eq!(client.prefix().await.unwrap(), "p-");
        assert_eq!(client.elided("").await.unwrap(), "p-");
        assert_eq!(client.explicit("k").await.unwrap(), "k");
        assert_eq!(client.generic("ab", &[1, 2, 3]).await.unwrap(), [1, 2]);
        assert_eq!(client.labelled([1, 2]).await.unwrap(), "p-1,p-2");
    });
    assert_eq!(client.tokens.fetcher().calls(), 1);
}
