//! [`TokenCache`]: holds the current token and fetches a new one, once, when
//! it is about to expire.
//!
//! The hot path is one clock read and one atomic load. Everything else
//! (starting a fetch, waiting for it, storing its token) is out of line in
//! a boxed future, so a caller that finds a fresh token pays nothing more.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use reqwest::header::HeaderValue;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::{Error, FetchToken, Token};

/// How long before expiry a token is refreshed unless configured otherwise:
/// 60 seconds.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// How long one fetch may take unless configured otherwise: 30 seconds.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// A type that owns a [`TokenCache`]: what `#[refresh_token]` calls to find
/// the cache of `self`.
///
/// ```
/// use token_refresh_runtime::{FetchToken, HasTokenCache, TokenCache};
///
/// struct Client<F> {
///     tokens: TokenCache<F>,
/// }
///
/// impl<F: FetchToken> HasTokenCache for Client<F> {
///     type Fetcher = F;
///
///     fn token_cache(&self) -> &TokenCache<F> {
///         &self.tokens
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `HasTokenCache`, which `#[refresh_token]` needs",
    label = "`#[refresh_token]` looks for the token cache of `{Self}` here",
    note = "implement `token_refresh::HasTokenCache` for `{Self}`, \
            or name the field with `#[refresh_token(cache = field)]`"
)]
pub trait HasTokenCache {
    /// The fetcher behind the cache.
    type Fetcher: FetchToken;

    /// The cache that holds this client's token.
    fn token_cache(&self) -> &TokenCache<Self::Fetcher>;
}

/// Holds one token for one fetcher and keeps it fresh.
///
/// - A token with more than the refresh margin left is returned at once,
///   with no lock taken and nothing allocated.
/// - Callers that find the token stale share one fetch: however many
///   arrive, the fetcher runs once.
/// - A fetch runs on a task of its own and finishes even if every caller
///   waiting for it is cancelled.
/// - A fetch that fails, times out or panics fails its waiters with a
///   typed error, and the next call starts a new fetch.
///
/// Cloning is cheap and every clone shares the same token.
///
/// ```
/// use std::time::Duration;
/// use token_refresh_runtime::{Error, FetchToken, Token, TokenCache};
///
/// struct Static;
///
/// impl FetchToken for Static {
///     async fn fetch_token(&self, _: Option<&Token>) -> Result<Token, Error> {
///         Ok(Token::new("abc", Duration::from_secs(600)))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// let cache = TokenCache::new(Static);
/// cache.ensure_fresh().await?;
/// assert_eq!(cache.authorization()?, "Bearer abc");
/// # Ok(())
/// # }
/// ```
pub struct TokenCache<F> {
    shared: Arc<Shared<F>>,
}

impl<F> Clone for TokenCache<F> {
    fn clone(&self) -> Self {
        TokenCache {
            shared: Arc::clone(&self.shared),
        }
    }
}

struct Shared<F> {
    fetcher: F,
    refresh_margin: Duration,
    fetch_timeout: Duration,
    /// The zero of `refresh_at`: the clock reading when the cache was made.
    origin: Instant,
    /// Nanoseconds after `origin` from which callers must refresh; 0 while
    /// there is no token. The only thing the hot path reads.
    refresh_at: AtomicU64,
    /// The token handed to callers, replaced whole by each fetch.
    current: ArcSwapOption<Cached>,
    /// The fetch in progress, if any. Locked only to join, start or finish
    /// a fetch, never across an await.
    flight: Mutex<Option<Flight>>,
}

/// A token with its `Authorization` header value built once.
struct Cached {
    token: Token,
    authorization: HeaderValue,
}

/// Resolves to the outcome of one fetch; `None` until it is done.
type Flight = watch::Receiver<Option<Result<(), Error>>>;

impl<F: FetchToken> TokenCache<F> {
    /// A cache with the default refresh margin and fetch timeout.
    pub fn new(fetcher: F) -> Self {
        Self::from_builder(Self::builder(fetcher))
    }

    /// A builder to set the refresh margin and fetch timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use token_refresh_runtime::{Error, FetchToken, Token};
    /// use token_refresh_runtime::TokenCache;
    /// # struct Static;
    /// # impl FetchToken for Static {
    /// #     async fn fetch_token(&self, _: Option<&Token>) -> Result<Token, Error> {
    /// #         Ok(Token::new("abc", Duration::from_secs(600)))
    /// #     }
    /// # }
    ///
    /// let cache = TokenCache::builder(Static)
    ///     .refresh_margin(Duration::from_secs(120))
    ///     .fetch_timeout(Duration::from_secs(10))
    ///     .build()?;
    /// # Ok::<(), token_refresh_runtime::Error>(())
    /// ```
    pub fn builder(fetcher: F) -> TokenCacheBuilder<F> {
        TokenCacheBuilder {
            fetcher,
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
        }
    }

