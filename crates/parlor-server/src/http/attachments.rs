//! `/attachments/`: registering an external file by URL, so messages can reference it by id.

use super::error::ApiResult;
use super::extract::{Auth, JsonBody};
use super::openapi::WriteErrors;
use super::validate::{Body, Need};
use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use parlor_core::input::NewAttachment;
use parlor_core::model::{Attachment, AttachmentType};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create))
}

/// An external file: `type` and `file` are required. Documentation only; [`external`]
/// validates the raw JSON.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct ExternalAttachment {
    #[schema(rename = "type")]
    kind: AttachmentType,
    /// Where the file can be fetched: an http(s) URL.
    #[schema(min_length = 1, max_length = 2048, format = "uri")]
    file: String,
    /// Default: the last segment of the URL's path.
    #[schema(required = false, min_length = 1, max_length = 255)]
    filename: String,
}

/// The last path segment of a URL, as a default file name.
pub(crate) fn filename_of(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    if name.is_empty() { "file".into() } else { name.chars().take(255).collect() }
}

/// Reads `{type, filename, file}` of an external attachment.
pub(crate) fn external(body: &mut Body) -> Option<(AttachmentType, String, String)> {
    let kind =
        body.choice("type", Need::Required, &AttachmentType::ALL).and_then(|k| AttachmentType::parse(&k));
    let file = body.url("file", Need::Required, false).flatten();
    let filename = body.string("filename", Need::Optional, false, 255);
    let (kind, file) = (kind?, file?);
    let filename = filename.unwrap_or_else(|| filename_of(&file));
    Some((kind, filename, file))
}

/// Registers an external file by URL, so messages can reference it by `id`.
#[utoipa::path(post, path = "/attachments", tag = "attachments", operation_id = "attachments_create",
    request_body = ExternalAttachment, security(("Api-Key" = [])),
    responses((status = 201, description = "Created.", body = Attachment), WriteErrors))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(mut body): JsonBody,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    let parsed = external(&mut body);
    body.finish()?;
    let Some((kind, filename, file)) = parsed else {
        return Err(super::error::ApiError::Internal("validated fields missing".into()));
    };
    let input = NewAttachment {
        kind,
        filename,
        file: Some(file),
        storage_path: None,
        content_type: None,
        size: None,
    };
    let stored = state.store.create_attachment(auth.org, input).await?;
    Ok((StatusCode::CREATED, Json(stored.attachment)))
}
