use token_refresh::refresh_token;

struct Client;

#[refresh_token]
impl Client {
    #[refresh_token(skip = true)]
    async fn health(&self) -> Result<(), token_refresh::Error> {
        Ok(())
    }
}

fn main() {
    let _ = Client.health();
}
