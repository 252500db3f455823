//! The expansion under clippy: `cargo clippy --all-targets` checks this
//! file, while trybuild compiles `tests/pass` with rustc alone. Each
//! receiver kind and argument appears once, under strict lints.

#![deny(warnings, unused_qualifications, unused_results, rust_2018_idioms)]
#![deny(clippy::all, clippy::pedantic)]
#![allow(clippy::unused_async)]

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use token_refresh::{Error, FetchToken, HasTokenCache, Token, TokenCache, refresh_token};

struct Static;

impl FetchToken for Static {
    async fn fetch_token(&self, _: Option<&Token>) -> Result<Token, Error> {
        Ok(Token::new("abc", Duration::from_secs(600)))
    }
}

struct Client {
    tokens: TokenCache<Static>,
}

impl HasTokenCache for Client {
    type Fetcher = Static;

    fn token_cache(&self) -> &TokenCache<Static> {
        &self.tokens
    }
}

#[refresh_token]
impl Client {
    async fn by_ref(&self) -> Result<(), Error> {
        Ok(())
    }

    async fn by_mut(&mut self) -> Result<(), Error> {
        Ok(())
    }

    async fn by_value(self) -> Result<Self, Error> {
        Ok(self)
    }

    async fn boxed(self: Box<Self>) -> Result<Box<Self>, Error> {
        Ok(self)
    }

    async fn arc(self: Arc<Self>) -> Result<Arc<Self>, Error> {
        Ok(self)
    }

    async fn arc_ref(self: &Arc<Self>) -> Result<(), Error> {
        Ok(())
    }

    async fn pinned(self: Pin<&mut Self>) -> Result<(), Error> {
        Ok(())
    }

    #[refresh_token(cache = tokens)]
    async fn field(&self) -> Result<(), Error> {
        Ok(())
    }

    #[refresh_token(skip)]
    async fn skipped(&self) -> Result<(), Error> {
        Ok(())
    }
}

#[tokio::test]
async fn every_receiver_runs() -> Result<(), Error> {
    let mut client = Client {
        tokens: TokenCache::new(Static),
    };
    client.by_ref().await?;
    client.by_mut().await?;
    Pin::new(&mut client).pinned().await?;
    client.field().await?;
    client.skipped().await?;
    let client = Box::new(client.by_value().await?).boxed().await?;
    let client = Arc::new(*client);
    client.arc_ref().await?;
    let client = client.arc().await?;
    assert_eq!(client.tokens.authorization()?, "Bearer abc");
    Ok(())
}
