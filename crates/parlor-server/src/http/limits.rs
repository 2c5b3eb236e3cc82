//! Request limits that protect the server from greedy or slow clients: rate limits per API
//! key and per client IP, and a timeout on reading a request body. (The JSON body size limit
//! is axum's `DefaultBodyLimit`; the timeout on reading a request's head is set on the
//! connection, see [`crate::conn`].)
//!
//! Rate limiting answers as DRF's throttling does: 429
//! `{"detail": "Request was throttled. Expected available in N seconds."}` with
//! `Retry-After: N`. Each limit is a GCRA bucket (the `governor` crate) of `N` requests a
//! minute: a burst of `N`, then one request every `60/N` seconds. Both are off unless the
//! operator sets them, as the right numbers depend on the deployment.

use super::extract::parse_authorization;
use crate::app::Limits;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
