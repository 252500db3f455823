use std::rc::Rc;
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

// The future is `!Send` because of the body's `Rc`, and the error says so,
// as it would without the attribute.
#[refresh_token]
impl Client {
    async fn get(&self) -> Result<usize, Error> {
        let rc = Rc::new(1);
        tokio::task::yield_now().await;
        Ok(*rc)
    }
}

fn assert_send<T: Send>(_: T) {}

fn main() {
    let client = Client {
        tokens: TokenCache::new(Static),
    };
    assert_send(client.get());
}
