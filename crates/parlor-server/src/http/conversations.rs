//! `/conversations/`: create, list (cursor-paged, by inbox and keyword), read, update,
//! delete, and mark read.

use super::error::{ApiError, ApiResult};
use super::extract::{Auth, Id, JsonBody};
use super::pagination::{CursorBody, RequestUrl};
use super::validate::Need;
use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use parlor_core::id::{ContactId, ConversationId, WebChatId};
use parlor_core::input::{ConversationFilter, ConversationPatch, NewConversation};
use parlor_core::model::{Conversation, ConversationStatus};
use parlor_core::page::CursorPage;
use parlor_core::search::Query;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations", get(list).post(create))
        .route("/conversations/{id}", get(retrieve).patch(partial_update).delete(destroy))
        .route("/conversations/{id}/read", post(read))
}

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
    let filter = ConversationFilter { inbox, keyword: keyword.and_then(Query::keyword) };
    // A keyword with nothing searchable in it (only punctuation) matches nothing.
    let result = if keyword.is_some() && filter.keyword.is_none() {
        CursorPage { items: vec![], next: None, previous: None }
    } else {
        state.store.list_conversations(auth.org, filter, page).await?
    };
    Ok(Json(url.cursor_body(result)))
}

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

async fn retrieve(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ConversationId>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.store.get_conversation(auth.org, id).await?))
}

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

async fn destroy(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ConversationId>,
) -> ApiResult<StatusCode> {
    state.store.delete_conversation(auth.org, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn read(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ConversationId>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.store.mark_conversation_read(auth.org, id).await?))
}
