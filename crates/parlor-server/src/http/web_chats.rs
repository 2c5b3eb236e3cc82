//! `/web-chats/`: a ModelViewSet of web chats (each one an inbox).

use super::error::ApiResult;
use super::extract::{Auth, Id, JsonBody};
use super::openapi::{ListErrors, ReadErrors, WriteErrors};
use super::pagination::{NumberBody, PageParams, RequestUrl};
use super::validate::{Body, Need};
use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use parlor_core::id::{ChatbotId, WebChatId};
use parlor_core::input::{NewWebChat, WebChatPatch};
use parlor_core::model::{AccessType, WebChat};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(
        retrieve,
        update,
        partial_update,
        destroy
    ))
}

/// A web chat as written (POST, PUT): `name` and `chatbot` are required. Documentation only;
/// [`fields`] validates the raw JSON.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct WebChatWrite {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// The chatbot that answers here: a chatbot of this organization.
    chatbot: uuid::Uuid,
    /// Default `web`.
    #[schema(required = false)]
    access_type: AccessType,
    #[schema(required = false, max_length = 10000)]
    welcome_message: String,
    /// Origins (`https://example.com`) whose pages may use the widget; empty (the default)
    /// allows any.
    #[schema(required = false)]
    allowed_origins: Vec<String>,
    /// Default true.
    #[schema(required = false)]
    is_active: bool,
    /// Default true.
    #[schema(required = false)]
    enable_file_upload: bool,
}

/// A web chat's fields to change (PATCH): any of [`WebChatWrite`]'s.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct WebChatPartial {
    #[schema(required = false, min_length = 1, max_length = 200)]
    name: String,
    #[schema(required = false)]
    chatbot: uuid::Uuid,
    #[schema(required = false)]
    access_type: AccessType,
    #[schema(required = false, max_length = 10000)]
    welcome_message: String,
    #[schema(required = false)]
    allowed_origins: Vec<String>,
    #[schema(required = false)]
    is_active: bool,
    #[schema(required = false)]
    enable_file_upload: bool,
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

/// The organization's web chats, newest first.
#[utoipa::path(get, path = "/web-chats", tag = "web chats", operation_id = "web_chats_list",
    params(PageParams), security(("Api-Key" = [])),
    responses((status = 200, description = "A page of web chats.", body = NumberBody<WebChat>), ListErrors))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    url: RequestUrl,
) -> ApiResult<Json<NumberBody<WebChat>>> {
    let req = url.page_request()?;
    let page = state.store.list_web_chats(auth.org, req).await?;
    Ok(Json(url.number_body(req, page)?))
}

/// Creates a web chat for a chatbot.
#[utoipa::path(post, path = "/web-chats", tag = "web chats", operation_id = "web_chats_create",
    request_body = WebChatWrite, security(("Api-Key" = [])),
    responses((status = 201, description = "Created.", body = WebChat), WriteErrors))]
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

/// One web chat.
#[utoipa::path(get, path = "/web-chats/{id}", tag = "web chats", operation_id = "web_chats_retrieve",
    params(("id" = uuid::Uuid, Path, description = "The web chat's id.")), security(("Api-Key" = [])),
    responses((status = 200, description = "The web chat.", body = WebChat), ReadErrors))]
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

/// Replaces a web chat's fields (`name` and `chatbot` required; fields left out keep their values).
#[utoipa::path(put, path = "/web-chats/{id}", tag = "web chats", operation_id = "web_chats_update",
    params(("id" = uuid::Uuid, Path, description = "The web chat's id.")),
    request_body = WebChatWrite, security(("Api-Key" = [])),
    responses((status = 200, description = "Updated.", body = WebChat), WriteErrors))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<WebChatId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<WebChat>> {
    change(state, auth, id, body, Need::Required).await
}

/// Changes the given fields of a web chat.
#[utoipa::path(patch, path = "/web-chats/{id}", tag = "web chats", operation_id = "web_chats_partial_update",
    params(("id" = uuid::Uuid, Path, description = "The web chat's id.")),
    request_body = WebChatPartial, security(("Api-Key" = [])),
    responses((status = 200, description = "Updated.", body = WebChat), WriteErrors))]
async fn partial_update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<WebChatId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<WebChat>> {
    change(state, auth, id, body, Need::Optional).await
}

/// Deletes a web chat and its conversations.
#[utoipa::path(delete, path = "/web-chats/{id}", tag = "web chats", operation_id = "web_chats_destroy",
    params(("id" = uuid::Uuid, Path, description = "The web chat's id.")), security(("Api-Key" = [])),
    responses((status = 204, description = "Deleted."), ReadErrors))]
async fn destroy(State(state): State<AppState>, auth: Auth, Id(id): Id<WebChatId>) -> ApiResult<StatusCode> {
    state.store.delete_web_chat(auth.org, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
