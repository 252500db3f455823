use token_refresh::refresh_token;

#[refresh_token]
trait Users {
    async fn name(&self, id: u32) -> Result<String, token_refresh::Error>;
}

struct Client;

impl Users for Client {
    async fn name(&self, id: u32) -> Result<String, token_refresh::Error> {
        Ok(id.to_string())
    }
}

fn main() {
    let _ = Client.name(1);
}
