//! `/chatbots/{id}/knowledge/`: a ModelViewSet of a chatbot's knowledge documents. An FAQ
//! entry is a document whose title is the question.

use super::error::{ApiError, ApiResult};
use super::extract::{Auth, Id, Ids, JsonBody};
use super::pagination::{NumberBody, RequestUrl};
use super::validate::{Body, Need};
use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use parlor_core::id::{ChatbotId, DocumentId};
use parlor_core::input::{DocumentPatch, NewDocument};
use parlor_core::model::Document;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/chatbots/{chatbot}/knowledge", get(list).post(create)).route(
        "/chatbots/{chatbot}/knowledge/{id}",
        get(retrieve).put(update).patch(partial_update).delete(destroy),
    )
}

fn fields(body: &mut Body, need: Need) -> DocumentPatch {
    DocumentPatch {
        title: body.string("title", need, false, 1000),
        content: body.string("content", need, false, 5_000_000),
        metadata: body.object("metadata").map(Option::unwrap_or_default),
    }
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Id(chatbot): Id<ChatbotId>,
    url: RequestUrl,
) -> ApiResult<Json<NumberBody<Document>>> {
    let req = url.page_request()?;
    let page = state.store.list_documents(auth.org, chatbot, req).await?;
    Ok(Json(url.number_body(req, page)?))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Id(chatbot): Id<ChatbotId>,
    JsonBody(mut body): JsonBody,
) -> ApiResult<(StatusCode, Json<Document>)> {
    state.store.get_chatbot(auth.org, chatbot).await?;
    let p = fields(&mut body, Need::Required);
    body.finish()?;
    let (Some(title), Some(content)) = (p.title, p.content) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let input = NewDocument { title, content, metadata: p.metadata.unwrap_or_default() };
    Ok((StatusCode::CREATED, Json(state.store.create_document(auth.org, chatbot, input).await?)))
}

async fn retrieve(
    State(state): State<AppState>,
    auth: Auth,
    Ids(chatbot, id): Ids<ChatbotId, DocumentId>,
) -> ApiResult<Json<Document>> {
    Ok(Json(state.store.get_document(auth.org, chatbot, id).await?))
}

async fn change(
    state: AppState,
    auth: Auth,
    chatbot: ChatbotId,
    id: DocumentId,
    mut body: Body,
    need: Need,
) -> ApiResult<Json<Document>> {
    state.store.get_document(auth.org, chatbot, id).await?;
    let patch = fields(&mut body, need);
    body.finish()?;
    Ok(Json(state.store.update_document(auth.org, chatbot, id, patch).await?))
}

async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Ids(chatbot, id): Ids<ChatbotId, DocumentId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Document>> {
    change(state, auth, chatbot, id, body, Need::Required).await
}

async fn partial_update(
    State(state): State<AppState>,
    auth: Auth,
    Ids(chatbot, id): Ids<ChatbotId, DocumentId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Document>> {
    change(state, auth, chatbot, id, body, Need::Optional).await
}

async fn destroy(
    State(state): State<AppState>,
    auth: Auth,
    Ids(chatbot, id): Ids<ChatbotId, DocumentId>,
) -> ApiResult<StatusCode> {
    state.store.delete_document(auth.org, chatbot, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
