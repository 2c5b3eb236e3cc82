//! A visitor's images: upload (multipart) and read back.
//!
//! Kept apart from the organization's own upload endpoint (`/api/attachments-upload/`) on
//! purpose: a visitor may upload only images, only when the web chat enables uploads, and may
//! read back only its own. An upload is stored under the data dir at
//! `uploads/visitors/<contact id>/<random name>`, and that path is also what marks whose it
//! is ([`owned_by`]): it is set here, never by a client. The attachment's `file` is the
//! organization's URL for uploads; the visitor reads the file here, with its token, and the
//! organization may too, with its key.

use super::{Visitor, WidgetChat};
use crate::app::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, Ids};
use crate::http::openapi::Detail;
use axum::Json;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parlor_core::id::{AttachmentId, ContactId, WebChatId};
use parlor_core::input::NewAttachment;
use parlor_core::model::{Attachment, AttachmentType, StoredAttachment};
use std::path::{Component, Path, PathBuf};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where visitors' uploads live, relative to the data dir.
const VISITOR_DIR: &str = "uploads/visitors";

const NOT_AN_IMAGE: &str =
    "Upload a valid image. The file you uploaded was either not an image or a corrupted image.";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        // The JSON limit (1 MiB) does not apply; the handler enforces the upload limit as
        // the file streams in.
        .layer(DefaultBodyLimit::disable())
        .routes(routes!(file))
}

/// Whether a stored attachment is an upload of this visitor.
pub(super) fn owned_by(a: &StoredAttachment, contact: ContactId) -> bool {
    a.storage_path.as_deref().is_some_and(|p| p.starts_with(&format!("{VISITOR_DIR}/{contact}/")))
}

/// The image formats browsers show, told by their first bytes (the client's content type is
/// not trusted: the file is served back with the type found here).
fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// A multipart upload. Documentation only.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct VisitorUpload {
    /// A PNG, JPEG, GIF or WebP image, at most the upload limit (20 MiB by default).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest(format!("Multipart form parse error - {}", e.body_text()))
    }
}

/// Uploads an image (multipart field `file`) for the visitor's next message; send its `id`
/// in the message's `attachments`. Only when the web chat has `enableFileUpload`.
#[utoipa::path(post, path = "/widget/{webChat}/uploads", tag = "widget", operation_id = "widget_uploads_create",
    params(("webChat" = uuid::Uuid, Path, description = "The web chat's id.")),
    request_body(content = VisitorUpload, content_type = "multipart/form-data"),
    security(("Visitor" = [])),
    responses(
        (status = 201, description = "Created.", body = Attachment),
        (status = 400, description = "No `file`, or not an image.", body = crate::http::openapi::BadRequestBody),
        (status = 413, description = "Larger than the upload limit.", body = Detail),
        (status = 415, description = "Not `multipart/form-data`.", body = Detail),
        super::api::VisitorErrors))]
async fn upload(
    State(state): State<AppState>,
    visitor: Visitor,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    if !visitor.chat.enable_file_upload {
        return Err(ApiError::Forbidden("File upload is not enabled for this web chat."));
    }
    let mut multipart =
        multipart.map_err(|_| ApiError::UnsupportedMediaType("multipart/form-data expected".into()))?;
    let limit = state.limits.upload;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("file") {
            continue;
        }
        let filename: String =
            field.file_name().filter(|n| !n.trim().is_empty()).unwrap_or("image").chars().take(255).collect();
        let dir = format!("{VISITOR_DIR}/{}", visitor.session.contact);
        let relative = format!("{dir}/{}", uuid::Uuid::new_v4());
        let path = state.data_dir.join(&relative);
        tokio::fs::create_dir_all(state.data_dir.join(&dir))
            .await
            .map_err(|e| ApiError::Internal(format!("creating the upload dir: {e}")))?;
        let written = write_image(&mut field, &path, limit).await;
        let (size, content_type) = match written {
            Ok(done) => done,
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(e);
            }
        };
        let input = NewAttachment {
            kind: AttachmentType::Image,
            filename,
            file: None,
            storage_path: Some(relative),
            content_type: Some(content_type.into()),
            size: Some(size as i64),
        };
        let stored = state.store.create_attachment(visitor.session.org, input).await?;
        return Ok((StatusCode::CREATED, Json(stored.attachment)));
    }
    Err(ApiError::field("file", "No file was submitted."))
}

