//! The one error type of the HTTP layer and its one mapping to responses.
//!
//! Every error body has a shape of Django REST Framework, as the contract requires: field
//! errors as `{"field": ["message"]}` (nested for nested input), everything else as
//! `{"detail": "message"}`. Internal errors are logged here, once, and never shown.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parlor_core::StoreError;
use parlor_core::engine::EngineError;
use serde_json::{Map, Value, json};

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with DRF field errors (an object of field name to messages).
    #[error("validation failed")]
    Validation(Map<String, Value>),
    /// 400 `{"detail"}` (malformed JSON and the like).
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("authentication failed: {0}")]
    Unauthorized(&'static str),
    /// 401 of a widget visitor's token (`WWW-Authenticate: Visitor`).
    #[error("visitor authentication failed: {0}")]
    VisitorUnauthorized(&'static str),
    /// 403 `{"detail"}`: a widget request from an origin not allowed, to an inactive web
    /// chat, or for a file that is not the visitor's.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    /// 404 with another detail (`Invalid cursor`, `Invalid page.`).
    #[error("not found: {0}")]
    NotFoundDetail(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("payload too large")]
    PayloadTooLarge,
    /// 408: the client paused too long while sending the body.
    #[error("request body timed out")]
    RequestTimeout,
    /// 429: the API key already holds this many streams open (see `limits::StreamSlots`).
    #[error("too many open streams (cap {0})")]
    TooManyStreams(u32),
    #[error("unsupported media type {0:?}")]
    UnsupportedMediaType(String),
    /// 502: the chatbot's model provider failed before producing anything.
    #[error("upstream failed: {0}")]
    Upstream(EngineError),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 500; the cause is logged, the client sees a generic detail.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// `{"field": [message]}`.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        let mut m = Map::new();
        m.insert(field.to_string(), json!([message.into()]));
        ApiError::Validation(m)
    }

    /// DRF's wording for a body reference to a row that does not exist.
    pub(crate) fn invalid_pk(field: &str, id: &str) -> Self {
        ApiError::field(field, invalid_pk_message(id))
    }
}

pub(crate) fn invalid_pk_message(id: &str) -> String {
    format!("Invalid pk \"{id}\" - object does not exist.")
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::InvalidReference { field, id } => ApiError::invalid_pk(field, &id),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Backend(m) => ApiError::Internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let detail =
            |status: StatusCode, d: &str| (status, axum::Json(json!({ "detail": d }))).into_response();
        match self {
            ApiError::Validation(m) => {
                (StatusCode::BAD_REQUEST, axum::Json(Value::Object(m))).into_response()
            }
            ApiError::BadRequest(d) => detail(StatusCode::BAD_REQUEST, &d),
            ApiError::Unauthorized(d) => {
                let mut r = detail(StatusCode::UNAUTHORIZED, d);
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Api-Key"));
                r
            }
            ApiError::VisitorUnauthorized(d) => {
                let mut r = detail(StatusCode::UNAUTHORIZED, d);
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Visitor"));
                r
            }
            ApiError::Forbidden(d) => detail(StatusCode::FORBIDDEN, d),
            ApiError::NotFound => detail(StatusCode::NOT_FOUND, "Not found."),
            ApiError::NotFoundDetail(d) => detail(StatusCode::NOT_FOUND, d),
            ApiError::MethodNotAllowed(m) => {
                detail(StatusCode::METHOD_NOT_ALLOWED, &format!("Method \"{m}\" not allowed."))
            }
            ApiError::Conflict(m) => detail(StatusCode::CONFLICT, &m),
            ApiError::PayloadTooLarge => {
                // The rest of the body is never read, so the connection cannot carry another
                // request: say so, or a client's pool reuses it and its next request fails.
                let mut r = detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large.");
                r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                r
            }
            ApiError::RequestTimeout => {
                let mut r = detail(StatusCode::REQUEST_TIMEOUT, "Request body was not received in time.");
                r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                r
            }
            ApiError::TooManyStreams(cap) => {
                // DRF's throttled wording around the reason. No wait can be known (a slot
                // frees when some stream ends), so `Retry-After` is a short, typical reply's
                // length rather than a promise.
                let secs = STREAM_RETRY_AFTER_S;
                let mut r = detail(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!(
                        "Request was throttled: this API key has {cap} streams open, the most allowed. \
                         Expected available in {secs} seconds."
                    ),
                );
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
                r
            }
            ApiError::UnsupportedMediaType(t) => detail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("Unsupported media type \"{t}\" in request."),
            ),
            ApiError::Upstream(e) => {
                (StatusCode::BAD_GATEWAY, axum::Json(json!({ "detail": e.to_string(), "code": e.code() })))
                    .into_response()
            }
            ApiError::Unavailable(m) => {
                tracing::warn!(error = %m, "service unavailable");
                detail(StatusCode::SERVICE_UNAVAILABLE, "Service temporarily unavailable, try again soon.")
            }
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                detail(StatusCode::INTERNAL_SERVER_ERROR, "A server error occurred.")
            }
        }
    }
}

/// `Retry-After` of a request refused for too many open streams, in seconds.
const STREAM_RETRY_AFTER_S: u64 = 5;

/// Handler results.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
