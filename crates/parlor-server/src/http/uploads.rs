//! `/attachments-upload/`: files uploaded to Parlor (multipart), and serving them back to
//! their organization.
//!
//! The upload is streamed to disk piece by piece ([`crate::uploads::Incoming`]), never held
//! whole in memory, and counted as it comes: past `--max-upload-bytes` the request ends with
//! 413 and the partial file is removed, so nothing is stored. Errors of the body stream
//! (the limit, a client that stops sending) are answered, never taken for the end of the
//! file: swallowing them would store a truncated file with 201.
//!
//! What the file is comes from its bytes, not from the client's `Content-Type` (see
//! [`crate::uploads::sniff`]), and it is served with that type, `nosniff` and a sandboxing
//! CSP, so an upload cannot become a page of Parlor's origin.

use super::error::{ApiError, ApiResult};
use super::extract::{Auth, Id};
use super::openapi::ReadErrors;
use super::pagination::Origin;
use crate::app::AppState;
use crate::uploads::{self, Incoming};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::multipart::MultipartError;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parlor_core::id::AttachmentId;
use parlor_core::input::NewAttachment;
use parlor_core::model::{Attachment, AttachmentType, StoredAttachment};
use serde_json::{Map, json};
use tokio::io::AsyncReadExt;
use utoipa::{IntoResponses, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Room for the multipart framing and the `type` field beyond the file itself.
const FRAMING: usize = 64 * 1024;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(file))
        // The app-wide body limit is the JSON one; uploads are bounded by `limits.upload`,
        // applied in `create` (a layer cannot read it from the state).
        .layer(DefaultBodyLimit::disable())
}

/// The multipart form of an upload. Documentation only; [`create`] reads the parts.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct UploadForm {
    /// The file, at most `--max-upload-bytes` (20 MiB by default). Its media type is told
    /// from its bytes; the part's `Content-Type` is ignored.
    #[schema(value_type = String, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
    /// Default: from the file's bytes, `image`, `audio`, `video` or `other`.
    #[schema(rename = "type", required = false)]
    kind: AttachmentType,
}

/// Errors of an upload.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) enum UploadErrors {
    /// Field errors (`file` missing, empty or not a file; `type` not a choice), or a form
    /// that does not parse (`{"detail": "Multipart form parse error - ..."}`).
    #[response(status = 400)]
    BadRequest(super::openapi::BadRequestBody),
    /// No key, a header of another shape, or an unknown or revoked key.
    #[response(status = 401)]
    Unauthorized(super::openapi::Detail),
    /// The client paused too long while sending the file.
    #[response(status = 408)]
    Timeout(super::openapi::Detail),
    /// The file is larger than `--max-upload-bytes`; nothing was stored.
    #[response(status = 413)]
    TooLarge(super::openapi::Detail),
    /// The body is not `multipart/form-data`.
    #[response(status = 415)]
    Unsupported(super::openapi::Detail),
    #[response(status = 429, description = "Too many requests.")]
    Throttled(super::openapi::Detail),
}

