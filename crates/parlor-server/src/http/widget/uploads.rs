//! A visitor's images: upload (multipart) and read back.
//!
//! Kept apart from the organization's own upload endpoint (`/api/attachments-upload/`) on
//! purpose: a visitor may upload only images, only when the web chat enables uploads, and may
//! read back only its own. The machinery is the same ([`crate::uploads::Incoming`]: streamed
//! to a partial file, sniffed from its bytes, renamed into place when complete). An upload is
//! kept at `uploads/visitors/<contact id>/<random name>`, and that path is also what marks
//! whose it is ([`owned_by`]): it is set here, never by a client. The attachment's `file` is
//! the organization's URL for uploads; the visitor reads the file here, with its token, and
//! the organization may too, with its key.

use super::{Visitor, WidgetChat};
use crate::app::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Auth, Ids};
use crate::http::openapi::Detail;
use crate::http::uploads::{disk, multipart, multipart_error, serve};
use crate::uploads::{self, Incoming};
use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use parlor_core::id::{AttachmentId, ContactId, WebChatId};
use parlor_core::input::NewAttachment;
use parlor_core::model::{Attachment, AttachmentType, StoredAttachment};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where visitors' uploads live, inside the uploads folder.
const VISITOR_DIR: &str = "visitors";

/// The image types a visitor may upload: what every browser shows.
const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

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

/// The folder, inside the uploads, of one visitor's images.
fn folder_of(contact: ContactId) -> String {
    format!("{VISITOR_DIR}/{contact}")
}

/// Whether a stored attachment is an upload of this visitor.
pub(super) fn owned_by(a: &StoredAttachment, contact: ContactId) -> bool {
    let prefix = format!("{}/{}/", uploads::DIR, folder_of(contact));
    a.storage_path.as_deref().is_some_and(|p| p.starts_with(&prefix))
}

/// Whether a stored attachment is an upload of any visitor.
fn from_a_visitor(a: &StoredAttachment) -> bool {
    let prefix = format!("{}/{VISITOR_DIR}/", uploads::DIR);
    a.storage_path.as_deref().is_some_and(|p| p.starts_with(&prefix))
}

/// A multipart upload. Documentation only.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct VisitorUpload {
    /// A PNG, JPEG, GIF or WebP image, at most the upload limit (20 MiB by default).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
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
    req: Request,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    if !visitor.chat.enable_file_upload {
        return Err(ApiError::Forbidden("File upload is not enabled for this web chat."));
    }
    let limit = state.limits.upload;
    let mut form = multipart(req, &state, limit).await?;
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("file") {
            continue;
        }
        let filename = uploads::clean_filename(field.file_name().or(Some("image")));
        let mut incoming = Incoming::create(&state.data_dir).await.map_err(disk)?;
        // `?` drops `incoming`, which removes the partial file.
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if incoming.size() + chunk.len() as u64 > limit as u64 {
                return Err(ApiError::PayloadTooLarge);
            }
            incoming.write(&chunk).await.map_err(disk)?;
        }
        let content_type = incoming.content_type();
        if !IMAGE_TYPES.contains(&content_type) {
            return Err(ApiError::field("file", NOT_AN_IMAGE));
        }
        let size = incoming.size();
        let path = incoming.keep_in(Some(&folder_of(visitor.session.contact))).await.map_err(disk)?;
        let input = NewAttachment {
            kind: AttachmentType::Image,
            filename,
            file: None,
            storage_path: Some(path.clone()),
            content_type: Some(content_type.into()),
            size: Some(size as i64),
        };
        return match state.store.create_attachment(visitor.session.org, input).await {
            Ok(stored) => Ok((StatusCode::CREATED, Json(stored.attachment))),
            Err(e) => {
                // No row points at the file: remove it, so a failed upload leaves nothing.
                if let Some(p) = uploads::resolve(&state.data_dir, &path) {
                    let _ = tokio::fs::remove_file(p).await;
                }
                Err(e.into())
            }
        };
    }
    Err(ApiError::field("file", "No file was submitted."))
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
    mut parts: axum::http::request::Parts,
) -> ApiResult<Response> {
    let stored = if super::visitor_token(&parts.headers).is_ok() {
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
        if !from_a_visitor(&a) {
            return Err(ApiError::NotFound);
        }
        a
    };
    serve(&state, stored).await
}
