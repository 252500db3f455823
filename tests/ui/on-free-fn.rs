use token_refresh::refresh_token;

#[refresh_token]
async fn fetch_user(id: u32) -> Result<u32, token_refresh::Error> {
    Ok(id)
}

fn main() {
    let _ = fetch_user(1);
}
