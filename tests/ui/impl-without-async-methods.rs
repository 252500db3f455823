use token_refresh::refresh_token;

struct Client;

// What an impl looks like to `#[refresh_token]` when `#[async_trait]`
// above it has already turned its async methods into plain ones.
#[refresh_token]
impl Client {
    fn get(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = u8> + Send + '_>> {
        Box::pin(async { 1 })
    }
}

fn main() {}
