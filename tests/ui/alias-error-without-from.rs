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

mod api {
    /// Has no `From<token_refresh::Error>`.
    #[derive(Debug)]
    pub struct Error;

    pub type Result<T> = std::result::Result<T, Error>;
}

// The alias hides the error type, so the error points at `Result`.
#[refresh_token]
impl Client {
    async fn read(&self) -> api::Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

fn main() {}
