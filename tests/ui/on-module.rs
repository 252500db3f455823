use token_refresh::refresh_token;

#[refresh_token]
mod api {
    pub fn base_url() -> &'static str {
        "https://api.example.com"
    }
}

fn main() {
    let _ = api::base_url();
}
