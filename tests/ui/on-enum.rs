use token_refresh::refresh_token;

#[refresh_token]
enum Region {
    Eu,
    Us,
}

fn main() {
    let _ = [Region::Eu, Region::Us];
}
