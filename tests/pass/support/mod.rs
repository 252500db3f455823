//! The fetcher, client and error type the pass cases share.

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use token_refresh::{Error, FetchToken, HasTokenCache, Token, TokenCache};

/// Hands out `abc`, counting its calls.
#[derive(Clone, Default)]
pub struct Counting {
    pub calls: Arc<AtomicUsize>,
}

impl Counting {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl FetchToken for Counting {
    async fn fetch_token(&self, _: Option<&Token>) -> Result<Token, Error> {
        let _previous = self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(Token::new("abc", Duration::from_secs(600)))
    }
}

pub struct Client {
    pub tokens: TokenCache<Counting>,
}

impl Client {
    pub fn new() -> Self {
        Client {
            tokens: TokenCache::new(Counting::default()),
        }
    }

    pub fn fetches(&self) -> usize {
        self.tokens.fetcher().calls()
    }
}

impl HasTokenCache for Client {
    type Fetcher = Counting;

    fn token_cache(&self) -> &TokenCache<Counting> {
        &self.tokens
    }
}

#[derive(Debug)]
pub enum ApiError {
    Token(Error),
    NotFound,
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError::Token(err)
    }
}

/// Runs `future` to completion on a fresh current-thread runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// Fails to compile unless `T` is `Send`.
pub fn assert_send<T: Send>(value: T) -> T {
    value
}
