use token_refresh::refresh_token;

struct Client {
    base_url: String,
}

#[refresh_token(cache = base_url)]
impl Client {
    async fn get(&self) -> Result<u8, token_refresh::Error> {
        Ok(1)
    }
}

fn main() {}
