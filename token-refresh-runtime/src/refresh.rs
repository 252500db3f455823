//! The slow path of [`TokenCache`](crate::TokenCache): joining or starting
//! the single fetch, running it on a task of its own, and recording what
//! it brought back.
//!
//! ```text
//! caller ──lock state──▶ fresh again? ─▶ done
//!                        fetch in flight? ─▶ token usable? done : wait
//!                        backing off? ─▶ token usable? done : held error
//!                        else spawn fetch ─▶ token usable? done : wait
//! fetch task ─▶ fetcher (timeout, panics caught) ─lock state─▶ store or
//!               record failure and backoff ─▶ wake waiters
//! ```

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use reqwest::header::HeaderValue;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::cache::{Cached, Shared, SlowPath};
use crate::clock::nanos;
use crate::{Error, FetchToken, Token};

/// Whether a caller wants a usable token or a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Ensure,
    Force,
}

/// Resolves to the outcome of one fetch; `None` until it is done.
type Flight = watch::Receiver<Option<Result<(), Error>>>;

/// Everything the slow path coordinates on.
#[derive(Default)]
pub(crate) struct State {
    /// The fetch in progress, if any.
    flight: Option<Flight>,
    /// The last failure and when the next attempt may start.
    failure: Option<Failure>,
    /// Failures since the last success, for the backoff.
    consecutive_failures: u32,
}

struct Failure {
    error: Error,
    retry_at: u64,
}

/// What a caller does after looking at the state.
enum Next {
    Ready,
    Wait(Flight),
}

/// What a failed fetch left behind, for its log event.
struct Held {
    backoff: Duration,
    /// How long the current token stays valid, if it is.
    valid_for: Option<Duration>,
}

impl Held {
    /// Logs the failure: a warning when a valid token absorbs it, since
    /// callers do not see it yet but will if it goes on.
    fn log(&self, error: &Error, elapsed_ms: u64) {
        let retry_in_ms = self.backoff.as_millis() as u64;
        let class = error.class();
        let code = error.oauth().map(|oauth| oauth.error.as_str());
        match self.valid_for {
            Some(valid_for) => tracing::warn!(
                error.class = class,
                error.code = code,
                error = %error,
                retry_in_ms,
                valid_for_secs = valid_for.as_secs(),
                "token refresh failed; the current token is still valid and stays in use"
            ),
            None => tracing::debug!(
                elapsed_ms,
                error.class = class,
                error.code = code,
                error = %error,
                retry_in_ms,
                "token fetch failed"
            ),
        }
    }
}