/// Streams the field to `path`, failing on a body over `limit` or one that is not an image.
async fn write_image(
    field: &mut axum::extract::multipart::Field<'_>,
    path: &Path,
    limit: usize,
) -> ApiResult<(usize, &'static str)> {
    let io = |e: std::io::Error| ApiError::Internal(format!("writing an upload: {e}"));
    let mut out = tokio::fs::File::create(path).await.map_err(io)?;
    let mut size = 0usize;
    let mut head = Vec::with_capacity(16);
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        size += chunk.len();
        if size > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        if head.len() < 16 {
            head.extend(chunk.iter().take(16 - head.len()));
        }
        out.write_all(&chunk).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    let content_type = sniff(&head).ok_or_else(|| ApiError::field("file", NOT_AN_IMAGE))?;
    Ok((size, content_type))
}

/// An uploaded image, to the visitor who uploaded it (`Authorization: Visitor <token>`) or
/// to the organization (its API key). Anyone else's: 404.
#[utoipa::path(get, path = "/widget/{webChat}/uploads/{id}", tag = "widget", operation_id = "widget_uploads_file",
    params(("webChat" = uuid::Uuid, Path, description = "The web chat's id."),
        ("id" = uuid::Uuid, Path, description = "The attachment's id.")),
    security(("Visitor" = []), ("Api-Key" = [])),
    responses((status = 200, description = "The image.", content_type = "image/*", body = Vec<u8>), super::api::VisitorErrors))]
async fn file(
    State(state): State<AppState>,
    chat: WidgetChat,
    Ids(_web_chat, id): Ids<WebChatId, AttachmentId>,
    mut parts: Parts,
) -> ApiResult<Response> {
    let is_visitor = super::visitor_token(&parts.headers).is_ok();
    let stored = if is_visitor {
        let visitor = Visitor::from_request_parts(&mut parts, &state).await?;
        let a = state.store.get_attachment(visitor.session.org, id).await?;
        if !owned_by(&a, visitor.session.contact) {
            return Err(ApiError::NotFound);
        }
        a
    } else {
        let auth = Auth::from_request_parts(&mut parts, &state).await?;
        if auth.org != chat.org {
            return Err(ApiError::NotFound);
        }
        let a = state.store.get_attachment(auth.org, id).await?;
        if !a.storage_path.as_deref().is_some_and(|p| p.starts_with(VISITOR_DIR)) {
            return Err(ApiError::NotFound);
        }
        a
    };
    let relative = stored.storage_path.clone().unwrap_or_default();
    let path = safe_join(&state.data_dir, &relative).ok_or(ApiError::NotFound)?;
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ApiError::NotFound),
        Err(e) => return Err(ApiError::Internal(format!("reading an upload: {e}"))),
    };
    let content_type = stored.content_type.as_deref().unwrap_or("application/octet-stream");
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    // Served as exactly the sniffed image type, never as a page that could run script.
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    Ok(r)
}

/// `base/relative`, refusing anything but plain path segments (the path comes from the
/// database, but a file server should not trust even that).
fn safe_join(base: &Path, relative: &str) -> Option<PathBuf> {
    let rel = Path::new(relative);
    rel.components().all(|c| matches!(c, Component::Normal(_))).then(|| base.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_images_only() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"<svg xmlns="), None);
        assert_eq!(sniff(b"<html>"), None);
    }

    #[test]
    fn joins_plain_paths_only() {
        assert!(safe_join(Path::new("/d"), "uploads/visitors/a/b").is_some());
        assert!(safe_join(Path::new("/d"), "../etc/passwd").is_none());
        assert!(safe_join(Path::new("/d"), "/etc/passwd").is_none());
    }
}
