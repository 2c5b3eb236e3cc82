//! `/attachments/`: registering an external file by URL, so messages can reference it by id.

use super::error::ApiResult;
use super::extract::{Auth, JsonBody};
use super::validate::{Body, Need};
use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use parlor_core::input::NewAttachment;
use parlor_core::model::{Attachment, AttachmentType};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/attachments", post(create))
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
