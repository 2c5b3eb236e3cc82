//! The gate every widget API request passes before its handler: the web chat, the origin,
//! CORS, whether the web chat is active, and the visitor rate limits.
//!
//! It runs as middleware on the whole router rather than as an extractor, because two of its
//! answers never reach a handler: CORS preflights (`OPTIONS`, which no route serves) and the
//! CORS headers on every response, errors and 429s included, so the widget can read them.

use super::WidgetChat;
use crate::app::{AppState, Limits};
use crate::http::error::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parlor_core::id::WebChatId;
use parlor_core::model::{AccessType, WebChat};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

const ORIGIN_REFUSED: &str = "This origin is not allowed to use this web chat.";
const INACTIVE: &str = "This web chat is not active.";
const NOT_A_WIDGET: &str = "This web chat is for API access only, not for the widget.";

/// What the gate needs: the store, and the visitor rate limiters. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Gate {
    state: AppState,
    per_ip: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    /// Keyed by the token's SHA-256, valid or not: a made-up token still costs its sender.
    per_session: Option<Arc<DefaultKeyedRateLimiter<[u8; 32]>>>,
}

impl Gate {
    pub(crate) fn new(state: &AppState) -> Self {
        let Limits { widget_per_ip, widget_per_session, .. } = state.limits;
        let quota = |n: u32| NonZeroU32::new(n).map(Quota::per_minute);
        Gate {
            state: state.clone(),
            per_ip: quota(widget_per_ip).map(|q| Arc::new(RateLimiter::dashmap(q))),
            per_session: quota(widget_per_session).map(|q| Arc::new(RateLimiter::dashmap(q))),
        }
    }

    /// 429 when the client IP or the presented session is over its limit.
    fn throttle(&self, req: &Request) -> Option<Response> {
        let clock = DefaultClock::default();
        if let (Some(l), Some(ConnectInfo(addr))) =
            (&self.per_ip, req.extensions().get::<ConnectInfo<SocketAddr>>())
        {
            // Idle buckets hold nothing: forget them now and then, so a flood of addresses
            // cannot grow memory without bound.
            if l.len() > 10_000 {
                l.retain_recent();
            }
            if let Err(not_until) = l.check_key(&addr.ip()) {
                return Some(crate::http::limits::throttled(not_until.wait_time_from(clock.now())));
            }
        }
        if let (Some(l), Ok(token)) = (&self.per_session, super::visitor_token(req.headers())) {
            if l.len() > 10_000 {
                l.retain_recent();
            }
            if let Err(not_until) = l.check_key(&Sha256::digest(token.as_bytes()).into()) {
                return Some(crate::http::limits::throttled(not_until.wait_time_from(clock.now())));
            }
        }
        None
    }
}

/// The web chat id of a widget API path (`/api/widget/{id}/…` or `/api/v1/widget/{id}/…`).
fn widget_chat_id(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/v1").or_else(|| path.strip_prefix("/api"))?;
    let rest = rest.strip_prefix("/widget/")?;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// `https://Example.com/` → `https://example.com`, for comparing origins.
fn normalize(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Whether a request from `origin` may use `chat`. No `Origin` header means no browser page
/// is asking across origins (a same-origin GET, or a server), which the allow-list is not
/// about; the hosted page `/chat/{id}` is served by Parlor itself, so its own origin is
/// allowed too.
fn origin_allowed(chat: &WebChat, origin: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(origin) = origin else { return true };
    if chat.allowed_origins.is_empty() || chat.allowed_origins.iter().any(|o| o.trim() == "*") {
        return true;
    }
    let origin = normalize(origin);
    if chat.allowed_origins.iter().any(|o| normalize(o) == origin) {
        return true;
    }
    let own_host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|h| h.to_str().ok())
        .map(|h| h.split(',').next().unwrap_or(h).trim().to_ascii_lowercase());
    let origin_host = origin.split_once("://").map(|(_, h)| h);
    own_host.is_some() && origin_host == own_host.as_deref()
}

/// Middleware: see the module's documentation. Requests outside the widget API, and methods
/// the widget API does not serve (they get the router's 405), pass untouched.
pub(crate) async fn gate(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
    let Some(raw_id) = widget_chat_id(req.uri().path()) else {
        return next.run(req).await;
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::POST | Method::OPTIONS) {
        return next.run(req).await;
    }
    let Ok(id) = raw_id.parse::<WebChatId>() else {
        return ApiError::NotFound.into_response();
    };
    let (org, chat) = match gate.state.store.find_web_chat(id).await {
        Ok(found) => found,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let origin = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()).map(str::to_string);
    if !origin_allowed(&chat, origin.as_deref(), req.headers()) {
        // No CORS headers: the page's script cannot even read why.
        return ApiError::Forbidden(ORIGIN_REFUSED).into_response();
    }
    let response = if let Some(r) = gate.throttle(&req) {
        r
    } else if req.method() == Method::OPTIONS {
        preflight()
    } else if chat.access_type == AccessType::Api {
        ApiError::Forbidden(NOT_A_WIDGET).into_response()
    } else if !chat.is_active {
        ApiError::Forbidden(INACTIVE).into_response()
    } else {
        req.extensions_mut().insert(WidgetChat { org, web_chat: chat });
        next.run(req).await
    };
    with_cors(response, origin.as_deref())
}

/// The answer to a CORS preflight: which methods and headers the widget API takes. Browsers
/// cache it for ten minutes.
fn preflight() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, last-event-id"),
    );
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    r
}

/// Lets the page at `origin` read the response. The origin is echoed, not `*`, as the answer
/// differs per origin (`Vary`); no cookies are involved, so no `Allow-Credentials`.
fn with_cors(mut r: Response, origin: Option<&str>) -> Response {
    let h = r.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(value) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After, WWW-Authenticate"),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_web_chat_id_of_widget_paths_only() {
        assert_eq!(widget_chat_id("/api/widget/abc/sessions"), Some("abc"));
        assert_eq!(widget_chat_id("/api/v1/widget/abc"), Some("abc"));
        assert_eq!(widget_chat_id("/api/chatbots/abc"), None);
        assert_eq!(widget_chat_id("/widget/abc.js"), None);
    }
}
