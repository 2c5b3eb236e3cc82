//! Parlor's own extractors, so every rejection answers in the contract's shape: a body that
//! is not JSON is a 400 `JSON parse error`, a path id that is not a UUID is a 404, a missing
//! or bad key is a 401 with `WWW-Authenticate`.

use super::error::ApiError;
use super::validate::Body;
use crate::app::AppState;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use parlor_core::id::{ApiKeyId, OrgId};
use serde_json::Value;
use std::collections::HashMap;
use std::str::FromStr;

/// The caller, identified by its API key. Taking this extractor is what makes a handler
/// require a key, and every store call then gets `org` from here.
#[derive(Clone, Copy, Debug)]
pub struct Auth {
    pub org: OrgId,
    /// The key itself: streams are capped per key.
    pub key: ApiKeyId,
}

/// Splits `Authorization: <scheme> <key>` for the schemes the contract accepts.
pub(crate) fn parse_authorization(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::Unauthorized("Authentication credentials were not provided."));
    };
    let value = value.to_str().map_err(|_| ApiError::Unauthorized("Invalid API key format."))?;
    let mut parts = value.split_whitespace();
    let (Some(scheme), Some(key), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ApiError::Unauthorized("Invalid API key format."));
    };
    let known = ["api-key", "bearer", "token"].iter().any(|s| scheme.eq_ignore_ascii_case(s));
    if !known {
        return Err(ApiError::Unauthorized("Invalid API key format."));
    }
    Ok(key)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let digest = crate::keys::hash(parse_authorization(&parts.headers)?);
        // A key found valid less than a second ago is trusted without a query; a revoked
        // one is refused at the latest that long after (see `key_cache`).
        if let Some((org, key)) = state.keys.get(&digest) {
            return Ok(Auth { org, key });
        }
        let read_at = std::time::Instant::now();
        let found = state.store.find_api_key(&digest).await?;
        let key = found.ok_or(ApiError::Unauthorized("Invalid API key."))?;
        state.keys.put(digest, key.org, key.id, read_at);
        Ok(Auth { org: key.org, key: key.id })
    }
}

/// A JSON object body, ready for field-by-field validation ([`Body`]).
pub struct JsonBody(pub Body);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type =
            req.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("").to_string());
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::PayloadTooLarge
            }
            // The body stopped coming (the body timeout of `limits`) or broke off.
            BytesRejection::FailedToBufferBody(_) => ApiError::RequestTimeout,
            other => ApiError::BadRequest(other.body_text()),
        })?;
        match content_type {
            Some(ct) if is_json(&ct) => {}
            // DRF parses a request without a body as empty data.
            None if bytes.is_empty() => return Ok(JsonBody(Body::new(serde_json::Map::new()))),
            Some(ct) => {
                let ct = ct.split(';').next().unwrap_or("").trim().to_string();
                return Err(ApiError::UnsupportedMediaType(ct));
            }
            None => return Err(ApiError::UnsupportedMediaType(String::new())),
        }
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("JSON parse error - {e}")))?;
        match value {
            Value::Object(map) => Ok(JsonBody(Body::new(map))),
            other => Err(ApiError::Validation(non_field(format!(
                "Invalid data. Expected a dictionary, but got {}.",
                super::validate::type_name(&other)
            )))),
        }
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

pub(crate) fn non_field(message: String) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("nonFieldErrors".into(), Value::Array(vec![Value::String(message)]));
    m
}

/// A path id: anything that does not parse is 404, as for a row that does not exist.
pub struct Id<T>(pub T);

impl<T, S> FromRequestParts<S> for Id<T>
where
    T: FromStr + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        raw.parse().map(Id).map_err(|_| ApiError::NotFound)
    }
}

/// Two path ids (`/chatbots/{id}/knowledge/{doc}/`).
pub struct Ids<A, B>(pub A, pub B);

impl<A, B, S> FromRequestParts<S> for Ids<A, B>
where
    A: FromStr + Send,
    B: FromStr + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path((a, b)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound)?;
        Ok(Ids(a.parse().map_err(|_| ApiError::NotFound)?, b.parse().map_err(|_| ApiError::NotFound)?))
    }
}

/// The query string as a map; handlers read and validate the parameters they know.
pub struct QueryMap(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let map = form_urlencoded_pairs(q).collect();
        Ok(QueryMap(map))
    }
}

/// Decodes `a=1&b=x%20y` (the last of repeated keys wins, as Django's `QueryDict.get`).
pub(crate) fn form_urlencoded_pairs(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}
