//! The default HTTP client honours the proxy environment variables. Alone
//! in its own test binary, because the environment is the whole
//! process's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::IntoResponse;
use token_refresh_runtime::FetchToken;
use token_refresh_runtime::oauth2::{ClientAuth, ClientCredentials, Endpoint};

#[test]
fn the_default_client_honours_the_proxy_environment_except_on_loopback() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // A proxy on loopback that answers every request itself, as a token
    // endpoint would, and remembers the target it was asked for.
    let seen = Arc::new(AtomicUsize::new(0));
    let targets = Arc::new(std::sync::Mutex::new(Vec::new()));
    let proxy = runtime.block_on(async {
        let app = Router::new()
            .fallback(proxied)
            .with_state((Arc::clone(&seen), Arc::clone(&targets)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        address
    });
    // SAFETY: no other thread of this process reads the environment now:
    // the runtime's one worker is idle and this binary has no other test.
    unsafe {
        std::env::set_var("HTTP_PROXY", format!("http://{proxy}"));
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
    }
    // `token.invalid` cannot resolve: only the proxy can answer for it.
    let endpoint = Endpoint::builder("http://token.invalid/token")
        .client_auth(ClientAuth::basic("proxied-client", "proxied-secret"))
        .allow_http()
        .build()
        .unwrap();
    let fetcher = ClientCredentials::new(endpoint);
    let token = runtime.block_on(fetcher.fetch_token(None)).unwrap();
    assert_eq!(token.access_token().secret(), "via-proxy");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    let targets = targets.lock().unwrap().clone();
    assert_eq!(targets, ["http://token.invalid/token"]);

    // A loopback token URL is reached directly, never through the proxy:
    // plain `http` is allowed there only because nothing crosses a
    // network.
    let direct = runtime.block_on(async {
        let app = Router::new().fallback(|| async {
            let json = r#"{"access_token":"direct","expires_in":60}"#;
            ([(header::CONTENT_TYPE, "application/json")], json)
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        address
    });
    let endpoint = Endpoint::new(&format!("http://{direct}/token"), "id", "secret").unwrap();
    let token = runtime
        .block_on(ClientCredentials::new(endpoint).fetch_token(None))
        .unwrap();
    assert_eq!(token.access_token().secret(), "direct");
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "the proxy saw a loopback request"
    );
}

type Seen = (Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>);

async fn proxied(State((seen, targets)): State<Seen>, request: Request) -> impl IntoResponse {
    seen.fetch_add(1, Ordering::SeqCst);
    targets.lock().unwrap().push(request.uri().to_string());
    let json = r#"{"access_token":"via-proxy","token_type":"Bearer","expires_in":60}"#;
    ([(header::CONTENT_TYPE, "application/json")], json)
}
