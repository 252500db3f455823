use token_refresh::refresh_token;

struct Client;

#[refresh_token]
impl Client {
    async fn get(&self) -> Result<u8, token_refresh::Error> {
        Ok(1)
    }

    // Covered by the block's attribute, but has no `Result` to fail with.
    async fn ping(&self) {}
}

fn main() {
    let _ = Client.ping();
}
