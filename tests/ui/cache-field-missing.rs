use token_refresh::{FetchToken, TokenCache, refresh_token};

struct Client<F> {
    tokens: TokenCache<F>,
}

impl<F: FetchToken> Client<F> {
    #[refresh_token(cache = token)]
    async fn get(&self) -> Result<u8, token_refresh::Error> {
        let _ = &self.tokens;
        Ok(1)
    }
}

fn main() {}
