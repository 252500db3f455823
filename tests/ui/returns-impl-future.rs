use std::future::Future;

use token_refresh::refresh_token;

struct Client;

impl Client {
    #[refresh_token]
    async fn get(&self) -> impl Future<Output = Result<u8, token_refresh::Error>> {
        async { Ok(1) }
    }
}

fn main() {
    let _ = Client.get();
}
