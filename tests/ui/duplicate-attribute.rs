use token_refresh::refresh_token;

struct Client;

#[refresh_token]
impl Client {
    #[refresh_token]
    #[refresh_token]
    async fn get(&self) -> Result<u8, token_refresh::Error> {
        Ok(1)
    }
}

fn main() {
    let _ = Client.get();
}
