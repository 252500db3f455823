use token_refresh::refresh_token;

struct Client;

impl Client {
    #[refresh_token]
    async fn connect(url: &str) -> Result<Client, token_refresh::Error> {
        let _ = url;
        Ok(Client)
    }
}

fn main() {
    let _ = Client::connect("https://api.example.com");
}
