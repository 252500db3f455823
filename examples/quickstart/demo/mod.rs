//! The demo's two servers, both on 127.0.0.1 with OS-chosen ports: an
//! OAuth2 token endpoint ([`auth`]) and a JSON API that checks its JWTs
//! ([`api`]). They share only the signing key and the counters.

mod api;
mod auth;

use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::BoxError;

/// The one client the token endpoint knows.
pub const CLIENT_ID: &str = "quickstart-client";

/// Its secret. The space and `:/+&=` must be form-urlencoded before Basic
/// (RFC 6749 section 2.3.1), so a client that skips that step is refused.
pub const CLIENT_SECRET: &str = "demo secret:/+&=";

/// The `iss` and `aud` of every token, checked by the API.
const ISSUER: &str = "quickstart-token-endpoint";
const AUDIENCE: &str = "quickstart-api";

/// The claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    iat: u64,
    exp: u64,
    /// The token's number, as the token endpoint prints it.
    jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// What the servers count, shared between them.
#[derive(Debug, Default)]
struct Stats {
    tokens_issued: AtomicUsize,
    unauthorized: AtomicUsize,
}

/// What the servers counted over the run.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub tokens_issued: usize,
    pub unauthorized: usize,
}

/// The running demo servers.
pub struct Demo {
    pub token_url: String,
    pub api_url: String,
    stats: Arc<Stats>,
    servers: [Server; 2],
}

impl Demo {
    /// Starts both servers; tokens live `lifetime_secs`.
    pub async fn start(lifetime_secs: u64) -> Result<Demo, BoxError> {
        let key = signing_key();
        let stats = Arc::new(Stats::default());
        let auth = auth::router(&key, lifetime_secs, Arc::clone(&stats))?;
        let api = api::router(&key, Arc::clone(&stats))?;
        let auth = Server::start(auth).await?;
        let api = Server::start(api).await?;
        Ok(Demo {
            token_url: format!("http://{}/oauth/token", auth.addr),
            api_url: format!("http://{}", api.addr),
            stats,
            servers: [auth, api],
        })
    }

    /// Stops both servers and returns what they counted.
    pub async fn stop(self) -> Counts {
        for server in self.servers {
            server.stop().await;
        }
        Counts {
            tokens_issued: self.stats.tokens_issued.load(Ordering::Relaxed),
            unauthorized: self.stats.unauthorized.load(Ordering::Relaxed),
        }
    }
}

/// A new HS256 key for each run, so no token outlives the demo. std's
/// `RandomState` is seeded from the OS: fine for a demo, but a real
/// server would use a proper random source and keep its key.
fn signing_key() -> Vec<u8> {
    (0..4)
        .flat_map(|i: u64| RandomState::new().hash_one(i).to_le_bytes())
        .collect()
}

/// One axum server on 127.0.0.1.
struct Server {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    /// Binds port 0, so the OS picks a free port, and serves `router`.
    async fn start(router: Router) -> io::Result<Server> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let serve = axum::serve(listener, router).with_graceful_shutdown(async {
            // A dropped sender stops the server too.
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move { serve.await });
        Ok(Server {
            addr,
            shutdown,
            task,
        })
    }

    /// Stops accepting, lets requests in flight finish, and gives up
    /// after a second so the example always exits.
    async fn stop(self) {
        let _ = self.shutdown.send(());
        let outcome = tokio::time::timeout(Duration::from_secs(1), self.task).await;
        if let Ok(Ok(Err(err))) = outcome {
            say!("demo", "server on {} failed: {err}", self.addr);
        }
    }
}
