//! [`TokenCache`]: holds the current token and fetches a new one, once, when
//! it is about to expire.
//!
//! A token moves through three states. Fresh: callers use it at once, and
//! the check is one clock read and one atomic load. Refreshing ahead: it
//! is still valid, so callers keep using it while one background fetch
//! replaces it. Expired (or rejected): callers wait for the one fetch.
//! Everything past the fresh check lives out of line in `refresh.rs`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use reqwest::StatusCode;
use reqwest::header::HeaderValue;

use crate::backoff::{Backoff, DEFAULT_RETRY_MAX, DEFAULT_RETRY_MIN};
use crate::clock::{Clock, Timeline};
use crate::refresh::{Mode, State};
use crate::{Error, FetchToken, Token};

/// How long before expiry a token starts being refreshed in the background
/// unless configured otherwise: 60 seconds.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// How much validity a token must have left to be handed to a caller
/// unless configured otherwise: 10 seconds, so a request does not reach
/// the API after its token has expired on the way.
pub const DEFAULT_EXPIRY_MARGIN: Duration = Duration::from_secs(10);

/// How long one fetch may take unless configured otherwise: 60 seconds.
/// Longer than the fetchers' own request timeout (30 s), so that a slow
/// request fails with its own error and a fetch that falls back to a
/// second grant has time for it.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(60);

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
/// - A fresh token is returned at once, with no lock taken and nothing
///   allocated.
/// - Callers that need a new token share one fetch: however many arrive,
///   the fetcher runs once.
/// - A token inside the refresh margin is still handed out while one
///   background fetch replaces it, so in steady state no caller waits.
/// - A fetch runs on a task of its own and finishes, or times out, even if
///   every caller waiting for it is cancelled.
/// - A failed fetch never discards a token that is still valid; its error
///   reaches callers only once no valid token is left.
/// - After a failure the next attempt waits for a capped, jittered,
///   exponential backoff; until then callers get the same error at once.
///   A first fetch that timed out or panicked is retried by the next call.
/// - [`invalidate`](Self::invalidate) drops a token only if it is still
///   the one that was rejected.
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
    pub(crate) shared: Arc<Shared<F>>,
}

impl<F> Clone for TokenCache<F> {
    fn clone(&self) -> Self {
        TokenCache {
            shared: Arc::clone(&self.shared),
        }
    }
}

pub(crate) struct Shared<F> {
    pub hot: Hot,
    pub fetcher: F,
    pub config: Config,
    /// The token handed to callers, replaced whole by each fetch.
    pub current: ArcSwapOption<Cached>,
    /// The fetch in flight and the last failure. Locked only to join,
    /// start or finish a fetch or to invalidate, never across an await.
    pub state: Mutex<State>,
    pub counters: Counters,
}

/// What every call reads, alone on its cache lines so that writes to the
/// neighbouring reference counts and counters never slow it down.
#[repr(align(128))]
pub(crate) struct Hot {
    /// Clock reading (nanoseconds) from which callers take the slow path;
    /// 0 while there is no usable token. Written only with `state` locked.
    pub refresh_at: AtomicU64,
    pub timeline: Timeline,
}

/// Called with every new token before any caller sees it.
pub(crate) type OnToken = Box<dyn Fn(&Token) + Send + Sync>;

pub(crate) struct Config {
    pub on_token: Option<OnToken>,
    pub refresh_margin: Duration,
    pub expiry_margin: Duration,
    pub fetch_timeout: Duration,
    pub backoff: Backoff,
}

/// A token as the cache keeps it: its header value built once and its
/// deadlines converted to the cache's clock.
pub(crate) struct Cached {
    pub token: Token,
    pub authorization: HeaderValue,
    /// When the background refresh should start.
    pub refresh_at: u64,
    /// From when callers wait for a new token rather than use this one.
    pub usable_until: u64,
    /// When the token expires. A fetch that fails before then leaves
    /// callers with this token rather than an error.
    pub expires_at: u64,
    /// Set once the API has rejected this token.
    pub revoked: AtomicBool,
}

impl Cached {
    /// Whether callers may use it without waiting for a fetch.
    pub fn is_usable(&self, now: u64) -> bool {
        now < self.usable_until && !self.is_revoked()
    }

    /// Whether it is still valid: the fallback while fetches fail.
    pub fn is_valid(&self, now: u64) -> bool {
        now < self.expires_at && !self.is_revoked()
    }

    fn is_revoked(&self) -> bool {
        self.revoked.load(Ordering::Acquire)
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub fetches: AtomicU64,
    pub failures: AtomicU64,
    pub waits: AtomicU64,
    pub invalidations: AtomicU64,
}

/// Counts of what a cache has done since it was made, from
/// [`TokenCache::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Fetches started.
    pub fetches: u64,
    /// Fetches that failed, timed out or panicked.
    pub failures: u64,
    /// Calls that had to wait for a fetch.
    pub waits: u64,
    /// Calls to [`TokenCache::invalidate`] that dropped a token.
    pub invalidations: u64,
}

