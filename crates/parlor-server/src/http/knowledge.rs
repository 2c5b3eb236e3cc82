//! `/chatbots/{id}/knowledge/`: a ModelViewSet of a chatbot's knowledge documents. An FAQ
//! entry is a document whose title is the question.

use super::error::{ApiError, ApiResult};
use super::extract::{Auth, Id, Ids, JsonBody};
use super::openapi::{ListErrors, ReadErrors, WriteErrors};
use super::pagination::{NumberBody, PageParams, RequestUrl};
use super::validate::{Body, Need};
use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use parlor_core::id::{ChatbotId, DocumentId};
use parlor_core::input::{DocumentPatch, NewDocument};
use parlor_core::model::Document;
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

/// A document as written (POST, PUT): `title` and `content` are required. Documentation
/// only; [`fields`] validates the raw JSON.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct DocumentWrite {
    /// The document's title; for an FAQ entry, the question.
    #[schema(min_length = 1, max_length = 1000)]
    title: String,
    #[schema(min_length = 1, max_length = 5000000)]
    content: String,
    /// Any JSON object (`{}` by default); completions' `queryMetadata` filters on it.
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
}

/// A document's fields to change (PATCH): any of [`DocumentWrite`]'s.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct DocumentPartial {
    #[schema(required = false, min_length = 1, max_length = 1000)]
    title: String,
    #[schema(required = false, min_length = 1, max_length = 5000000)]
    content: String,
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
}

fn fields(body: &mut Body, need: Need) -> DocumentPatch {
    DocumentPatch {
        title: body.string("title", need, false, 1000),
        content: body.string("content", need, false, 5_000_000),
        metadata: body.object("metadata").map(Option::unwrap_or_default),
    }
}

/// A chatbot's knowledge documents, newest first.
#[utoipa::path(get, path = "/chatbots/{chatbot}/knowledge", tag = "knowledge", operation_id = "knowledge_list",
    params(("chatbot" = uuid::Uuid, Path, description = "The chatbot's id."), PageParams), security(("Api-Key" = [])),
    responses((status = 200, description = "A page of documents.", body = NumberBody<Document>), ListErrors))]
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

/// Adds a document to a chatbot's knowledge.
#[utoipa::path(post, path = "/chatbots/{chatbot}/knowledge", tag = "knowledge", operation_id = "knowledge_create",
    params(("chatbot" = uuid::Uuid, Path, description = "The chatbot's id.")),
    request_body = DocumentWrite, security(("Api-Key" = [])),
    responses((status = 201, description = "Created.", body = Document), WriteErrors))]
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

/// One document.
#[utoipa::path(get, path = "/chatbots/{chatbot}/knowledge/{id}", tag = "knowledge", operation_id = "knowledge_retrieve",
    params(("chatbot" = uuid::Uuid, Path, description = "The chatbot's id."),
        ("id" = uuid::Uuid, Path, description = "The document's id.")), security(("Api-Key" = [])),
    responses((status = 200, description = "The document.", body = Document), ReadErrors))]
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

/// Replaces a document's fields (`title` and `content` required).
#[utoipa::path(put, path = "/chatbots/{chatbot}/knowledge/{id}", tag = "knowledge", operation_id = "knowledge_update",
    params(("chatbot" = uuid::Uuid, Path, description = "The chatbot's id."),
        ("id" = uuid::Uuid, Path, description = "The document's id.")),
    request_body = DocumentWrite, security(("Api-Key" = [])),
    responses((status = 200, description = "Updated.", body = Document), WriteErrors))]
async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Ids(chatbot, id): Ids<ChatbotId, DocumentId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Document>> {
    change(state, auth, chatbot, id, body, Need::Required).await
}

/// Changes the given fields of a document.
#[utoipa::path(patch, path = "/chatbots/{chatbot}/knowledge/{id}", tag = "knowledge", operation_id = "knowledge_partial_update",
    params(("chatbot" = uuid::Uuid, Path, description = "The chatbot's id."),
        ("id" = uuid::Uuid, Path, description = "The document's id.")),
    request_body = DocumentPartial, security(("Api-Key" = [])),
    responses((status = 200, description = "Updated.", body = Document), WriteErrors))]
async fn partial_update(
    State(state): State<AppState>,
    auth: Auth,
    Ids(chatbot, id): Ids<ChatbotId, DocumentId>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Document>> {
    change(state, auth, chatbot, id, body, Need::Optional).await
}

/// Deletes a document.
#[utoipa::path(delete, path = "/chatbots/{chatbot}/knowledge/{id}", tag = "knowledge", operation_id = "knowledge_destroy",
    params(("chatbot" = uuid::Uuid, Path, description = "The chatbot's id."),
        ("id" = uuid::Uuid, Path, description = "The document's id.")), security(("Api-Key" = [])),
    responses((status = 204, description = "Deleted."), ReadErrors))]
async fn destroy(
    State(state): State<AppState>,
    auth: Auth,
    Ids(chatbot, id): Ids<ChatbotId, DocumentId>,
) -> ApiResult<StatusCode> {
    state.store.delete_document(auth.org, chatbot, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
