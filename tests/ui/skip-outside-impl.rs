use token_refresh::refresh_token;

struct Client;

// `skip` only means something inside a block marked `#[refresh_token]`.
impl Client {
    #[refresh_token(skip)]
    async fn health(&self) -> Result<(), token_refresh::Error> {
        Ok(())
    }
}

fn main() {
    let _ = Client.health();
}
