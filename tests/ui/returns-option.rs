use token_refresh::refresh_token;

struct Client;

impl Client {
    #[refresh_token]
    async fn find(&self, id: u32) -> Option<u32> {
        Some(id)
    }
}

fn main() {
    let _ = Client.find(1);
}
