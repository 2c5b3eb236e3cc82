//! `/inboxes/`: the read-only inbox view of web chats, filterable by channel type and chatbot.

use super::error::{ApiError, ApiResult};
use super::extract::{Auth, Id};
use super::pagination::{NumberBody, RequestUrl};
use crate::app::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use parlor_core::id::{ChatbotId, WebChatId};
use parlor_core::input::InboxFilter;
use parlor_core::model::Inbox;
use parlor_core::page::NumberPage;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/inboxes", get(list)).route("/inboxes/{id}", get(retrieve))
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    url: RequestUrl,
) -> ApiResult<Json<NumberBody<Inbox>>> {
    let req = url.page_request()?;
    let chatbot = match url.get("chatbot") {
        None | Some("") => None,
        Some(s) => {
            Some(s.parse::<ChatbotId>().map_err(|_| ApiError::field("chatbot", "Must be a valid UUID."))?)
        }
    };
    // Every inbox is a web chat: another channel type lists nothing.
    let page = match url.get("channelType") {
        None | Some("") | Some("web") => {
            state.store.list_inboxes(auth.org, InboxFilter { chatbot }, req).await?
        }
        Some(_) => NumberPage { count: 0, items: vec![] },
    };
    Ok(Json(url.number_body(req, page)?))
}

async fn retrieve(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<WebChatId>,
) -> ApiResult<Json<Inbox>> {
    Ok(Json(state.store.get_inbox(auth.org, id).await?))
}
