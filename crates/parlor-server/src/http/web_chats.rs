//! `/web-chats/`: a ModelViewSet of web chats (each one an inbox).

use super::error::ApiResult;
use super::extract::{Auth, Id, JsonBody};
use super::pagination::{NumberBody, RequestUrl};
use super::validate::{Body, Need};
use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use parlor_core::id::{ChatbotId, WebChatId};
use parlor_core::input::{NewWebChat, WebChatPatch};
use parlor_core::model::{AccessType, WebChat};
use serde_json::Value;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/web-chats", get(list).post(create))
        .route("/web-chats/{id}", get(retrieve).put(update).patch(partial_update).delete(destroy))
}

/// `scheme://host[:port]`, lowercased, as browsers send `Origin`.
pub(crate) fn parse_origin(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"))?;
    let valid = !rest.is_empty()
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    valid.then_some(s)
}

fn fields(body: &mut Body, need: Need) -> WebChatPatch {
    let origins = body.list("allowedOrigins").and_then(|items| {
        let mut out = Vec::new();
        for item in items {
            match item {
                Value::String(s) => match parse_origin(&s) {
                    Some(o) => out.push(o),
                    None => {
                        body.error(
                            "allowedOrigins",
                            format!("\"{s}\" is not an origin like https://example.com."),
                        );
                        return None;
                    }
                },
                _ => {
                    body.error("allowedOrigins", "Not a valid string.");
                    return None;
                }
            }
        }
        Some(out)
    });
    WebChatPatch {
        name: body.string("name", need, false, 200),
        chatbot: body.id::<ChatbotId>("chatbot", need, false).flatten(),
        access_type: body
            .choice("accessType", Need::Optional, &["web", "api"])
            .and_then(|a| AccessType::parse(&a)),
        welcome_message: body.string("welcomeMessage", Need::Optional, true, 10_000),
        allowed_origins: origins,
        is_active: body.boolean("isActive"),
        enable_file_upload: body.boolean("enableFileUpload"),
    }
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    url: RequestUrl,
) -> ApiResult<Json<NumberBody<WebChat>>> {
    let req = url.page_request()?;
    let page = state.store.list_web_chats(auth.org, req).await?;
    Ok(Json(url.number_body(req, page)?))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(mut body): JsonBody,
) -> ApiResult<(StatusCode, Json<WebChat>)> {
    let p = fields(&mut body, Need::Required);
    body.finish()?;
    let (Some(name), Some(chatbot)) = (p.name, p.chatbot) else {
        return Err(super::error::ApiError::Internal("validated fields missing".into()));
    };
    let input = NewWebChat {
        name,
        chatbot,
        access_type: p.access_type.unwrap_or(AccessType::Web),
        welcome_message: p.welcome_message.unwrap_or_default(),
        allowed_origins: p.allowed_origins.unwrap_or_default(),
        is_active: p.is_active.unwrap_or(true),
        enable_file_upload: p.enable_file_upload.unwrap_or(true),
    };
    Ok((StatusCode::CREATED, Json(state.store.create_web_chat(auth.org, input).await?)))
}

async fn retrieve(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<WebChatId>,
) -> ApiResult<Json<WebChat>> {
    Ok(Json(state.store.get_web_chat(auth.org, id).await?))
}

async fn change(
    state: AppState,
    auth: Auth,
    id: WebChatId,
    mut body: Body,
    need: Need,
) -> ApiResult<Json<WebChat>> {
    state.store.get_web_chat(auth.org, id).await?;
    let patch = fields(&mut body, need);
    body.finish()?;
    Ok(Json(state.store.update_web_chat(auth.org, id, patch).await?))
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<WebChatId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<WebChat>> {
    change(state, auth, id, body, Need::Required).await
}

async fn partial_update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<WebChatId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<WebChat>> {
    change(state, auth, id, body, Need::Optional).await
}

async fn destroy(State(state): State<AppState>, auth: Auth, Id(id): Id<WebChatId>) -> ApiResult<StatusCode> {
    state.store.delete_web_chat(auth.org, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