impl<F: FetchToken> Shared<F> {
    /// The future behind a call that did not find a fresh token.
    #[cold]
    #[inline(never)]
    pub fn slow_path(self: &Arc<Self>) -> SlowPath<'_> {
        Box::pin(self.refresh(Mode::Ensure))
    }

    /// Joins or starts a fetch as `mode` asks and waits for it if the
    /// current token cannot serve meanwhile.
    pub async fn refresh(self: &Arc<Self>, mode: Mode) -> Result<(), Error> {
        let mut flight = match self.join_or_start(mode)? {
            Next::Ready => return Ok(()),
            Next::Wait(flight) => flight,
        };
        self.counters.waits.fetch_add(1, Ordering::Relaxed);
        let outcome = match flight.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone().unwrap_or(Err(Error::FetchCancelled)),
            Err(_) => Err(Error::FetchCancelled),
        };
        // A token that is past its margin but not yet expired beats an
        // error (a forced refresh wants the new token, though).
        match outcome {
            Err(_) if mode == Mode::Ensure && self.has_valid_token() => Ok(()),
            outcome => outcome,
        }
    }

    fn has_valid_token(&self) -> bool {
        let now = self.hot.timeline.now();
        self.current
            .load()
            .as_ref()
            .is_some_and(|c| c.is_valid(now))
    }

    fn join_or_start(self: &Arc<Self>, mode: Mode) -> Result<Next, Error> {
        let mut state = self.lock_state();
        let now = self.hot.timeline.now();
        let ensure = mode == Mode::Ensure;
        // Another task may have stored a token since our check.
        if ensure && now < self.hot.refresh_at.load(Ordering::Acquire) {
            return Ok(Next::Ready);
        }
        let current = self.current.load();
        let usable = ensure && current.as_ref().is_some_and(|c| c.is_usable(now));
        let valid = ensure && current.as_ref().is_some_and(|c| c.is_valid(now));
        // A flight whose task is gone (its runtime shut down) is dead.
        if let Some(flight) = state.flight.as_ref().filter(|f| f.has_changed().is_ok()) {
            if !usable {
                return Ok(Next::Wait(flight.clone()));
            }
            self.serve_current_until_usable(&current);
            return Ok(Next::Ready);
        }
        if let Some(failure) = &state.failure {
            if ensure && now < failure.retry_at {
                return if valid {
                    Ok(Next::Ready)
                } else {
                    Err(failure.error.clone())
                };
            }
        }
        let flight = match self.start_fetch() {
            Ok(flight) => flight,
            // Without a runtime to fetch on, a usable token still serves.
            Err(err) if usable => {
                tracing::warn!(error = %err, "cannot refresh ahead; using the current token");
                return Ok(Next::Ready);
            }
            Err(err) => return Err(err),
        };
        state.flight = Some(flight.clone());
        if !usable {
            return Ok(Next::Wait(flight));
        }
        self.serve_current_until_usable(&current);
        Ok(Next::Ready)
    }

    /// Refreshing ahead: keeps callers on the fast path with the current
    /// token until the new one lands or this one stops being usable.
    fn serve_current_until_usable(&self, current: &Option<Arc<Cached>>) {
        if let Some(current) = current {
            let until = current.usable_until;
            self.hot.refresh_at.store(until, Ordering::Release);
        }
    }

    fn start_fetch(self: &Arc<Self>) -> Result<Flight, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let (done, flight) = watch::channel(None);
        self.counters.fetches.fetch_add(1, Ordering::Relaxed);
        runtime.spawn(Arc::clone(self).fetch(done));
        Ok(flight)
    }

    /// Runs one fetch to completion, records it and wakes the waiters.
    async fn fetch(self: Arc<Self>, done: watch::Sender<Option<Result<(), Error>>>) {
        let previous = self.current.load_full();
        let started = Instant::now();
        tracing::debug!(has_previous = previous.is_some(), "fetching token");
        let timeout = self.config.fetch_timeout;
        // The timeout is made inside the guarded future: making one panics
        // on a runtime without a timer, and that too must reach waiters
        // as an error.
        let fetch = async {
            let previous = previous.as_deref().map(|c| &c.token);
            let fetch = self.fetcher.fetch_token(previous);
            let token = tokio::time::timeout(timeout, fetch)
                .await
                .map_err(|_elapsed| Error::Timeout { after: timeout })??;
            if let Some(hook) = &self.config.on_token {
                hook(&token);
            }
            Ok(token)
        };
        let result = CatchUnwind(Box::pin(fetch))
            .await
            .unwrap_or(Err(Error::FetchPanicked));
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let outcome = match result.and_then(|token| self.cached(token)) {
            Ok(cached) => {
                let lifetime_secs = cached.token.lifetime().as_secs();
                self.store(cached);
                tracing::debug!(elapsed_ms, lifetime_secs, "token fetched");
                Ok(())
            }
            Err(error) => {
                let held = self.hold(&error);
                held.log(&error, elapsed_ms);
                Err(error)
            }
        };
        done.send_replace(Some(outcome));
    }

    /// Hands a fetched token to callers and ends the flight.
    fn store(&self, cached: Cached) {
        let mut state = self.lock_state();
        // Cleared before anyone is woken, so that a later caller starts a
        // new fetch rather than rejoining this one.
        state.flight = None;
        state.failure = None;
        state.consecutive_failures = 0;
        let refresh_at = cached.refresh_at;
        self.current.store(Some(Arc::new(cached)));
        // Published after the token, so a caller that sees the new
        // deadline also sees the new token.
        self.hot.refresh_at.store(refresh_at, Ordering::Release);
    }

    /// Ends the flight with a failure that callers get until the backoff
    /// has passed, unless a valid token can serve them meanwhile.
    fn hold(&self, error: &Error) -> Held {
        let mut state = self.lock_state();
        state.flight = None;
        self.counters.failures.fetch_add(1, Ordering::Relaxed);
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        // A first timeout has already waited out its deadline, and a
        // first panic may be a fluke of the fetcher: the next call may try
        // again at once. Anything else, or the same again, waits out the
        // backoff, so a fetcher that always panics is not run per call.
        let first = state.consecutive_failures == 1;
        let backoff = match error {
            Error::Timeout { .. } | Error::FetchPanicked if first => Duration::ZERO,
            _ => self.config.backoff.delay(state.consecutive_failures),
        };
        let now = self.hot.timeline.now();
        let retry_at = now.saturating_add(nanos(backoff));
        state.failure = Some(Failure {
            error: error.clone(),
            retry_at,
        });
        let current = self.current.load();
        let valid = current.as_ref().filter(|c| c.is_valid(now));
        if let Some(current) = valid {
            // Callers stay on the fast path with this token until the next
            // attempt is due or it expires; a token that is still fresh
            // (a forced refresh failed) keeps its own refresh point.
            let until = match now < current.refresh_at {
                true => current.refresh_at,
                false => retry_at.min(current.expires_at),
            };
            self.hot.refresh_at.store(until, Ordering::Release);
        }
        Held {
            backoff,
            valid_for: valid.map(|c| c.token.expires_in()),
        }
    }

    /// Prepares a fetched token for callers. The margins never exceed a
    /// fixed share of the token's own lifetime, so a short-lived token is
    /// used for half its life rather than refreshed on every call.
    fn cached(&self, token: Token) -> Result<Cached, Error> {
        let authorization = bearer_header(&token)?;
        let lifetime = token.lifetime();
        let refresh_margin = self.config.refresh_margin.min(lifetime / 2);
        // At most half the refresh margin, so that a refresh-ahead window
        // always remains between the two.
        let expiry_margin = self.config.expiry_margin.min(refresh_margin / 2);
        let at = |margin| {
            let instant = token.expires_at().checked_sub(margin);
            self.hot
                .timeline
                .since_origin(instant.unwrap_or(token.issued_at()))
        };
        Ok(Cached {
            refresh_at: at(refresh_margin),
            usable_until: at(expiry_margin),
            expires_at: at(Duration::ZERO),
            authorization,
            revoked: Default::default(),
            token,
        })
    }

    /// Revokes the current token if it is `rejected`. Under the state lock,
    /// so it cannot race a fetch storing the token that replaces it.
    pub fn invalidate(&self, rejected: &HeaderValue) -> bool {
        let _state = self.lock_state();
        let current = self.current.load();
        let Some(current) = current.as_ref() else {
            return false;
        };
        if current.authorization != rejected || current.revoked.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.hot.refresh_at.store(0, Ordering::Release);
        self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("token invalidated");
        true
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // The lock guards plain bookkeeping; should anything panic while
        // holding it, the state is still consistent, so poisoning is
        // ignored rather than taking the cache down.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn bearer_header(token: &Token) -> Result<HeaderValue, Error> {
    let value = format!("Bearer {}", token.access_token().secret());
    let mut header = HeaderValue::try_from(value).map_err(|_| Error::InvalidResponse {
        reason: "the access token has characters not allowed in an HTTP header",
    })?;
    header.set_sensitive(true);
    Ok(header)
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
