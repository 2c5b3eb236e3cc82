//! Pagination parameters and bodies: absolute `next`/`previous` links built from the
//! request's own scheme, host and path (behind a proxy, `X-Forwarded-Proto`/`-Host`), with
//! the other query parameters kept.

use super::error::ApiError;
use super::extract::form_urlencoded_pairs;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use parlor_core::page::{Cursor, CursorPage, CursorRequest, NumberPage, PageRequest, page_size};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

/// The URL of the current request, for building page links.
#[derive(Clone, Debug)]
pub struct RequestUrl {
    base: String,
    pairs: Vec<(String, String)>,
}

/// The path the client asked for, before trailing-slash normalization (set by
/// [`crate::app`]'s outermost layer), so `/api/v1/x/` links stay `/api/v1/x/`.
#[derive(Clone, Debug)]
pub struct OriginalPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let path = parts
            .extensions
            .get::<OriginalPath>()
            .map(|p| p.0.clone())
            .unwrap_or_else(|| parts.uri.path().to_string());
        let base = format!("{}://{}{}", scheme(&parts.headers), host(parts), path);
        let pairs = form_urlencoded_pairs(parts.uri.query().unwrap_or("")).collect();
        Ok(RequestUrl { base, pairs })
    }
}

/// The request's origin, `scheme://host` as the client reached it (behind a proxy, from
/// `X-Forwarded-Proto`/`-Host`), for absolute URLs of Parlor's own resources.
#[derive(Clone, Debug)]
pub struct Origin(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Origin(format!("{}://{}", scheme(&parts.headers), host(parts))))
    }
}

fn first_forwarded(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn scheme(headers: &HeaderMap) -> String {
    first_forwarded(headers, "x-forwarded-proto")
        .filter(|s| s == "http" || s == "https")
        .unwrap_or_else(|| "http".into())
}

fn host(parts: &Parts) -> String {
    first_forwarded(&parts.headers, "x-forwarded-host")
        .or_else(|| parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string))
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".into())
}

impl RequestUrl {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// This URL with `name` set to `value` (or removed when `None`).
    fn with(&self, name: &str, value: Option<String>) -> String {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        let mut replaced = false;
        for (k, v) in &self.pairs {
            if k == name {
                if let (Some(val), false) = (&value, replaced) {
                    ser.append_pair(k, val);
                    replaced = true;
                }
            } else {
                ser.append_pair(k, v);
            }
        }
        if let (Some(val), false) = (&value, replaced) {
            ser.append_pair(name, val);
        }
        let q = ser.finish();
        if q.is_empty() { self.base.clone() } else { format!("{}?{}", self.base, q) }
    }

    /// `cursor` and `pageSize` of a cursor-paged list; a cursor that does not decode is 404.
    pub(crate) fn cursor_request(&self) -> Result<CursorRequest, ApiError> {
        let cursor = match self.get("cursor") {
            None | Some("") => None,
            Some(c) => Some(Cursor::decode(c).ok_or(ApiError::NotFoundDetail("Invalid cursor"))?),
        };
        Ok(CursorRequest { cursor, page_size: page_size(self.get("pageSize")) })
    }

    /// `page` and `pageSize` of a page-number list; a page that is not a positive number is
    /// 404 `Invalid page.`, as in DRF.
    pub(crate) fn page_request(&self) -> Result<PageRequest, ApiError> {
        let page = match self.get("page") {
            None | Some("") => 1,
            Some(p) => p
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or(ApiError::NotFoundDetail("Invalid page."))?,
        };
        Ok(PageRequest { page, page_size: page_size(self.get("pageSize")) })
    }

    pub(crate) fn cursor_body<T: Serialize>(&self, page: CursorPage<T>) -> CursorBody<T> {
        CursorBody {
            next: page.next.map(|c| self.with("cursor", Some(c.encode()))),
            previous: page.previous.map(|c| self.with("cursor", Some(c.encode()))),
            results: page.items,
        }
    }

    /// The page body; a page past the end (other than an empty first page) is 404.
    pub(crate) fn number_body<T: Serialize>(
        &self,
        req: PageRequest,
        page: NumberPage<T>,
    ) -> Result<NumberBody<T>, ApiError> {
        let pages = (page.count as usize).div_ceil(req.page_size).max(1);
        if req.page > pages {
            return Err(ApiError::NotFoundDetail("Invalid page."));
        }
        let next = (req.page < pages).then(|| self.with("page", Some((req.page + 1).to_string())));
        let previous = match req.page {
            1 => None,
            2 => Some(self.with("page", None)),
            p => Some(self.with("page", Some((p - 1).to_string()))),
        };
        Ok(NumberBody { count: page.count, next, previous, results: page.items })
    }
}

/// A cursor-paged list body.
#[derive(Serialize, ToSchema)]
pub struct CursorBody<T> {
    /// The next (older) page, or null on the last.
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// A page-number list body.
#[derive(Serialize, ToSchema)]
pub struct NumberBody<T> {
    /// Rows matching the request, on every page.
    pub count: i64,
    /// The next page, or null on the last.
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// `page` and `pageSize` of a page-number list, for the OpenAPI document (the handlers read
/// them through [`RequestUrl`], leniently, as DRF does).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct PageParams {
    /// The page, from 1. A page past the end (or not a positive number) is 404 `Invalid page.`.
    #[param(minimum = 1)]
    page: Option<u64>,
    /// Rows a page: default 20, at most 100 (larger values are clamped); a non-number or a
    /// value below 1 falls back to 20.
    #[param(rename = "pageSize", minimum = 1)]
    page_size: Option<u64>,
}

/// `cursor` and `pageSize` of a cursor-paged list, for the OpenAPI document.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct CursorParams {
    /// An opaque cursor from a `next` or `previous` link; one that does not decode is 404
    /// `Invalid cursor`.
    cursor: Option<String>,
    /// Rows a page: default 20, at most 100 (larger values are clamped); a non-number or a
    /// value below 1 falls back to 20.
    #[param(rename = "pageSize", minimum = 1)]
    page_size: Option<u64>,
}
