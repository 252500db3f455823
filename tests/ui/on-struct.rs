use token_refresh::refresh_token;

#[refresh_token]
pub struct Client {
    base_url: String,
}

fn main() {
    // The struct is still there: the attribute's error is the only one.
    let client = Client {
        base_url: String::new(),
    };
    let _ = client.base_url;
}
