//! The visitor API's handlers: the web chat's public settings, sessions, the visitor's own
//! conversations, their messages (sending one streams the chatbot's reply exactly as
//! completions do), and their live events.

use super::{Visitor, WidgetChat, new_token};
use crate::app::AppState;
use crate::http::completions::{stream_response, whole_response};
use crate::http::error::{ApiError, ApiResult, invalid_pk_message};
use crate::http::extract::{Ids, JsonBody};
use crate::http::limits::StreamKind;
use crate::http::openapi::Detail;
use crate::http::pagination::{CursorBody, CursorParams, RequestUrl};
use crate::http::validate::Need;
use crate::replies;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parlor_core::id::{AttachmentId, ContactId, ConversationId, WebChatId};
use parlor_core::input::{AttachmentInput, ConversationFilter, NewConversation, NewMessage};
use parlor_core::model::{Conversation, Message, MessageType, SenderType};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::{IntoResponses, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(settings))
        .routes(routes!(create_session))
        .routes(routes!(current_session))
        .routes(routes!(list_conversations, create_conversation))
        .routes(routes!(list_messages, send_message))
        .routes(routes!(follow))
}

/// Longest message a visitor may send, in characters.
const MAX_CONTENT: usize = 10_000;

/// Errors any visitor operation may answer.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) enum VisitorErrors {
    /// No token, a header of another shape, or a token unknown to this web chat
    /// (`WWW-Authenticate: Visitor`): start a new session.
    #[response(status = 401)]
    Unauthorized(Detail),
    /// The `Origin` is not in the web chat's `allowedOrigins` (the response then carries no
    /// CORS headers), the web chat is not active, or it is an API-only web chat.
    #[response(status = 403)]
    Forbidden(Detail),
    /// No such web chat, or no such conversation of this visitor.
    #[response(status = 404)]
    NotFound(Detail),
    /// Too many requests from this IP address or session: `Retry-After` says when to retry.
    #[response(status = 429, headers(("Retry-After" = u64)))]
    Throttled(Detail),
}

/// What the widget shows before any conversation.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WidgetSettings {
    id: WebChatId,
    /// Shown as the chat panel's title.
    name: String,
    /// Shown as the first message of a new conversation (not stored).
    welcome_message: String,
    /// Whether the visitor may upload images.
    enable_file_upload: bool,
}

/// A visitor's session. `token` is shown only when the session starts.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionView {
    /// Send as `Authorization: Visitor <token>`; keep it (the widget uses localStorage) to come
    /// back to the same conversations.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// The contact made for this visitor.
    contact: ContactView,
    web_chat: WebChatId,
    #[schema(value_type = String, example = "1728181396000")]
    created_at: parlor_core::clock::Timestamp,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ContactView {
    id: ContactId,
    name: String,
}

/// The web chat's public settings: its name, welcome message and whether uploads are on.
#[utoipa::path(get, path = "/widget/{webChat}", tag = "widget", operation_id = "widget_settings",
    params(("webChat" = uuid::Uuid, Path, description = "The web chat's id.")),
    responses((status = 200, description = "The settings.", body = WidgetSettings), VisitorErrors))]
async fn settings(chat: WidgetChat) -> Json<WidgetSettings> {
    let w = chat.web_chat;
    Json(WidgetSettings {
        id: w.id,
        name: w.name,
        welcome_message: w.welcome_message,
        enable_file_upload: w.enable_file_upload,
    })
}

/// Starts a visitor session: a new contact (`Visitor <n>`) and a token for it. No body.
#[utoipa::path(post, path = "/widget/{webChat}/sessions", tag = "widget", operation_id = "widget_sessions_create",
    params(("webChat" = uuid::Uuid, Path, description = "The web chat's id.")),
    responses((status = 201, description = "The session, with its token (shown once).", body = SessionView), VisitorErrors))]
async fn create_session(
    State(state): State<AppState>,
    chat: WidgetChat,
) -> ApiResult<(StatusCode, Json<SessionView>)> {
    let token = new_token();
    let session =
        state.store.create_visitor_session(chat.org, chat.web_chat.id, &crate::keys::hash(&token)).await?;
    let contact = state.store.get_contact(chat.org, session.contact).await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionView {
            token: Some(token),
            contact: ContactView { id: contact.id, name: contact.name },
            web_chat: session.web_chat,
            created_at: session.created_at,
        }),
    ))
}

/// The session the token belongs to: how a returning visitor checks its stored token.
#[utoipa::path(get, path = "/widget/{webChat}/sessions/current", tag = "widget", operation_id = "widget_sessions_current",
    params(("webChat" = uuid::Uuid, Path, description = "The web chat's id.")),
    security(("Visitor" = [])),
    responses((status = 200, description = "The session (without its token).", body = SessionView), VisitorErrors))]
