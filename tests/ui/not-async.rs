use token_refresh::refresh_token;

struct Client;

impl Client {
    #[refresh_token]
    fn get(&self) -> Result<u8, token_refresh::Error> {
        Ok(1)
    }
}

fn main() {
    // The method is still there: the attribute's error is the only one.
    let _ = Client.get();
}