/// Uploads a file; messages then reference it by `id`. Its `file` URL is served by Parlor,
/// to this organization's keys only.
#[utoipa::path(post, path = "/attachments-upload", tag = "attachments", operation_id = "attachments_upload_create",
    request_body(content = UploadForm, content_type = "multipart/form-data"), security(("Api-Key" = [])),
    responses((status = 201, description = "Stored.", body = Attachment), UploadErrors))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Origin(origin): Origin,
    req: Request,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    let limit = state.limits.upload;
    let mut form = multipart(req, &state, limit).await?;
    let mut errors = Map::new();
    let mut kind = None;
    let mut upload: Option<(Incoming, String)> = None;
    while let Some(mut field) = form.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("file") if upload.is_none() => {
                let Some(name) = field.file_name() else {
                    drain(&mut field).await?;
                    errors.insert(
                        "file".into(),
                        json!(["The submitted data was not a file. Check the encoding type on the form."]),
                    );
                    continue;
                };
                let filename = uploads::clean_filename(Some(name));
                let mut incoming = Incoming::create(&state.data_dir).await.map_err(disk)?;
                // `?` on a chunk error drops `incoming`, which removes the partial file.
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if incoming.size() + chunk.len() as u64 > limit as u64 {
                        return Err(ApiError::PayloadTooLarge);
                    }
                    incoming.write(&chunk).await.map_err(disk)?;
                }
                upload = Some((incoming, filename));
            }
            Some("type") => {
                let raw = small_text(&mut field).await?;
                match raw.as_deref().map(str::trim) {
                    // An HTML form sends an unset choice as "": the default then.
                    Some("") => {}
                    Some(t) => match AttachmentType::parse(t) {
                        Some(k) => kind = Some(k),
                        None => {
                            errors.insert("type".into(), json!([format!("\"{t}\" is not a valid choice.")]));
                        }
                    },
                    None => {
                        errors.insert("type".into(), json!(["Not a valid choice."]));
                    }
                }
            }
            // Other parts (and a second file) are read and ignored, within the body limit.
            _ => drain(&mut field).await?,
        }
    }
    match &upload {
        None if !errors.contains_key("file") => {
            errors.insert("file".into(), json!(["No file was submitted."]));
        }
        Some((incoming, _)) if incoming.size() == 0 => {
            errors.insert("file".into(), json!(["The submitted file is empty."]));
        }
        _ => {}
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let Some((incoming, filename)) = upload else {
        return Err(ApiError::Internal("validated upload missing".into()));
    };
    let content_type = incoming.content_type();
    let size = incoming.size();
    let path = incoming.keep().await.map_err(disk)?;
    let input = NewAttachment {
        kind: kind.unwrap_or_else(|| uploads::kind_of(content_type)),
        filename,
        file: None,
        storage_path: Some(path.clone()),
        content_type: Some(content_type.into()),
        size: Some(size as i64),
    };
    let stored = match state.store.create_attachment(auth.org, input).await {
        Ok(s) => s,
        Err(e) => {
            // No row points at the file: remove it, so a failed upload leaves nothing.
            if let Some(p) = uploads::resolve(&state.data_dir, &path) {
                let _ = tokio::fs::remove_file(p).await;
            }
            return Err(e.into());
        }
    };
    let mut attachment = stored.attachment;
    // The store keeps the path; clients get an absolute URL on the origin they used.
    attachment.file = format!("{origin}{}", attachment.file);
    Ok((StatusCode::CREATED, Json(attachment)))
}

/// The body as a multipart form, bounded by the upload limit plus framing.
pub(crate) async fn multipart(req: Request, state: &AppState, limit: usize) -> ApiResult<Multipart> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != "multipart/form-data" {
        return Err(ApiError::UnsupportedMediaType(essence));
    }
    let bound = limit.saturating_add(FRAMING);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Refused before a byte is read when the client says how much is coming.
    if declared.is_some_and(|n| n > bound as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let (parts, body) = req.into_parts();
    let body = Body::new(http_body_util::Limited::new(body, bound));
    Multipart::from_request(Request::from_parts(parts, body), state)
        .await
        .map_err(|e| ApiError::BadRequest(format!("Multipart form parse error - {}", e.body_text())))
}

/// A body stream error in the contract's terms: the limit is 413, a form that does not parse
/// 400, a body that stopped coming (the body timeout, a client gone) 408.
pub(crate) fn multipart_error(e: MultipartError) -> ApiError {
    match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::BAD_REQUEST => {
            ApiError::BadRequest(format!("Multipart form parse error - {}", e.body_text()))
        }
        _ => ApiError::RequestTimeout,
    }
}

pub(crate) fn disk(e: std::io::Error) -> ApiError {
    ApiError::Internal(format!("writing an upload: {e}"))
}

