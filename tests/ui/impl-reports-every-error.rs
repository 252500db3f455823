use token_refresh::refresh_token;

struct Client;

// Each mistake in the block is reported in one go.
#[refresh_token(skip)]
impl Client {
    async fn ping(&self) {}

    async fn find(&self) -> Option<u8> {
        None
    }

    #[refresh_token]
    fn sync(&self) -> Result<u8, token_refresh::Error> {
        Ok(1)
    }

    #[refresh_token(retry = 3)]
    async fn get(&self) -> Result<u8, token_refresh::Error> {
        Ok(1)
    }
}

fn main() {
    let _ = (Client.ping(), Client.find(), Client.sync(), Client.get());
}
