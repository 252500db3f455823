use token_refresh::{FetchToken, TokenCache, refresh_token};

struct Client<F> {
    user: TokenCache<F>,
    admin: TokenCache<F>,
}

impl<F: FetchToken> Client<F> {
    #[refresh_token(cache = user, cache = admin)]
    async fn get(&self) -> Result<u8, token_refresh::Error> {
        let _ = (&self.user, &self.admin);
        Ok(1)
    }
}

fn main() {}