    fn from_builder(builder: TokenCacheBuilder<F>) -> Self {
        TokenCache {
            shared: Arc::new(Shared {
                fetcher: builder.fetcher,
                refresh_margin: builder.refresh_margin,
                fetch_timeout: builder.fetch_timeout,
                origin: Instant::now(),
                refresh_at: AtomicU64::new(0),
                current: ArcSwapOption::empty(),
                flight: Mutex::new(None),
            }),
        }
    }

    /// Makes sure the cache holds a fresh token, fetching one if the
    /// current token is missing or within the refresh margin of expiry.
    ///
    /// Returns at once when the token is fresh. Nothing happens until the
    /// returned future is polled.
    pub fn ensure_fresh(&self) -> EnsureFresh<'_, F> {
        EnsureFresh {
            cache: self,
            slow: None,
        }
    }

    /// The current `Authorization` header value, `Bearer <token>`, marked
    /// sensitive so HTTP clients keep it out of their logs. Never fetches:
    /// await [`ensure_fresh`](Self::ensure_fresh) first.
    pub fn authorization(&self) -> Result<HeaderValue, Error> {
        match &*self.shared.current.load() {
            Some(cached) => Ok(cached.authorization.clone()),
            None => Err(Error::NoToken),
        }
    }

    /// A copy of the current token, if there is one. Never fetches.
    pub fn token(&self) -> Option<Token> {
        self.shared.current.load().as_ref().map(|c| c.token.clone())
    }

    /// The fetcher this cache calls.
    pub fn fetcher(&self) -> &F {
        &self.shared.fetcher
    }

    /// The hot path: whether the current token has more than the refresh
    /// margin left.
    #[inline]
    fn is_fresh(&self) -> bool {
        self.shared.is_fresh()
    }
}

impl<F> fmt::Debug for TokenCache<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = self.shared.current.load();
        f.debug_struct("TokenCache")
            .field("refresh_margin", &self.shared.refresh_margin)
            .field("fetch_timeout", &self.shared.fetch_timeout)
            .field("expires_in", &token.as_ref().map(|c| c.token.expires_in()))
            .finish_non_exhaustive()
    }
}

/// Settings for a [`TokenCache`], from [`TokenCache::builder`].
#[derive(Debug)]
pub struct TokenCacheBuilder<F> {
    fetcher: F,
    refresh_margin: Duration,
    fetch_timeout: Duration,
}

impl<F: FetchToken> TokenCacheBuilder<F> {
    /// How long before expiry the token is refreshed. Default
    /// [`DEFAULT_REFRESH_MARGIN`], 60 seconds.
    ///
    /// The margin never exceeds half of a token's lifetime, so a token that
    /// lives for less than twice the margin is still used for half of its
    /// life rather than refreshed on every call.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// How long one fetch may run before its waiters get
    /// [`Error::Timeout`]. Default [`DEFAULT_FETCH_TIMEOUT`], 30 seconds.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Builds the cache. Fails with [`Error::InvalidConfig`] when the fetch
    /// timeout is zero.
    pub fn build(self) -> Result<TokenCache<F>, Error> {
        if self.fetch_timeout.is_zero() {
            return Err(Error::InvalidConfig {
                reason: "the fetch timeout must be longer than zero",
            });
        }
        Ok(TokenCache::from_builder(self))
    }
}

/// The future returned by [`TokenCache::ensure_fresh`].
///
/// It is small (two words and a box pointer): the fetch and the wait live
/// in a box made only when the token is stale.
#[must_use = "futures do nothing unless polled"]
pub struct EnsureFresh<'a, F> {
    cache: &'a TokenCache<F>,
    slow: Option<Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>>,
}

impl<F> fmt::Debug for EnsureFresh<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnsureFresh")
            .field("waiting", &self.slow.is_some())
            .finish_non_exhaustive()
    }
}

impl<F: FetchToken> Future for EnsureFresh<'_, F> {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let slow = match &mut this.slow {
            Some(slow) => slow,
            None if this.cache.is_fresh() => return Poll::Ready(Ok(())),
            None => this
                .slow
                .insert(Box::pin(Arc::clone(&this.cache.shared).refresh())),
        };
        slow.as_mut().poll(cx)
    }
}