async fn current_session(State(state): State<AppState>, visitor: Visitor) -> ApiResult<Json<SessionView>> {
    let s = visitor.session;
    let contact = state.store.get_contact(s.org, s.contact).await?;
    Ok(Json(SessionView {
        token: None,
        contact: ContactView { id: contact.id, name: contact.name },
        web_chat: s.web_chat,
        created_at: s.created_at,
    }))
}

/// The visitor's own conversation `id`; anyone else's is 404, as if it did not exist.
pub(super) async fn own_conversation(
    state: &AppState,
    visitor: &Visitor,
    id: ConversationId,
) -> ApiResult<Conversation> {
    let c = state.store.get_conversation(visitor.session.org, id).await?;
    let mine = c.web_chat == visitor.session.web_chat
        && c.contact.as_ref().is_some_and(|contact| contact.id == visitor.session.contact);
    if mine { Ok(c) } else { Err(ApiError::NotFound) }
}

/// The visitor's conversations in this web chat, newest first (cursor pages).
#[utoipa::path(get, path = "/widget/{webChat}/conversations", tag = "widget", operation_id = "widget_conversations_list",
    params(("webChat" = uuid::Uuid, Path, description = "The web chat's id."), CursorParams),
    security(("Visitor" = [])),
    responses((status = 200, description = "A page of conversations.", body = CursorBody<Conversation>), VisitorErrors))]
async fn list_conversations(
    State(state): State<AppState>,
    visitor: Visitor,
    url: RequestUrl,
) -> ApiResult<Json<CursorBody<Conversation>>> {
    let s = &visitor.session;
    let filter = ConversationFilter { inbox: Some(s.web_chat), keyword: None, contact: Some(s.contact) };
    let page = state.store.list_conversations(s.org, filter, url.cursor_request()?).await?;
    Ok(Json(url.cursor_body(page)))
}

/// Starts a conversation of the visitor. No body.
#[utoipa::path(post, path = "/widget/{webChat}/conversations", tag = "widget", operation_id = "widget_conversations_create",
    params(("webChat" = uuid::Uuid, Path, description = "The web chat's id.")),
    security(("Visitor" = [])),
    responses((status = 201, description = "Created.", body = Conversation), VisitorErrors))]
async fn create_conversation(
    State(state): State<AppState>,
    visitor: Visitor,
) -> ApiResult<(StatusCode, Json<Conversation>)> {
    let s = &visitor.session;
    let input = NewConversation { web_chat: s.web_chat, contact: Some(s.contact), title: None };
    let c = state.store.create_conversation(s.org, input).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// A page of messages with the conversation's message count.
#[derive(Serialize, ToSchema)]
pub(crate) struct VisitorMessages {
    count: Option<i64>,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<Message>,
}

/// The history of one of the visitor's conversations, newest first (cursor pages).
#[utoipa::path(get, path = "/widget/{webChat}/conversations/{conversation}/messages", tag = "widget",
    operation_id = "widget_messages_list",
    params(("webChat" = uuid::Uuid, Path, description = "The web chat's id."),
        ("conversation" = uuid::Uuid, Path, description = "One of the visitor's conversations."), CursorParams),
    security(("Visitor" = [])),
    responses((status = 200, description = "A page of messages.", body = VisitorMessages), VisitorErrors))]
async fn list_messages(
    State(state): State<AppState>,
    visitor: Visitor,
    Ids(_web_chat, id): Ids<WebChatId, ConversationId>,
    url: RequestUrl,
) -> ApiResult<Json<VisitorMessages>> {
    let page = url.cursor_request()?;
    own_conversation(&state, &visitor, id).await?;
    let (result, count) = state.store.list_messages(visitor.session.org, Some(id), page).await?;
    let body = url.cursor_body(result);
    Ok(Json(VisitorMessages { count, next: body.next, previous: body.previous, results: body.results }))
}

/// A visitor's message. Documentation only; [`send_message`] validates the raw JSON.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct VisitorMessage {
    /// May be blank only with an attachment.
    #[schema(max_length = 10000)]
    content: String,
    /// Images this visitor uploaded (`POST /api/widget/{webChat}/uploads/`), by id.
    #[schema(required = false)]
    attachments: Vec<AttachmentId>,
    /// Stream the reply as Server-Sent Events, in the completions stream's format (default
    /// false).
    #[schema(required = false)]
    is_streaming: bool,
}

/// Sends the visitor's message and gets the chatbot's reply, whole or streamed, exactly as
/// `POST /api/chatbots/{id}/completions/` answers (same events, ids and final message).
/// When the conversation's auto-reply is off (an agent took over), no reply is made: 201
/// with `{conversationId, content: "", done: true, userMessage}`.
#[utoipa::path(post, path = "/widget/{webChat}/conversations/{conversation}/messages", tag = "widget",
    operation_id = "widget_messages_create",
    params(("webChat" = uuid::Uuid, Path, description = "The web chat's id."),
        ("conversation" = uuid::Uuid, Path, description = "One of the visitor's conversations.")),
    request_body = VisitorMessage, security(("Visitor" = [])),
    responses(
        (status = 200, description = "The reply (JSON), or its stream (text/event-stream) with `isStreaming`.",
            content((Object = "application/json"), (String = "text/event-stream"))),
        (status = 201, description = "Stored; auto-reply is off, so no reply.", body = Object),
        (status = 400, description = "Field errors.", body = crate::http::openapi::NestedBadRequestBody),
        VisitorErrors))]
