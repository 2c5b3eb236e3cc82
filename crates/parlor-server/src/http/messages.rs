//! `/messages/`: create (incoming from the contact, outgoing from an agent; an incoming one
//! is answered in the background, see [`crate::auto_reply`]), list (cursor-paged, newest
//! first), read, and set feedback.

use super::error::{ApiError, ApiResult};
use super::extract::{Auth, Id, JsonBody, QueryMap};
use super::openapi::{ListErrors, NestedWriteErrors, ReadErrors, WriteErrors};
use super::pagination::{CursorParams, RequestUrl};
use super::validate::{Body, Need, nested};
use crate::app::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use parlor_core::id::{AttachmentId, ContactId, ConversationId, MessageId};
use parlor_core::input::{AttachmentInput, NewMessage};
use parlor_core::model::{Canvas, Message, MessageType, Sender, SenderType};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(retrieve, partial_update))
}

/// A new message: `conversation` is required, and it needs content, an attachment or a
/// canvas. Documentation only; [`create`] validates the raw JSON.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct MessageCreate {
    /// A conversation of this organization.
    conversation: uuid::Uuid,
    /// `incoming` (the default: from the conversation's contact; it makes the chatbot answer
    /// when auto-reply is on) or `outgoing` (from an agent; triggers nothing).
    #[schema(rename = "type", required = false)]
    kind: MessageType,
    /// May be blank when there is an attachment or a canvas.
    #[schema(required = false, max_length = 1000000)]
    content: String,
    /// Any JSON object, returned untouched.
    #[schema(value_type = Option<Object>)]
    content_payload: Option<Value>,
    /// Any JSON object, returned untouched.
    #[schema(value_type = Option<Object>)]
    query_metadata: Option<Value>,
    #[schema(required = false)]
    attachments: Vec<AttachmentRef>,
    /// All four fields are required.
    canvas: Option<Canvas>,
    /// `incoming` only: a contact of this organization (default: the conversation's).
    sender: Option<uuid::Uuid>,
    /// `outgoing` only: the agent's name shown as the sender (default `Agent`).
    #[schema(required = false, min_length = 1, max_length = 200)]
    sender_name: String,
}

/// An attachment of a new message: `{id}` of an uploaded or registered attachment (the other
/// keys then ignored), or `{type, file, filename?}` for an external file.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct AttachmentRef {
    id: Option<uuid::Uuid>,
    #[schema(rename = "type", required = false)]
    kind: parlor_core::model::AttachmentType,
    #[schema(required = false, max_length = 2048, format = "uri")]
    file: String,
    #[schema(required = false, min_length = 1, max_length = 255)]
    filename: String,
}

/// A message's feedback (the only field PATCH changes).
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct MessagePartial {
    /// `like`, `dislike`, or null to clear it; absent leaves it.
    feedback: Option<Feedback>,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) enum Feedback {
    Like,
    Dislike,
}

/// The message list's filter.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct MessageFilter {
    /// Only this conversation's messages (and `count` is its message count); one of another
    /// organization: none. Without it, every message of the organization and `count` null.
    conversation: Option<uuid::Uuid>,
}

/// The conversation a message must be in.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct MessageScope {
    /// When given, a message of another conversation is 404.
    conversation: Option<uuid::Uuid>,
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
#[derive(Serialize, ToSchema)]
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

/// Messages, newest first: one conversation's, or the whole organization's.
#[utoipa::path(get, path = "/messages", tag = "messages", operation_id = "messages_list",
    params(MessageFilter, CursorParams), security(("Api-Key" = [])),
    responses((status = 200, description = "A page of messages.", body = MessageList), ListErrors))]
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

/// Adds a message to a conversation. An `incoming` one makes the chatbot answer in the
/// background when the conversation's auto-reply is on.
#[utoipa::path(post, path = "/messages", tag = "messages", operation_id = "messages_create",
    request_body = MessageCreate, security(("Api-Key" = [])),
    responses((status = 201, description = "Created.", body = Message), NestedWriteErrors))]
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
    crate::live::message(&state, auth.org, &message).await;
    crate::auto_reply::on_message(&state, auth.org, &message).await?;
    Ok((StatusCode::CREATED, Json(message)))
}

/// One message.
#[utoipa::path(get, path = "/messages/{id}", tag = "messages", operation_id = "messages_retrieve",
    params(("id" = uuid::Uuid, Path, description = "The message's id."), MessageScope), security(("Api-Key" = [])),
    responses((status = 200, description = "The message.", body = Message), ReadErrors))]
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

/// Sets or clears a message's feedback.
#[utoipa::path(patch, path = "/messages/{id}", tag = "messages", operation_id = "messages_partial_update",
    params(("id" = uuid::Uuid, Path, description = "The message's id.")), request_body = MessagePartial, security(("Api-Key" = [])),
    responses((status = 200, description = "Updated.", body = Message), WriteErrors))]
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