impl<F: FetchToken> TokenCache<F> {
    /// A cache with the default settings.
    pub fn new(fetcher: F) -> Self {
        Self::from_builder(Self::builder(fetcher))
    }

    /// A builder for the margins, timeouts, backoff and clock.
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
            expiry_margin: DEFAULT_EXPIRY_MARGIN,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            retry_min: DEFAULT_RETRY_MIN,
            retry_max: DEFAULT_RETRY_MAX,
            jitter_seed: None,
            clock: Clock::default(),
            on_token: None,
        }
    }

    fn from_builder(b: TokenCacheBuilder<F>) -> Self {
        let config = Config {
            on_token: b.on_token,
            refresh_margin: b.refresh_margin,
            expiry_margin: b.expiry_margin,
            fetch_timeout: b.fetch_timeout,
            backoff: Backoff::new(b.retry_min, b.retry_max, b.jitter_seed),
        };
        let hot = Hot {
            refresh_at: AtomicU64::new(0),
            timeline: Timeline::new(b.clock),
        };
        TokenCache {
            shared: Arc::new(Shared {
                hot,
                fetcher: b.fetcher,
                config,
                current: ArcSwapOption::empty(),
                state: Mutex::new(State::default()),
                counters: Counters::default(),
            }),
        }
    }

    /// Makes sure the cache holds a token that callers may use, fetching
    /// one if there is none or it is about to expire.
    ///
    /// Returns at once when the token is fresh, or when it is inside the
    /// refresh margin but still valid (a background fetch then replaces
    /// it). Nothing happens until the returned future is polled.
    pub fn ensure_fresh(&self) -> EnsureFresh<'_, F> {
        EnsureFresh {
            cache: self,
            slow: None,
        }
    }

    /// Fetches a new token now, whatever the current one's expiry, and
    /// waits for it. Joins a fetch already in flight instead of starting a
    /// second one, and ignores any backoff after a failure.
    pub async fn force_refresh(&self) -> Result<(), Error> {
        self.shared.refresh(Mode::Force).await
    }

    /// Drops the current token if its header value is `rejected`, so the
    /// next call fetches a new one; returns whether it did.
    ///
    /// Call it when the API answers 401 to a request sent with `rejected`.
    /// Many requests that fail with the same token cause one refresh, and
    /// a token fetched since that request went out is kept.
    pub fn invalidate(&self, rejected: &HeaderValue) -> bool {
        self.shared.invalidate(rejected)
    }

    /// Sends the request that `build` makes with the current
    /// `Authorization` value and, if the API answers 401, invalidates that
    /// token and sends once more with a new one. A second 401 is returned
    /// as it is, so this never loops.
    ///
    /// A 401 means the API refused the request before acting on it, so
    /// replaying it is safe for any method unless the API does work before
    /// checking the token. `build` is called once per attempt, so a
    /// streaming body cannot be replayed; buffer it first.
    ///
    /// ```no_run
    /// # use token_refresh_runtime::{Error, TokenCache, oauth2::ClientCredentials};
    /// # async fn demo(tokens: TokenCache<ClientCredentials>) -> Result<(), Error> {
    /// let http = reqwest::Client::new();
    /// let response = tokens
    ///     .send_authorized(|authorization| {
    ///         http.get("https://api.example.com/me")
    ///             .header(reqwest::header::AUTHORIZATION, authorization)
    ///     })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send_authorized(
        &self,
        mut build: impl FnMut(HeaderValue) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        let send = |request: reqwest::RequestBuilder| async {
            request
                .send()
                .await
                .map_err(|e| Error::Request(Arc::new(e)))
        };
        self.ensure_fresh().await?;
        let authorization = self.authorization()?;
        let response = send(build(authorization.clone())).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        self.invalidate(&authorization);
        self.ensure_fresh().await?;
        send(build(self.authorization()?)).await
    }

    /// The current `Authorization` header value, `Bearer <token>`, marked
    /// sensitive so HTTP clients keep it out of their logs.
    ///
    /// It never fetches and never checks expiry: it returns whatever the
    /// cache holds, which may have expired unless
    /// [`ensure_fresh`](Self::ensure_fresh) has just succeeded. Methods
    /// under `#[refresh_token]` have done that; a method it skips (not
    /// `async`, or marked `skip`) has not.
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

    /// What the cache has done so far.
    pub fn stats(&self) -> CacheStats {
        let c = &self.shared.counters;
        CacheStats {
            fetches: c.fetches.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            waits: c.waits.load(Ordering::Relaxed),
            invalidations: c.invalidations.load(Ordering::Relaxed),
        }
    }

    /// The fetcher this cache calls.
    pub fn fetcher(&self) -> &F {
        &self.shared.fetcher
    }
}

impl<F> Shared<F> {
    /// The hot path: whether the current token needs no attention.
    #[inline]
    pub fn is_fresh(&self) -> bool {
        self.hot.timeline.now() < self.hot.refresh_at.load(Ordering::Acquire)
    }
}

