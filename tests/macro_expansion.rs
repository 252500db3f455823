//! What methods under `#[refresh_token]` do at run time: when the refresh
//! runs, how its failure reaches the caller, and which futures are `Send`.

use std::cell::Cell;
use std::marker::PhantomData;
use std::mem::size_of_val;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::header::HeaderValue;
use token_refresh::{Error, FetchToken, HasTokenCache, Token, TokenCache, refresh_token};

/// Counts its calls and hands out `token-1`, `token-2`, ..., or fails
/// while `failing` is set.
#[derive(Clone, Default)]
struct FakeFetcher {
    calls: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
}

impl FakeFetcher {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl FetchToken for FakeFetcher {
    async fn fetch_token(&self, _: Option<&Token>) -> Result<Token, Error> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::fetcher("directory service unavailable"));
        }
        Ok(Token::new(
            format!("token-{call}"),
            Duration::from_secs(600),
        ))
    }
}

#[derive(Debug)]
enum ApiError {
    Token(Error),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError::Token(err)
    }
}

fn cache() -> TokenCache<FakeFetcher> {
    TokenCache::new(FakeFetcher::default())
}

struct Client {
    tokens: TokenCache<FakeFetcher>,
    body_ran: AtomicBool,
}

impl HasTokenCache for Client {
    type Fetcher = FakeFetcher;

    fn token_cache(&self) -> &TokenCache<FakeFetcher> {
        &self.tokens
    }
}

impl Client {
    fn new() -> Self {
        Client {
            tokens: cache(),
            body_ran: AtomicBool::new(false),
        }
    }

    fn fetches(&self) -> usize {
        self.tokens.fetcher().calls()
    }
}

#[refresh_token]
impl Client {
    /// The body reads the token the refresh put in the cache.
    async fn authorization(&self) -> Result<HeaderValue, ApiError> {
        self.body_ran.store(true, Ordering::SeqCst);
        Ok(self.tokens.authorization()?)
    }

    #[refresh_token(skip)]
    async fn skipped(&self) -> Result<Option<Token>, ApiError> {
        Ok(self.tokens.token())
    }

    async fn arc(self: Arc<Self>) -> Result<HeaderValue, ApiError> {
        Ok(self.tokens.authorization()?)
    }

    /// Holds an `Rc` across an await: never `Send`.
    async fn holds_rc(&self) -> Result<usize, ApiError> {
        let rc = Rc::new(1);
        tokio::task::yield_now().await;
        Ok(*rc)
    }

    /// Twin of `holds_rc`, left unannotated.
    #[refresh_token(skip)]
    async fn holds_rc_unannotated(&self) -> Result<usize, ApiError> {
        let rc = Rc::new(1);
        tokio::task::yield_now().await;
        Ok(*rc)
    }

    /// Holds a large buffer across an await, so the future has a size
    /// worth comparing.
    async fn sized(&self, n: usize) -> Result<usize, ApiError> {
        let buffer = [7u8; 256];
        tokio::task::yield_now().await;
        Ok(buffer.iter().take(n).map(|&b| usize::from(b)).sum())
    }

    /// Twin of `sized`, left unannotated.
    #[refresh_token(skip)]
    async fn sized_unannotated(&self, n: usize) -> Result<usize, ApiError> {
        let buffer = [7u8; 256];
        tokio::task::yield_now().await;
        Ok(buffer.iter().take(n).map(|&b| usize::from(b)).sum())
    }
}

/// `Send` but not `Sync`: a `&Self` held across an await would make the
/// future `!Send`, a `&mut Self` does not.
struct CellClient {
    tokens: TokenCache<FakeFetcher>,
    hits: Cell<u32>,
}

impl CellClient {
    #[refresh_token(cache = tokens)]
    async fn hit(&mut self) -> Result<u32, ApiError> {
        self.hits.set(self.hits.get() + 1);
        tokio::task::yield_now().await;
        Ok(self.hits.get())
    }

    #[refresh_token(cache = tokens)]
    async fn peek(&self) -> Result<u32, ApiError> {
        Ok(self.hits.get())
    }

    async fn peek_unannotated(&self) -> Result<u32, ApiError> {
        Ok(self.hits.get())
    }
}

/// Two caches: a method picks one with `cache = field`.
struct TwoCaches {
    user: TokenCache<FakeFetcher>,
    admin: TokenCache<FakeFetcher>,
}

#[refresh_token(cache = user)]
impl TwoCaches {
    async fn as_user(&self) -> Result<HeaderValue, ApiError> {
        Ok(self.user.authorization()?)
    }

    #[refresh_token(cache = admin)]
    async fn as_admin(&self) -> Result<HeaderValue, ApiError> {
        Ok(self.admin.authorization()?)
    }
}

/// Fails to compile unless `T` is `Send`.
fn assert_send<T: Send>(_: &T) {}

/// `is_send!(value)`: whether the type of `value` is `Send`, decided at
/// compile time where the type is concrete, so a `!Send` future can be
/// checked without failing the build.
///
/// Method lookup tries `SendProbe::is_send` first, since it needs no
/// autoref, but only when its `T: Send` bound holds; otherwise it takes
/// `AnyProbe::is_send` on the autoref'd probe.
macro_rules! is_send {
    ($value:expr) => {
        (&Probe::of(&$value)).is_send()
    };
}

