use token_refresh::refresh_token;

struct Client;

impl Client {
    #[refresh_token]
    async fn ping(&self) {}
}

fn main() {
    let _ = Client.ping();
}
