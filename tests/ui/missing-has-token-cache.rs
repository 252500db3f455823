use token_refresh::refresh_token;

struct Client;

#[refresh_token]
impl Client {
    async fn get(&self, id: u32) -> Result<u32, token_refresh::Error> {
        Ok(id)
    }
}

fn main() {}
