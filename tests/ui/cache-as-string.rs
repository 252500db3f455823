use token_refresh::refresh_token;

struct Client;

impl Client {
    #[refresh_token(cache = "tokens")]
    async fn get(&self) -> Result<u8, token_refresh::Error> {
        Ok(1)
    }
}

fn main() {
    let _ = Client.get();
}