impl<F: FetchToken> Shared<F> {
    #[inline]
    fn is_fresh(&self) -> bool {
        self.now() < self.refresh_at.load(Ordering::Acquire)
    }

    /// Nanoseconds from `origin` to now.
    #[inline]
    fn now(&self) -> u64 {
        self.nanos_since_origin(Instant::now())
    }

    #[inline]
    fn nanos_since_origin(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.origin).as_nanos();
        // u64 nanoseconds last 584 years: far beyond `Token::MAX_LIFETIME`.
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    /// The slow path: join the fetch in flight, or start one, and wait.
    async fn refresh(self: Arc<Self>) -> Result<(), Error> {
        let mut flight = {
            let mut slot = self.flight.lock().unwrap_or_else(PoisonError::into_inner);
            // Another task may have stored a token since our check.
            if self.is_fresh() {
                return Ok(());
            }
            match &*slot {
                Some(flight) => flight.clone(),
                None => slot.insert(self.start_fetch()?).clone(),
            }
        };
        match flight.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone().unwrap_or(Err(Error::FetchPanicked)),
            // The fetch task was dropped without finishing: its runtime is
            // shutting down.
            Err(_) => Err(Error::FetchPanicked),
        }
    }

    /// Spawns the fetch task. Called with the `flight` lock held.
    fn start_fetch(self: &Arc<Self>) -> Result<Flight, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let (done, flight) = watch::channel(None);
        runtime.spawn(Arc::clone(self).fetch(done));
        Ok(flight)
    }

    /// Runs one fetch to completion, stores its token and tells the waiters.
    async fn fetch(self: Arc<Self>, done: watch::Sender<Option<Result<(), Error>>>) {
        let previous = self.current.load_full();
        let started = Instant::now();
        tracing::debug!(has_previous = previous.is_some(), "fetching token");
        let fetch = self.fetcher.fetch_token(previous.as_deref().map(|c| &c.token));
        let outcome = match CatchUnwind(Box::pin(tokio::time::timeout(self.fetch_timeout, fetch))).await {
            Ok(Ok(Ok(token))) => self.store(token),
            Ok(Ok(Err(err))) => Err(err),
            Ok(Err(_elapsed)) => Err(Error::Timeout {
                after: self.fetch_timeout,
            }),
            Err(()) => Err(Error::FetchPanicked),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Ok(()) => tracing::debug!(elapsed_ms, "token fetched"),
            Err(err) => tracing::debug!(elapsed_ms, error = %err, "token fetch failed"),
        }
        // Clear the flight before waking anyone, so that a caller who tries
        // again after a failure starts a new fetch instead of rejoining
        // this one.
        *self.flight.lock().unwrap_or_else(PoisonError::into_inner) = None;
        done.send_replace(Some(outcome));
    }

    fn store(&self, token: Token) -> Result<(), Error> {
        let authorization = bearer_header(&token)?;
        // The margin never exceeds half the lifetime: a 30-second token with
        // the default 60-second margin is refreshed after 15 seconds, not
        // on every call.
        let margin = self.refresh_margin.min(token.lifetime() / 2);
        let refresh_at = token
            .expires_at()
            .checked_sub(margin)
            .unwrap_or(token.issued_at());
        let refresh_at = self.nanos_since_origin(refresh_at);
        tracing::debug!(
            expires_in_secs = token.expires_in().as_secs(),
            refresh_in_secs = Duration::from_nanos(refresh_at.saturating_sub(self.now())).as_secs(),
            "token stored"
        );
        self.current.store(Some(Arc::new(Cached {
            token,
            authorization,
        })));
        // Published after the token, so a caller that sees the new
        // deadline also sees the new token.
        self.refresh_at.store(refresh_at, Ordering::Release);
        Ok(())
    }
}

fn bearer_header(token: &Token) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.access_token().secret()))
        .map_err(|_| Error::InvalidResponse {
            reason: "the access token has characters not allowed in an HTTP header",
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Turns a panic inside a fetcher into an error for its waiters instead of
/// a dropped task.
struct CatchUnwind<Fut>(Pin<Box<Fut>>);

impl<Fut: Future> Future for CatchUnwind<Fut> {
    type Output = Result<Fut::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_panic) => Poll::Ready(Err(())),
        }
    }
}
