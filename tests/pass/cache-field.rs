//! `cache = field` reads a `TokenCache` field of a type that does not
//! implement `HasTokenCache`, named or numbered, or behind an `Arc`.

mod support;

use std::sync::Arc;

use support::{ApiError, Counting, block_on};
use token_refresh::{TokenCache, refresh_token};

struct Named {
    tokens: TokenCache<Counting>,
}

impl Named {
    #[refresh_token(cache = tokens)]
    async fn get(&self) -> Result<String, ApiError> {
        Ok(self.tokens.authorization()?.to_str().unwrap().to_owned())
    }
}

struct Tuple(u8, TokenCache<Counting>);

#[refresh_token(cache = 1)]
impl Tuple {
    async fn get(&mut self) -> Result<u8, ApiError> {
        self.0 += 1;
        Ok(self.0)
    }
}

struct Shared {
    tokens: Arc<TokenCache<Counting>>,
}

#[refresh_token(cache = tokens)]
impl Shared {
    async fn get(self: Arc<Self>) -> Result<(), ApiError> {
        self.tokens.authorization()?;
        Ok(())
    }
}

fn main() {
    let named = Named {
        tokens: TokenCache::new(Counting::default()),
    };
    let mut tuple = Tuple(0, TokenCache::new(Counting::default()));
    let shared = Arc::new(Shared {
        tokens: Arc::new(TokenCache::new(Counting::default())),
    });
    block_on(async {
        assert_eq!(named.get().await.unwrap(), "Bearer abc");
        assert_eq!(tuple.get().await.unwrap(), 1);
        Arc::clone(&shared).get().await.unwrap();
    });
    assert_eq!(named.tokens.fetcher().calls(), 1);
    assert_eq!(tuple.1.fetcher().calls(), 1);
    assert_eq!(shared.tokens.fetcher().calls(), 1);
}
