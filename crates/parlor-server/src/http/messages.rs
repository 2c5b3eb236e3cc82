//! `/messages/`: create (incoming from the contact, outgoing from an agent; an incoming one
//! is answered in the background, see [`crate::auto_reply`]), list (cursor-paged, newest
//! first), read, and set feedback.

use super::error::{ApiError, ApiResult};
use super::extract::{Auth, Id, JsonBody, QueryMap};
use super::pagination::RequestUrl;
use super::validate::{Body, Need, nested};
use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use parlor_core::id::{AttachmentId, ContactId, ConversationId, MessageId};
use parlor_core::input::{AttachmentInput, NewMessage};
use parlor_core::model::{Canvas, Message, MessageType, Sender, SenderType};
use serde::Serialize;
use serde_json::{Map, Value, json};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/messages", get(list).post(create))
        .route("/messages/{id}", get(retrieve).patch(partial_update))
}

/// Reads a message's attachment inputs: `{id}` (with the original's extra keys allowed) or
/// `{type, filename, file}` for an external file. Item errors are reported per item.
pub(crate) fn attachment_inputs(body: &mut Body, name: &str) -> Option<Vec<AttachmentInput>> {
    let items = body.list(name)?;
    let mut out = Vec::with_capacity(items.len());
    let mut item_errors = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(map) = item else {
            item_errors.push(json!({"nonFieldErrors": ["Invalid data. Expected a dictionary."]}));
            continue;
        };
        let mut b = Body::new(map);
        if b.has("id") && !matches!(b.raw("id"), Some(Value::Null)) {
            if let Some(Some(id)) = b.id::<AttachmentId>("id", Need::Required, false) {
                out.push(AttachmentInput::Existing(id));
            }
        } else if let Some((kind, filename, file)) = super::attachments::external(&mut b) {
            out.push(AttachmentInput::External { kind, filename, file });
        }
        item_errors.push(Value::Object(b.into_errors()));
    }
    if item_errors.iter().any(|e| e.as_object().is_some_and(|o| !o.is_empty())) {
        body.nested_error(name, Value::Array(item_errors));
        return None;
    }
    Some(out)
}

/// Reads a canvas: all four fields required.
fn canvas(body: &mut Body) -> Option<Canvas> {
    let mut c = nested(body, "canvas", Need::Optional)?;
    let name = c.string("name", Need::Required, false, 255);
    let canvas_type = c.string("canvasType", Need::Required, false, 100);
    let title = c.string("title", Need::Required, true, 1000);
    let content = c.string("content", Need::Required, true, 1_000_000);
    if c.has_errors() {
        body.nested_error("canvas", Value::Object(c.into_errors()));
        return None;
    }
    Some(Canvas { name: name?, canvas_type: canvas_type?, title: title?, content: content? })
}

/// The message list body: cursor links plus `count`.
#[derive(Serialize)]
struct MessageList {
    count: Option<i64>,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<Message>,
}

fn conversation_param(q: &QueryMap) -> ApiResult<Option<ConversationId>> {
    match q.0.get("conversation").map(String::as_str) {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| ApiError::field("conversation", "Must be a valid UUID.")),
    }
}

async fn list(
    State(state): State<AppState>,
    auth: Auth,
    q: QueryMap,
    url: RequestUrl,
) -> ApiResult<Json<MessageList>> {
    let page = url.cursor_request()?;
    let conversation = conversation_param(&q)?;
    let (result, count) = state.store.list_messages(auth.org, conversation, page).await?;
    let body = url.cursor_body(result);
    Ok(Json(MessageList { count, next: body.next, previous: body.previous, results: body.results }))
}

async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(mut body): JsonBody,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let conversation = body.id::<ConversationId>("conversation", Need::Required, false).flatten();
    let kind =
        body.choice("type", Need::Optional, &["incoming", "outgoing"]).and_then(|t| MessageType::parse(&t));
    let content = body.string("content", Need::Optional, true, 1_000_000);
    let content_payload = body.object("contentPayload");
    let query_metadata = body.object("queryMetadata");
    let attachments = attachment_inputs(&mut body, "attachments");
    let canvas = canvas(&mut body);
    let kind = kind.unwrap_or(MessageType::Incoming);
    let sender = if kind == MessageType::Incoming {
        body.id::<ContactId>("sender", Need::Optional, true).flatten()
    } else {
        None
    };
    let sender_name = body.string("senderName", Need::Optional, false, 200);
    let content = content.unwrap_or_default();
    let attachments = attachments.unwrap_or_default();
    if !body.has_errors() && content.trim().is_empty() && attachments.is_empty() && canvas.is_none() {
        body.non_field_error("A message needs content, an attachment or a canvas.");
    }
    body.finish()?;
    let Some(conversation) = conversation else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let (sender_type, fixed_sender) = match kind {
        MessageType::Incoming => (SenderType::Contact, None),
        MessageType::Outgoing => (
            SenderType::Agent,
            Some(Sender { id: None, name: sender_name.unwrap_or_else(|| "Agent".into()), avatar: None }),
        ),
    };
    let input = NewMessage {
        conversation,
        kind,
        sender_type,
        contact: sender,
        sender: fixed_sender,
        content,
        content_payload: content_payload.flatten(),
        query_metadata: query_metadata.flatten(),
        attachments,
        canvas,
        metadata: Map::new(),
    };
    let message = state.store.create_message(auth.org, input).await?;
    crate::auto_reply::on_message(&state, auth.org, &message).await?;
    Ok((StatusCode::CREATED, Json(message)))
}

async fn retrieve(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<MessageId>,
    q: QueryMap,
) -> ApiResult<Json<Message>> {
    // A `conversation` that is not a UUID can hold no message: 404 like any mismatch.
    let conversation = conversation_param(&q).map_err(|_| ApiError::NotFound)?;
    Ok(Json(state.store.get_message(auth.org, id, conversation).await?))
}

async fn partial_update(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<MessageId>,
    JsonBody(mut body): JsonBody,
) -> ApiResult<Json<Message>> {
    state.store.get_message(auth.org, id, None).await?;
    let feedback = match body.raw("feedback") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(_) => body.choice("feedback", Need::Optional, &["like", "dislike"]).map(Some),
    };
    body.finish()?;
    match feedback {
        Some(f) => Ok(Json(state.store.set_message_feedback(auth.org, id, f).await?)),
        None => Ok(Json(state.store.get_message(auth.org, id, None).await?)),
    }
}
