//! The example of the attribute's documentation, compiled.

use std::time::Duration;

use token_refresh::{Error, FetchToken, HasTokenCache, Token, TokenCache, refresh_token};

struct Client<F> {
    http: reqwest::Client,
    tokens: TokenCache<F>,
}

impl<F: FetchToken> HasTokenCache for Client<F> {
    type Fetcher = F;

    fn token_cache(&self) -> &TokenCache<F> {
        &self.tokens
    }
}

#[derive(Debug)]
enum ApiError {
    Token(Error),
    Http(reqwest::Error),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError::Token(err)
    }
}

#[refresh_token]
impl<F: FetchToken> Client<F> {
    /// The body finds a fresh token in the cache.
    async fn user(&self, id: u32) -> Result<String, ApiError> {
        let auth = self.tokens.authorization()?;
        let url = format!("https://api.example.com/users/{id}");
        let request = self.http.get(url).header("authorization", auth);
        let response = request.send().await.map_err(ApiError::Http)?;
        response.text().await.map_err(ApiError::Http)
    }

    /// Left as written: this endpoint needs no token.
    #[refresh_token(skip)]
    async fn health(&self) -> Result<(), ApiError> {
        Ok(())
    }

    /// Not async, so left as written.
    fn base_url(&self) -> &str {
        "https://api.example.com"
    }
}

struct Static;

impl FetchToken for Static {
    async fn fetch_token(&self, _: Option<&Token>) -> Result<Token, Error> {
        Ok(Token::new("abc", Duration::from_secs(600)))
    }
}

fn main() {
    let client = Client {
        http: reqwest::Client::new(),
        tokens: TokenCache::new(Static),
    };
    // Nothing is sent: creating the futures does nothing.
    let _user = client.user(1);
    let _health = client.health();
    assert_eq!(client.base_url(), "https://api.example.com");
}
