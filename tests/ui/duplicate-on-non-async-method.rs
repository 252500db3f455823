use token_refresh::refresh_token;

struct Client;

impl Client {
    // Each mistake is reported once: the second attribute does not run
    // again on the item the first one gives back.
    #[refresh_token]
    #[refresh_token]
    fn get(&self) -> Result<u8, token_refresh::Error> {
        Ok(1)
    }
}

fn main() {
    let _ = Client.get();
}