/// Reads and discards a part.
async fn drain(field: &mut axum::extract::multipart::Field<'_>) -> ApiResult<()> {
    while field.chunk().await.map_err(multipart_error)?.is_some() {}
    Ok(())
}

/// A short text part (`type`): `None` when it is longer than any choice or not UTF-8.
async fn small_text(field: &mut axum::extract::multipart::Field<'_>) -> ApiResult<Option<String>> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if buf.len() <= 64 {
            buf.extend_from_slice(&chunk);
        }
    }
    Ok((buf.len() <= 64).then(|| String::from_utf8(buf).ok()).flatten())
}

/// An uploaded file's bytes, with the media type told from them at upload. Only the
/// organization that uploaded it gets it; any other key gets 404, as for a missing file.
#[utoipa::path(get, path = "/attachments-upload/{id}/file", tag = "attachments", operation_id = "attachments_upload_file",
    params(("id" = uuid::Uuid, Path, description = "The attachment's id.")), security(("Api-Key" = [])),
    responses((status = 200, description = "The file, with `Content-Disposition` and `X-Content-Type-Options: nosniff`.",
        content_type = "*/*", body = Vec<u8>), ReadErrors))]
async fn file(State(state): State<AppState>, auth: Auth, Id(id): Id<AttachmentId>) -> ApiResult<Response> {
    let stored = state.store.get_attachment(auth.org, id).await?;
    serve(&state, stored).await
}

/// The bytes of an uploaded file, once the caller has decided the requester may have them.
pub(crate) async fn serve(state: &AppState, stored: StoredAttachment) -> ApiResult<Response> {
    let id = stored.attachment.id;
    // An external attachment (registered by URL) has no bytes here.
    let (Some(path), Some(content_type)) = (stored.storage_path, stored.content_type) else {
        return Err(ApiError::NotFound);
    };
    let path = uploads::resolve(&state.data_dir, &path).ok_or(ApiError::NotFound)?;
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Another instance received it and the uploads folder is not shared.
            tracing::warn!(attachment = %id, "an uploaded file is not on this instance's disk (share <data-dir>/uploads between instances)");
            return Err(ApiError::NotFound);
        }
        Err(e) => return Err(ApiError::Internal(format!("opening an upload: {e}"))),
    };
    let len = file.metadata().await.map_err(|e| ApiError::Internal(e.to_string()))?.len();
    let mut response = Body::from_stream(chunks(file)).into_response();
    let headers = response.headers_mut();
    let value = |s: &str| HeaderValue::from_str(s).map_err(|e| ApiError::Internal(e.to_string()));
    headers.insert(header::CONTENT_TYPE, value(&content_type)?);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(
        header::CONTENT_DISPOSITION,
        value(&disposition(&content_type, &stored.attachment.filename))?,
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Opened directly, even a file a browser would run gets no scripts and no origin.
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    Ok(response)
}

/// The file in pieces of 64 KiB, read as the client takes them.
fn chunks(file: tokio::fs::File) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send {
    futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = Vec::with_capacity(64 * 1024);
        match file.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(Bytes::from(buf)), Some(file))),
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// `inline` for what browsers show in a sandbox (media, PDF), `attachment` for the rest, with
/// the name as an ASCII fallback and in full (RFC 6266).
fn disposition(content_type: &str, filename: &str) -> String {
    let media = ["image/", "audio/", "video/"].iter().any(|p| content_type.starts_with(p));
    let mode = if media || content_type == "application/pdf" { "inline" } else { "attachment" };
    let ascii: String = filename
        .chars()
        .map(|c| if c == ' ' || (c.is_ascii_graphic() && c != '"' && c != '\\') { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{mode}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn disposition_quotes_and_encodes_names() {
        assert_eq!(
            disposition("image/png", "a \"b\" é.png"),
            "inline; filename=\"a _b_ _.png\"; filename*=UTF-8''a%20%22b%22%20%C3%A9.png"
        );
        assert!(disposition("text/plain; charset=utf-8", "x.html").starts_with("attachment;"));
    }
}
