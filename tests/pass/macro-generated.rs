//! Methods written by a `macro_rules!` macro, whose types arrive wrapped
//! in invisible groups.

mod support;

use support::{ApiError, Client, block_on};
use token_refresh::refresh_token;

macro_rules! getters {
    ($($name:ident -> $ret:ty = $value:expr;)*) => {
        #[refresh_token]
        impl Client {
            $(
                async fn $name(&self) -> $ret {
                    Ok($value)
                }
            )*
        }
    };
}

mod answer {
    pub type Result<T> = std::result::Result<T, crate::support::ApiError>;
}

getters! {
    number -> Result<u8, ApiError> = 1;
    text -> answer::Result<&'static str> = "two";
}

fn main() {
    let client = Client::new();
    block_on(async {
        assert_eq!(client.number().await.unwrap(), 1);
        assert_eq!(client.text().await.unwrap(), "two");
    });
    assert_eq!(client.fetches(), 1);
}
