//! `/chatbots/{id}/webhook-records/`: every webhook try of a chatbot, newest first,
//! page-number paginated.

use super::error::ApiResult;
use super::extract::{Auth, Id};
use super::openapi::ListErrors;
use super::pagination::{NumberBody, PageParams, RequestUrl};
use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use parlor_core::id::ChatbotId;
use parlor_core::model::WebhookRecord;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// Every try to deliver the chatbot's replies to its `webhookUrl`, newest first.
#[utoipa::path(get, path = "/chatbots/{chatbot}/webhook-records", tag = "webhooks", operation_id = "webhook_records_list",
    params(("chatbot" = uuid::Uuid, Path, description = "The chatbot's id."), PageParams), security(("Api-Key" = [])),
    responses((status = 200, description = "A page of delivery tries.", body = NumberBody<WebhookRecord>), ListErrors))]
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
