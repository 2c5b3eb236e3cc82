//! `/conversations/`: create, list (cursor-paged, by inbox and keyword), read, update,
//! delete, and mark read.

use super::error::{ApiError, ApiResult};
use super::extract::{Auth, Id, JsonBody};
use super::openapi::{ListErrors, ReadErrors, WriteErrors};
use super::pagination::{CursorBody, CursorParams, RequestUrl};
use super::validate::Need;
use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use parlor_core::id::{ContactId, ConversationId, WebChatId};
use parlor_core::input::{ConversationFilter, ConversationPatch, NewConversation};
use parlor_core::model::{Conversation, ConversationStatus};
use parlor_core::page::CursorPage;
use parlor_core::search::Query;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(retrieve, partial_update, destroy))
        .routes(routes!(read))
}

/// The conversation list's filters.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct ConversationFilters {
    /// Only the conversations of this inbox (web chat); one of another organization: none.
    inbox: Option<uuid::Uuid>,
    /// Full-text search of the title and every message: terms ANDed, each a word or word
    /// prefix, case- and accent-insensitive (`cafe` finds `Café`), no stemming; text without
    /// spaces (Chinese, Japanese) matches by substring. Blank: no filter.
    keyword: Option<String>,
}

/// A new conversation: `webChat` is required. Documentation only; [`create`] validates the
/// raw JSON.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct ConversationCreate {
    /// The web chat (inbox) it comes through, of this organization.
    web_chat: uuid::Uuid,
    /// Its contact; without one, a new contact named `Visitor <n>` is made.
    contact: Option<uuid::Uuid>,
    /// Default: the first incoming message, cut to 100 characters.
    #[schema(required = false, max_length = 255)]
    title: String,
}

/// A conversation's fields to change.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct ConversationPartial {
    #[schema(required = false, max_length = 255)]
    title: String,
    #[schema(required = false)]
    status: ConversationStatus,
    /// Whether the chatbot answers incoming messages.
    #[schema(required = false)]
    auto_reply_enabled: bool,
}

/// The organization's conversations, newest first (also under `keyword`).
#[utoipa::path(get, path = "/conversations", tag = "conversations", operation_id = "conversations_list",
    params(ConversationFilters, CursorParams), security(("Api-Key" = [])),
    responses((status = 200, description = "A page of conversations.", body = CursorBody<Conversation>), ListErrors))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    url: RequestUrl,
) -> ApiResult<Json<CursorBody<Conversation>>> {
    let page = url.cursor_request()?;
    let inbox = match url.get("inbox") {
        None | Some("") => None,
        Some(s) => {
            Some(s.parse::<WebChatId>().map_err(|_| ApiError::field("inbox", "Must be a valid UUID."))?)
        }
    };
    let keyword = url.get("keyword").filter(|k| !k.trim().is_empty());
    let filter = ConversationFilter { inbox, keyword: keyword.and_then(Query::keyword), contact: None };
    // A keyword with nothing searchable in it (only punctuation) matches nothing.
    let result = if keyword.is_some() && filter.keyword.is_none() {
        CursorPage { items: vec![], next: None, previous: None }
    } else {
        state.store.list_conversations(auth.org, filter, page).await?
    };
    Ok(Json(url.cursor_body(result)))
}

/// Starts a conversation in a web chat.
#[utoipa::path(post, path = "/conversations", tag = "conversations", operation_id = "conversations_create",
    request_body = ConversationCreate, security(("Api-Key" = [])),
    responses((status = 201, description = "Created.", body = Conversation), WriteErrors))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(mut body): JsonBody,
) -> ApiResult<(StatusCode, Json<Conversation>)> {
    let web_chat = body.id::<WebChatId>("webChat", Need::Required, false).flatten();
    let contact = body.id::<ContactId>("contact", Need::Optional, true).flatten();
    let title = body.string("title", Need::Optional, true, 255);
    body.finish()?;
    let Some(web_chat) = web_chat else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let input = NewConversation { web_chat, contact, title };
    Ok((StatusCode::CREATED, Json(state.store.create_conversation(auth.org, input).await?)))
}

/// One conversation.
#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations", operation_id = "conversations_retrieve",
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")), security(("Api-Key" = [])),
    responses((status = 200, description = "The conversation.", body = Conversation), ReadErrors))]
async fn retrieve(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ConversationId>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.store.get_conversation(auth.org, id).await?))
}

/// Changes a conversation's title, status or auto-reply.
#[utoipa::path(patch, path = "/conversations/{id}", tag = "conversations", operation_id = "conversations_partial_update",
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")), request_body = ConversationPartial, security(("Api-Key" = [])),
    responses((status = 200, description = "Updated.", body = Conversation), WriteErrors))]
async fn partial_update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ConversationId>,
    JsonBody(mut body): JsonBody,
) -> ApiResult<Json<Conversation>> {
    state.store.get_conversation(auth.org, id).await?;
    let patch = ConversationPatch {
        title: body.string("title", Need::Optional, true, 255),
        status: body
            .choice("status", Need::Optional, &["open", "resolved"])
            .and_then(|s| ConversationStatus::parse(&s)),
        auto_reply_enabled: body.boolean("autoReplyEnabled"),
    };
    body.finish()?;
    Ok(Json(state.store.update_conversation(auth.org, id, patch).await?))
}

/// Deletes a conversation with its messages.
#[utoipa::path(delete, path = "/conversations/{id}", tag = "conversations", operation_id = "conversations_destroy",
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")), security(("Api-Key" = [])),
    responses((status = 204, description = "Deleted."), ReadErrors))]
async fn destroy(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ConversationId>,
) -> ApiResult<StatusCode> {
    state.store.delete_conversation(auth.org, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Marks a conversation read: `lastReadAt` becomes now, `unreadMessagesCount` 0. No body.
#[utoipa::path(post, path = "/conversations/{id}/read", tag = "conversations", operation_id = "conversations_read",
    params(("id" = uuid::Uuid, Path, description = "The conversation's id.")), security(("Api-Key" = [])),
    responses((status = 200, description = "The conversation, read.", body = Conversation), ReadErrors))]
async fn read(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ConversationId>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.store.mark_conversation_read(auth.org, id).await?))
}
