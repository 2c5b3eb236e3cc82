//! The widget's assets, compiled into the binary so Parlor stays one file: the script a site
//! embeds (`/widget/{webChat}.js`) and the hosted chat page (`/chat/{webChat}`).
//!
//! The script is the same for every web chat: it reads the web chat's id and Parlor's address
//! from its own `src`, so browsers and proxies can cache one file. Both routes answer 404 for
//! a web chat that does not exist, so a mistyped id shows at once.

use crate::app::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::openapi::Detail;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parlor_core::id::WebChatId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The widget: plain modern JavaScript, no build step, no dependencies.
const SCRIPT: &str = include_str!("../../../assets/widget.js");
/// The hosted page; `{{WEB_CHAT}}` is replaced by the web chat's id.
const PAGE: &str = include_str!("../../../assets/chat.html");

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(script)).routes(routes!(page))
}

/// The web chat of an asset path, if it exists.
async fn known(state: &AppState, raw: &str) -> ApiResult<WebChatId> {
    let id: WebChatId = raw.parse().map_err(|_| ApiError::NotFound)?;
    state.store.find_web_chat(id).await?;
    Ok(id)
}

/// The widget script, for `<script src=".../widget/<webChat>.js" async></script>`: it adds
/// a launcher button and a chat panel to the page.
#[utoipa::path(get, path = "/widget/{script}", tag = "widget", operation_id = "widget_script",
    params(("script" = String, Path, description = "`<webChat id>.js`")),
    responses(
        (status = 200, description = "The script.", content_type = "text/javascript", body = String),
        (status = 404, description = "No such web chat.", body = Detail)))]
async fn script(State(state): State<AppState>, Path(script): Path<String>) -> ApiResult<Response> {
    let raw = script.strip_suffix(".js").ok_or(ApiError::NotFound)?;
    known(&state, raw).await?;
    let mut r = (StatusCode::OK, SCRIPT).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    // Revalidated on each load, so a new Parlor's widget is picked up at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(r)
}

/// The hosted chat page: the widget filling the whole page, for a link or an iframe.
#[utoipa::path(get, path = "/chat/{webChat}", tag = "widget", operation_id = "widget_page",
    params(("webChat" = uuid::Uuid, Path, description = "The web chat's id.")),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        (status = 404, description = "No such web chat.", body = Detail)))]
async fn page(State(state): State<AppState>, Path(raw): Path<String>) -> ApiResult<Response> {
    let id = known(&state, &raw).await?;
    // The id is a parsed UUID: nothing in it needs escaping.
    let html = PAGE.replace("{{WEB_CHAT}}", &id.to_string());
    let mut r = (StatusCode::OK, html).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // The page runs only Parlor's own script and talks only to Parlor.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' blob: data: https: http:; \
             connect-src 'self'; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(r)
}
