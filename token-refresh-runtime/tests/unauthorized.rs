//! `send_authorized`: one replay with a new token after a 401, never more.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use token_refresh_runtime::{Error, FetchToken, Token, TokenCache};
use tokio::net::TcpListener;

/// Issues `token-1`, `token-2`, ... and counts them.
#[derive(Default)]
struct Numbered(AtomicUsize);

impl FetchToken for Numbered {
    async fn fetch_token(&self, _: Option<&Token>) -> Result<Token, Error> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Token::new(format!("token-{n}"), Duration::from_secs(3600)))
    }
}

/// An API that refuses every token in `refused` and counts requests.
async fn api(refused: &'static [&'static str]) -> (String, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let handler = move |State(requests): State<Arc<AtomicUsize>>, headers: HeaderMap| async move {
        requests.fetch_add(1, Ordering::SeqCst);
        let auth = headers
            .get(header::AUTHORIZATION)
            .unwrap()
            .to_str()
            .unwrap();
        let token = auth.strip_prefix("Bearer ").unwrap();
        if refused.contains(&token) {
            (StatusCode::UNAUTHORIZED, String::new())
        } else {
            (StatusCode::OK, token.to_owned())
        }
    };
    let app = Router::new()
        .route("/me", get(handler))
        .with_state(Arc::clone(&requests));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/me", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, requests)
}

async fn get_me(cache: &TokenCache<Numbered>, url: &str) -> Result<reqwest::Response, Error> {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    cache
        .send_authorized(|authorization| http.get(url).header(header::AUTHORIZATION, authorization))
        .await
}

#[tokio::test]
async fn a_401_is_replayed_once_with_a_new_token() {
    let (url, requests) = api(&["token-1"]).await;
    let cache = TokenCache::new(Numbered::default());
    let response = get_me(&cache, &url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "token-2");
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert_eq!(cache.stats().invalidations, 1);
}

#[tokio::test]
async fn a_second_401_is_returned_rather_than_retried() {
    let (url, requests) = api(&["token-1", "token-2", "token-3"]).await;
    let cache = TokenCache::new(Numbered::default());
    let response = get_me(&cache, &url).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert_eq!(cache.fetcher().0.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_request_that_cannot_be_sent_is_a_request_error() {
    // A port with no listener: bind one, then drop it.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cache = TokenCache::new(Numbered::default());
    let err = get_me(&cache, &format!("http://127.0.0.1:{port}/me"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Request(_)), "{err:?}");
    assert_eq!(err.to_string(), "the API request failed");
}
