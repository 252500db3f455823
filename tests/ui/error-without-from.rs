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

/// Has no `From<token_refresh::Error>`, so a refresh error cannot become one.
#[derive(Debug)]
enum ApiError {
    NotFound,
}

#[refresh_token]
impl Client {
    async fn get(&self, id: u32) -> Result<u32, ApiError> {
        if id == 0 {
            return Err(ApiError::NotFound);
        }
        Ok(id)
    }
}

fn main() {}