async fn send_message(
    State(state): State<AppState>,
    visitor: Visitor,
    Ids(_web_chat, id): Ids<WebChatId, ConversationId>,
    JsonBody(mut body): JsonBody,
) -> ApiResult<Response> {
    let conversation = own_conversation(&state, &visitor, id).await?;
    let content = body.string("content", Need::Required, true, MAX_CONTENT);
    let attachments = attachment_ids(&mut body);
    let streaming = body.boolean("isStreaming").unwrap_or(false);
    if let Some(c) = &content
        && c.trim().is_empty()
        && attachments.as_ref().is_none_or(|a| a.is_empty())
        && !body.has_errors()
    {
        body.error("content", "This field may not be blank.");
    }
    body.finish()?;
    let (content, attachments) = (content.unwrap_or_default(), attachments.unwrap_or_default());
    let org = visitor.session.org;
    // Before anything is stored, as for completions: a refused stream leaves no question
    // without its answer.
    let slot = streaming
        .then(|| {
            state.streams.acquire(visitor.session.id, state.limits.streams_per_key, StreamKind::Completions)
        })
        .transpose()?;
    // Only the visitor's own uploads: an id of any other attachment of the organization is
    // answered as one that does not exist.
    for a in &attachments {
        let stored = state.store.get_attachment(org, *a).await;
        if !stored.as_ref().is_ok_and(|s| super::uploads::owned_by(s, visitor.session.contact)) {
            let mut m = Map::new();
            m.insert("attachments".into(), json!([invalid_pk_message(&a.to_string())]));
            return Err(ApiError::Validation(m));
        }
    }
    let question = NewMessage {
        conversation: id,
        kind: MessageType::Incoming,
        sender_type: SenderType::Contact,
        contact: Some(visitor.session.contact),
        sender: None,
        content,
        content_payload: None,
        query_metadata: None,
        attachments: attachments.into_iter().map(AttachmentInput::Existing).collect(),
        canvas: None,
        metadata: Map::new(),
    };
    if !conversation.auto_reply_enabled {
        let question = state.store.create_message(org, question).await?;
        crate::live::message(&state, org, &question).await;
        let body = json!({"conversationId": id, "content": "", "done": true, "userMessage": question});
        return Ok((StatusCode::CREATED, Json(body)).into_response());
    }
    let chatbot = state.store.get_chatbot(org, visitor.chat.chatbot).await?;
    // The question is stored with the reply's beginning, as completions do.
    let reply = replies::start(&state, org, chatbot, replies::Question::New(question)).await?;
    match slot {
        Some(slot) => Ok(stream_response(slot, id, reply).into_response()),
        None => whole_response(id, reply).await,
    }
}

/// `attachments`: a list of ids, or of `{id}` objects as the completions API takes them.
fn attachment_ids(body: &mut crate::http::validate::Body) -> Option<Vec<AttachmentId>> {
    let items = body.list("attachments")?;
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let raw = match &item {
            Value::Object(m) => m.get("id").and_then(Value::as_str),
            Value::String(s) => Some(s.as_str()),
            _ => None,
        };
        match raw.and_then(|s| s.parse().ok()) {
            Some(id) => ids.push(id),
            None => {
                body.error(
                    "attachments",
                    "Each attachment must be the id of an image this visitor uploaded.",
                );
                return None;
            }
        }
    }
    Some(ids)
}

/// One of the visitor's conversations live, as `GET /api/conversations/{id}/events/` serves
/// it: agents' messages, the chatbot's replies piece by piece, resumable with
/// `Last-Event-ID`.
#[utoipa::path(get, path = "/widget/{webChat}/conversations/{conversation}/events", tag = "widget",
    operation_id = "widget_conversations_events",
    params(("webChat" = uuid::Uuid, Path, description = "The web chat's id."),
        ("conversation" = uuid::Uuid, Path, description = "One of the visitor's conversations."),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id.")),
    security(("Visitor" = [])),
    responses((status = 200, description = "The event stream.", content((String = "text/event-stream"))), VisitorErrors))]
async fn follow(
    State(state): State<AppState>,
    visitor: Visitor,
    Ids(_web_chat, id): Ids<WebChatId, ConversationId>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    own_conversation(&state, &visitor, id).await?;
    let slot = state.streams.acquire(visitor.session.id, state.limits.streams_per_key, StreamKind::Events)?;
    let org = visitor.session.org;
    Ok(crate::http::events::stream(state, org, id, headers, slot).await?.into_response())
}
