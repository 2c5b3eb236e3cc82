//! `/inboxes/`: the read-only inbox view of web chats, filterable by channel type and chatbot.

use super::error::{ApiError, ApiResult};
use super::extract::{Auth, Id};
use super::openapi::{ListErrors, ReadErrors};
use super::pagination::{NumberBody, PageParams, RequestUrl};
use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use parlor_core::id::{ChatbotId, WebChatId};
use parlor_core::input::InboxFilter;
use parlor_core::model::Inbox;
use parlor_core::page::NumberPage;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(retrieve))
}

/// The inbox list's filters.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct InboxFilters {
    /// Every inbox is a web chat: `web` (or blank) lists them all, any other value none.
    channel_type: Option<String>,
    /// Only the inboxes of this chatbot (one of another organization: none).
    chatbot: Option<uuid::Uuid>,
}

/// The organization's inboxes (its web chats), newest first.
#[utoipa::path(get, path = "/inboxes", tag = "inboxes", operation_id = "inboxes_list",
    params(InboxFilters, PageParams), security(("Api-Key" = [])),
    responses((status = 200, description = "A page of inboxes.", body = NumberBody<Inbox>), ListErrors))]
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

/// One inbox.
#[utoipa::path(get, path = "/inboxes/{id}", tag = "inboxes", operation_id = "inboxes_retrieve",
    params(("id" = uuid::Uuid, Path, description = "The inbox's (web chat's) id.")), security(("Api-Key" = [])),
    responses((status = 200, description = "The inbox.", body = Inbox), ReadErrors))]
async fn retrieve(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<WebChatId>,
) -> ApiResult<Json<Inbox>> {
    Ok(Json(state.store.get_inbox(auth.org, id).await?))
}