/// Same trick for `Sync`.
macro_rules! is_sync {
    ($value:expr) => {
        (&Probe::of(&$value)).is_sync()
    };
}

struct Probe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> Probe<T> {
    fn of(_: &T) -> Self {
        Probe(PhantomData)
    }
}

trait SendProbe {
    fn is_send(&self) -> bool {
        true
    }
}

impl<T: ?Sized + Send> SendProbe for Probe<T> {}

trait SyncProbe {
    fn is_sync(&self) -> bool {
        true
    }
}

impl<T: ?Sized + Sync> SyncProbe for Probe<T> {}

trait AnyProbe {
    fn is_send(&self) -> bool {
        false
    }

    fn is_sync(&self) -> bool {
        false
    }
}

impl<T: ?Sized> AnyProbe for &Probe<T> {}

#[test]
fn probe_tells_send_from_not_send() {
    assert!(is_send!(1u8));
    assert!(!is_send!(Rc::new(1u8)));
    assert!(is_sync!(1u8));
    assert!(!is_sync!(Cell::new(1u8)));
}

#[tokio::test]
async fn refreshes_before_the_body() {
    let client = Client::new();
    let authorization = client.authorization().await.unwrap();
    assert_eq!(authorization, "Bearer token-1");
    assert_eq!(client.fetches(), 1);

    // A fresh token is reused, not fetched again.
    client.authorization().await.unwrap();
    assert_eq!(client.fetches(), 1);
}

#[tokio::test]
async fn creating_the_future_does_not_fetch() {
    let client = Client::new();
    drop(client.authorization());
    let future = client.authorization();
    tokio::task::yield_now().await;
    assert_eq!(client.fetches(), 0);
    assert!(!client.body_ran.load(Ordering::SeqCst));

    future.await.unwrap();
    assert_eq!(client.fetches(), 1);
    assert!(client.body_ran.load(Ordering::SeqCst));
}

#[tokio::test]
async fn refresh_error_reaches_the_caller_as_the_method_error() {
    let client = Client::new();
    client
        .tokens
        .fetcher()
        .failing
        .store(true, Ordering::SeqCst);
    let err = client.authorization().await.unwrap_err();
    assert!(matches!(err, ApiError::Token(Error::Fetcher(_))), "{err:?}");
    assert!(!client.body_ran.load(Ordering::SeqCst));

    // Until the cache's backoff ends, later calls get the same error at
    // once, still as the method's own error type.
    let err = client.authorization().await.unwrap_err();
    assert!(matches!(err, ApiError::Token(Error::Fetcher(_))), "{err:?}");
    assert_eq!(client.fetches(), 1);
}

#[tokio::test]
async fn skip_skips() {
    let client = Client::new();
    assert!(client.skipped().await.unwrap().is_none());
    assert_eq!(client.fetches(), 0);
}

#[tokio::test]
async fn method_cache_overrides_impl_cache() {
    let client = TwoCaches {
        user: cache(),
        admin: cache(),
    };
    client.as_admin().await.unwrap();
    assert_eq!(client.admin.fetcher().calls(), 1);
    assert_eq!(client.user.fetcher().calls(), 0);

    client.as_user().await.unwrap();
    assert_eq!(client.user.fetcher().calls(), 1);
}

#[tokio::test]
async fn futures_are_send_when_the_unannotated_ones_are() {
    let client = Arc::new(Client::new());
    let by_ref = client.authorization();
    assert_send(&by_ref);
    assert_eq!(by_ref.await.unwrap(), "Bearer token-1");

    let by_arc = Arc::clone(&client).arc();
    assert_send(&by_arc);
    by_arc.await.unwrap();

    let mut cell = CellClient {
        tokens: cache(),
        hits: Cell::new(0),
    };
    assert!(is_send!(cell) && !is_sync!(cell));
    let by_mut = cell.hit();
    assert_send(&by_mut);
    assert_eq!(by_mut.await.unwrap(), 1);

    // A `&self` of a `!Sync` type is `!Send`, annotated or not.
    assert!(!is_send!(cell.peek()));
    assert!(!is_send!(cell.peek_unannotated()));
    assert_eq!(cell.peek().await.unwrap(), 1);
}

#[tokio::test]
async fn futures_are_not_send_when_the_unannotated_ones_are_not() {
    let client = Client::new();
    let annotated = client.holds_rc();
    let unannotated = client.holds_rc_unannotated();
    assert!(!is_send!(unannotated));
    assert_eq!(is_send!(annotated), is_send!(unannotated));
    assert_eq!(annotated.await.unwrap(), unannotated.await.unwrap());
}

#[tokio::test]
async fn future_size_stays_close_to_the_unannotated_one() {
    let client = Client::new();
    let annotated = client.sized(3);
    let unannotated = client.sized_unannotated(3);
    assert!(size_of_val(&annotated) <= size_of_val(&unannotated) + 64);
    assert_eq!(annotated.await.unwrap(), unannotated.await.unwrap());
}
