//! Request limits that protect the server from greedy or slow clients: rate limits per API
//! key and per client IP, a cap on the streams a key holds open at once, and a timeout on
//! reading a request body. (The JSON body size limit is axum's `DefaultBodyLimit`; the
//! timeout on reading a request's head is set on the connection, see [`crate::conn`].)
//!
//! Rate limiting answers as DRF's throttling does: 429
//! `{"detail": "Request was throttled. Expected available in N seconds."}` with
//! `Retry-After: N`. Each limit is a GCRA bucket (the `governor` crate) of `N` requests a
//! minute: a burst of `N`, then one request every `60/N` seconds. Both are off unless the
//! operator sets them, as the right numbers depend on the deployment.

use super::error::ApiError;
use super::extract::parse_authorization;
use crate::app::Limits;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parlor_core::id::{ApiKeyId, VisitorSessionId};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// The rate limiters of one app; cheap to clone.
#[derive(Clone)]
pub struct RateLimits {
    /// Keyed by the SHA-256 of the presented key (keys are never held in memory in clear).
    per_key: Option<Arc<DefaultKeyedRateLimiter<[u8; 32]>>>,
    per_ip: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    /// Requests seen, to forget idle buckets now and then (see [`RateLimits::housekeeping`]).
    seen: Arc<AtomicU64>,
}

impl RateLimits {
    pub fn new(limits: &Limits) -> Self {
        let quota = |n: u32| NonZeroU32::new(n).map(Quota::per_minute);
        RateLimits {
            per_key: quota(limits.rate_per_key).map(|q| Arc::new(RateLimiter::dashmap(q))),
            per_ip: quota(limits.rate_per_ip).map(|q| Arc::new(RateLimiter::dashmap(q))),
            seen: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Buckets that are full again hold no information: drop them every few thousand
    /// requests, so a flood of distinct keys or addresses cannot grow memory without bound.
    fn housekeeping(&self) {
        if self.seen.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            if let Some(l) = &self.per_key {
                l.retain_recent();
                l.shrink_to_fit();
            }
            if let Some(l) = &self.per_ip {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
    }
}

/// Middleware: throttles API requests by client IP and by the API key they present (valid
/// or not; an invalid key still costs its sender). Requests without a key are limited by IP
/// only. The operations routes (`/healthz`, `/readyz`, `/metrics`) are never throttled, so
/// probes keep working under load.
pub async fn rate_limit(State(limits): State<RateLimits>, req: Request, next: Next) -> Response {
    if limits.per_key.is_none() && limits.per_ip.is_none() || !req.uri().path().starts_with("/api") {
        return next.run(req).await;
    }
    limits.housekeeping();
    let clock = DefaultClock::default();
    if let (Some(l), Some(ConnectInfo(addr))) =
        (&limits.per_ip, req.extensions().get::<ConnectInfo<SocketAddr>>())
        && let Err(not_until) = l.check_key(&addr.ip())
    {
        return throttled(not_until.wait_time_from(clock.now()));
    }
    if let (Some(l), Ok(key)) = (&limits.per_key, parse_authorization(req.headers()))
        && let Err(not_until) = l.check_key(&Sha256::digest(key.as_bytes()).into())
    {
        return throttled(not_until.wait_time_from(clock.now()));
    }
    next.run(req).await
}

/// DRF's 429: whole seconds, rounded up, never 0 (a client told 0 retries at once).
pub(crate) fn throttled(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let detail = if secs == 1 {
        "Request was throttled. Expected available in 1 second.".to_string()
    } else {
        format!("Request was throttled. Expected available in {secs} seconds.")
    };
    let mut r =
        (StatusCode::TOO_MANY_REQUESTS, axum::Json(serde_json::json!({ "detail": detail }))).into_response();
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// Fails a request whose client pauses longer than the limit while sending the body (the
/// timer restarts with each piece), so a slow sender cannot hold a connection and a task.
pub(crate) fn body_timeout(limits: &Limits) -> RequestBodyTimeoutLayer {
    RequestBodyTimeoutLayer::new(limits.body_timeout)
}

/// What kind of stream holds a slot: the `kind` label of the `parlor_open_streams` gauge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamKind {
    /// A streamed completions reply.
    Completions,
    /// A conversation's live events.
    Events,
}

impl StreamKind {
    fn label(self) -> &'static str {
        match self {
            StreamKind::Completions => "completions",
            StreamKind::Events => "events",
        }
    }
}

/// Who holds a stream: an API key, or a widget visitor's session (which has no key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamOwner {
    Key(ApiKeyId),
    Visitor(VisitorSessionId),
}

impl From<ApiKeyId> for StreamOwner {
    fn from(k: ApiKeyId) -> Self {
        StreamOwner::Key(k)
    }
}

impl From<VisitorSessionId> for StreamOwner {
    fn from(s: VisitorSessionId) -> Self {
        StreamOwner::Visitor(s)
    }
}

/// The streams each API key (or widget visitor session) holds open. Rate limits count requests, but a stream is one
/// request that holds a connection, a task and a live subscription for minutes: without a
/// cap, one key could open thousands and starve everyone else. Counted per key (not per
/// organization), so an organization can give a noisy client its own key.
#[derive(Debug, Default)]
pub struct StreamSlots {
    open: Mutex<HashMap<StreamOwner, u32>>,
}

impl StreamSlots {
    /// Takes one of `key`'s slots, or fails with 429 when it already holds `cap` streams
    /// (`cap` 0: no cap). The slot is given back when the returned guard drops, which the
    /// stream's body does when the stream ends or the client goes away.
    pub(crate) fn acquire(
        self: &Arc<Self>,
        key: impl Into<StreamOwner>,
        cap: u32,
        kind: StreamKind,
    ) -> Result<StreamSlot, ApiError> {
        let key = key.into();
        {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            let n = open.entry(key).or_insert(0);
            if cap > 0 && *n >= cap {
                return Err(ApiError::TooManyStreams(cap));
            }
            *n += 1;
        }
        metrics::gauge!("parlor_open_streams", "kind" => kind.label()).increment(1.0);
        Ok(StreamSlot { slots: self.clone(), key, kind })
    }

