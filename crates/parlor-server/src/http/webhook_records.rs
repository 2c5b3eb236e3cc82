//! `/chatbots/{id}/webhook-records/`: every webhook try of a chatbot, newest first,
//! page-number paginated.

use super::error::ApiResult;
use super::extract::{Auth, Id};
use super::pagination::{NumberBody, RequestUrl};
use crate::app::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use parlor_core::id::ChatbotId;
use parlor_core::model::WebhookRecord;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/chatbots/{chatbot}/webhook-records", get(list))
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ChatbotId>,
    url: RequestUrl,
) -> ApiResult<Json<NumberBody<WebhookRecord>>> {
    let req = url.page_request()?;
    let page = state.store.list_webhook_records(auth.org, id, req).await?;
    Ok(Json(url.number_body(req, page)?))
}