impl<F> fmt::Debug for TokenCache<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = self.shared.current.load();
        f.debug_struct("TokenCache")
            .field("refresh_margin", &self.shared.config.refresh_margin)
            .field("expiry_margin", &self.shared.config.expiry_margin)
            .field("fetch_timeout", &self.shared.config.fetch_timeout)
            .field("expires_in", &token.as_ref().map(|c| c.token.expires_in()))
            .finish_non_exhaustive()
    }
}

/// Settings for a [`TokenCache`], from [`TokenCache::builder`].
pub struct TokenCacheBuilder<F> {
    fetcher: F,
    refresh_margin: Duration,
    expiry_margin: Duration,
    fetch_timeout: Duration,
    retry_min: Duration,
    retry_max: Duration,
    jitter_seed: Option<u64>,
    clock: Clock,
    on_token: Option<OnToken>,
}

impl<F> fmt::Debug for TokenCacheBuilder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCacheBuilder")
            .field("refresh_margin", &self.refresh_margin)
            .field("expiry_margin", &self.expiry_margin)
            .field("fetch_timeout", &self.fetch_timeout)
            .field("retry_min", &self.retry_min)
            .field("retry_max", &self.retry_max)
            .field("clock", &self.clock)
            .field("on_token", &self.on_token.is_some())
            .finish_non_exhaustive()
    }
}

impl<F: FetchToken> TokenCacheBuilder<F> {
    /// Calls `hook` with every newly fetched token before any caller gets
    /// it, on the fetch's own task: the place to save a rotated refresh
    /// token. A panicking hook fails that fetch like a panicking fetcher.
    ///
    /// ```
    /// # use std::time::Duration;
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
    ///     .on_token(|token| {
    ///         if let Some(refresh) = token.refresh_token() {
    ///             // Save `refresh.secret()` somewhere safe.
    ///             let _ = refresh;
    ///         }
    ///     })
    ///     .build()?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn on_token(mut self, hook: impl Fn(&Token) + Send + Sync + 'static) -> Self {
        self.on_token = Some(Box::new(hook));
        self
    }

    /// How long before expiry a background refresh starts. Default
    /// [`DEFAULT_REFRESH_MARGIN`], 60 seconds.
    ///
    /// It never exceeds half of a token's lifetime, so a token that lives
    /// for less than twice the margin is still used for half of its life
    /// rather than refreshed on every call.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// How much validity a token must have left to be handed out; with
    /// less, callers wait for a new one. Default [`DEFAULT_EXPIRY_MARGIN`],
    /// 10 seconds. It never exceeds half the refresh margin (so also never
    /// a quarter of a token's lifetime), which leaves a window in which
    /// the token is refreshed ahead while callers still use it.
    pub fn expiry_margin(mut self, margin: Duration) -> Self {
        self.expiry_margin = margin;
        self
    }

    /// How long one fetch may run before its waiters get
    /// [`Error::Timeout`]. Default [`DEFAULT_FETCH_TIMEOUT`], 60 seconds.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// The wait after the first failed fetch and the longest wait between
    /// attempts; each failure doubles the wait. Defaults: 1 and 60
    /// seconds. Each wait is jittered down by up to half.
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.retry_min = min;
        self.retry_max = max;
        self
    }

    /// Seeds the backoff jitter so that a test sees the same schedule on
    /// every run. Default: a random seed per cache.
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    /// Where the cache reads the time. Default [`Clock::System`]; tests
    /// that pause Tokio's clock use [`Clock::Tokio`].
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the cache, or fails with [`Error::InvalidConfig`] when the
    /// fetch timeout or the first backoff is zero, or the longest backoff
    /// is shorter than the first.
    pub fn build(self) -> Result<TokenCache<F>, Error> {
        let invalid = |reason| Err(Error::InvalidConfig { reason });
        if self.fetch_timeout.is_zero() {
            return invalid("the fetch timeout must be longer than zero");
        }
        if self.retry_min.is_zero() {
            return invalid("the first retry backoff must be longer than zero");
        }
        if self.retry_max < self.retry_min {
            return invalid("the longest retry backoff must not be shorter than the first");
        }
        Ok(TokenCache::from_builder(self))
    }
}

/// The out-of-line part of a call that did not find a fresh token.
pub(crate) type SlowPath<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + Sync + 'a>>;

/// The future returned by [`TokenCache::ensure_fresh`].
///
/// It is small (a reference and a box pointer): the fetch and the wait
/// live in a box made only when the token needs attention.
#[must_use = "futures do nothing unless polled"]
pub struct EnsureFresh<'a, F> {
    cache: &'a TokenCache<F>,
    slow: Option<SlowPath<'a>>,
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

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let slow = match &mut this.slow {
            Some(slow) => slow,
            None if this.cache.shared.is_fresh() => return Poll::Ready(Ok(())),
            None => this.slow.insert(this.cache.shared.slow_path()),
        };
        slow.as_mut().poll(cx)
    }
}