    /// Streams `key` holds open now.
    pub fn open(&self, key: impl Into<StreamOwner>) -> u32 {
        let key = key.into();
        self.open.lock().unwrap_or_else(PoisonError::into_inner).get(&key).copied().unwrap_or(0)
    }
}

/// One open stream's slot; dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct StreamSlot {
    slots: Arc<StreamSlots>,
    key: StreamOwner,
    kind: StreamKind,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            // Keys without streams take no memory, however many keys come and go.
            if *n == 0 {
                open.remove(&self.key);
            }
        }
        drop(open);
        metrics::gauge!("parlor_open_streams", "kind" => self.kind.label()).decrement(1.0);
    }
}

/// `stream` holding `slot` for as long as it lives: hyper drops a response body when the
/// stream ends or when the client disconnects, and the slot goes with it.
pub(crate) fn hold_slot<S: futures::Stream>(
    stream: S,
    slot: StreamSlot,
) -> impl futures::Stream<Item = S::Item> {
    use futures::StreamExt as _;
    stream.map(move |item| {
        let _held = &slot;
        item
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_slots_are_counted_per_key_and_given_back() {
        let slots = Arc::new(StreamSlots::default());
        let (a, b) = (ApiKeyId(uuid::Uuid::now_v7()), ApiKeyId(uuid::Uuid::now_v7()));
        let first = slots.acquire(a, 2, StreamKind::Events).unwrap();
        let second = slots.acquire(a, 2, StreamKind::Completions).unwrap();
        assert!(matches!(slots.acquire(a, 2, StreamKind::Events), Err(ApiError::TooManyStreams(2))));
        // Another key has its own slots; a cap of 0 is no cap.
        let other = slots.acquire(b, 2, StreamKind::Events).unwrap();
        assert!(slots.acquire(a, 0, StreamKind::Events).is_ok(), "the guard drops at once");
        drop(first);
        assert_eq!(slots.open(a), 1);
        let third = slots.acquire(a, 2, StreamKind::Events).unwrap();
        drop((second, third, other));
        assert_eq!(slots.open(a), 0);
        assert!(slots.open.lock().unwrap().is_empty(), "keys without streams are forgotten");
    }
}
