//! `POST /chatbots/{chatbotId}/completions/`: a user message in, the chatbot's reply out,
//! whole (JSON) or piece by piece (Server-Sent Events).
//!
//! The user's message is stored, in one commit with the reply's message, before any of the
//! reply is shown (the request to the model is sent meanwhile), and the reply is generated on
//! the server's task tracker ([`crate::replies`]), so a client that disconnects mid-stream
//! loses nothing: the reply is stored complete all the same. The stream's events are unnamed (no
//! `event:` line), so a browser `EventSource`'s `onmessage` receives them, and every `data:`
//! carries `conversationId`, `content` and `done` as the original platform sends them.
//!
//! A stream holds one of its API key's stream slots ([`super::limits::StreamSlots`]) until it
//! ends or its client leaves. At shutdown a stream goes on until its reply ends, which the
//! grace period bounds (see [`crate::app::serve`]).

use super::error::{ApiError, ApiResult, invalid_pk_message};
use super::extract::{Auth, Id, JsonBody};
use super::limits::{StreamKind, StreamSlot, hold_slot};
use super::messages::attachment_inputs;
use super::openapi::{Detail, NestedWriteErrors};
use super::validate::{Need, nested};
use crate::app::AppState;
use crate::replies::{self, Question, ReplyEvent};
use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use parlor_core::StoreError;
use parlor_core::id::{ChatbotId, ContactId, ConversationId};
use parlor_core::input::{NewConversation, NewMessage};
use parlor_core::model::{Message, MessageType, SenderType};
use serde_json::{Map, Value, json};
use std::convert::Infallible;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create))
}

/// A completions request, as the original platform's clients send it. Documentation only;
/// [`create`] validates the raw JSON (snake_case keys are accepted too).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct CompletionCreate {
    /// A conversation of this organization; absent, null or empty: a new conversation in the
    /// chatbot's API web chat, with `message.sender` as its contact.
    conversation: Option<uuid::Uuid>,
    message: CompletionMessage,
    /// Stream the reply as Server-Sent Events (default false).
    #[schema(required = false)]
    is_streaming: bool,
}

/// The user's message of a completions request.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct CompletionMessage {
    /// May be blank only when there is an attachment.
    #[schema(max_length = 1000000)]
    content: String,
    /// Any JSON object, returned untouched.
    #[schema(value_type = Option<Object>)]
    content_payload: Option<Value>,
    /// Any JSON object: retrieval uses only knowledge documents whose metadata has every one
    /// of these keys with an equal value.
    #[schema(value_type = Option<Object>)]
    query_metadata: Option<Value>,
    #[schema(required = false)]
    attachments: Vec<super::messages::AttachmentRef>,
    /// A contact of this organization.
    sender: Option<uuid::Uuid>,
}

/// The whole reply (not streaming).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct CompletionResult {
    conversation_id: uuid::Uuid,
    /// The whole reply.
    content: String,
    /// Always true.
    done: bool,
    user_message: Message,
    bot_message: Message,
}

/// How often a slow stream sends a `: ping` comment, so proxies keep it open.
const PING_EVERY: Duration = Duration::from_secs(15);

/// Sends a message and gets the chatbot's reply, whole or streamed. The stream is
/// `text/event-stream` of unnamed events whose `data` is JSON with `conversationId`,
/// `content` (the next piece, `""` when none) and `done`; the first adds `userMessage` and
/// `botMessageId`, the last (`done: true`) adds `botMessage`, and `error` `{detail, code}`
/// when generation failed. Each event's id is `<botMessageId>:<characters so far>`, usable
/// as `Last-Event-ID` on the conversation's events to resume the reply. A key may hold a
/// limited number of streams open at once (64 by default, with the events streams): over
/// it, a streaming request is refused with 429 and `Retry-After`, before anything is stored.
#[utoipa::path(post, path = "/chatbots/{chatbot}/completions", tag = "completions", operation_id = "completions_create",
    params(("chatbot" = uuid::Uuid, Path, description = "The chatbot's id.")),
    request_body = CompletionCreate, security(("Api-Key" = [])),
    responses(
        (status = 200, description = "The reply (JSON), or its stream (text/event-stream) with `isStreaming`.",
            content((CompletionResult = "application/json"), (super::openapi::ServerSentEvent = "text/event-stream"))),
        (status = 502, description = "The model provider failed before producing any text (not streaming).", body = Detail),
        NestedWriteErrors))]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    Id(chatbot_id): Id<ChatbotId>,
    JsonBody(mut body): JsonBody,
) -> ApiResult<Response> {
    // `conversation` absent, null or "" all mean: start a new one.
    let conversation = match body.raw("conversation") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(_) => body.id::<ConversationId>("conversation", Need::Optional, true).flatten(),
    };
    let streaming = body.boolean("isStreaming").unwrap_or(false);
    let mut sender = None;
    let mut parsed = None;
    if let Some(mut m) = nested(&mut body, "message", Need::Required) {
        let content = m.string("content", Need::Required, true, 1_000_000);
        let content_payload = m.object("contentPayload");
        let query_metadata = m.object("queryMetadata");
        let attachments = attachment_inputs(&mut m, "attachments");
        sender = m.id::<ContactId>("sender", Need::Optional, true).flatten();
        if let Some(c) = &content
            && c.trim().is_empty()
            && attachments.as_ref().is_none_or(|a| a.is_empty())
            && !m.has_errors()
        {
            m.error("content", "This field may not be blank.");
        }
        if m.has_errors() {
            body.nested_error("message", Value::Object(m.into_errors()));
        } else {
            parsed = Some((
                content.unwrap_or_default(),
                content_payload.flatten(),
                query_metadata.flatten(),
                attachments.unwrap_or_default(),
            ));
        }
    }
    // The chatbot and the references, read side by side (each read on a connection of its
    // own); the answers are then judged in the contract's order: an unknown chatbot first,
    // then the body, the stream cap, the sender, the conversation.
    let store = &state.store;
    let valid = !body.has_errors();
    let (chatbot, contact, existing) = tokio::join!(
        store.get_chatbot(auth.org, chatbot_id),
        async { Some(store.get_contact(auth.org, sender.filter(|_| valid)?).await) },
        async { Some(store.get_conversation(auth.org, conversation.filter(|_| valid)?).await) },
    );
    let chatbot = chatbot?;
    body.finish()?;
    let Some((content, content_payload, query_metadata, attachments)) = parsed else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    // Before anything is stored: a refused stream leaves no question without its answer.
    let slot = streaming
        .then(|| state.streams.acquire(auth.key, state.limits.streams_per_key, StreamKind::Completions))
        .transpose()?;

    // References: a conversation of another organization is a 400 on `conversation`; a
    // sender that is not this organization's contact is a 400 nested under `message`.
    if let (Some(c), Some(Err(StoreError::NotFound))) = (sender, &contact) {
        return Err(ApiError::Validation(nested_field_error("message", "sender", &c.to_string())));
    }
    let conversation_id = match (conversation, existing) {
        (Some(id), Some(Err(StoreError::NotFound))) => {
            return Err(ApiError::invalid_pk("conversation", &id.to_string()));
        }
        (_, Some(found)) => found?.id,
        _ => {
            let input = NewConversation { web_chat: chatbot.api_web_chat_id, contact: sender, title: None };
            store.create_conversation(auth.org, input).await?.id
        }
    };
    let question = NewMessage {
        conversation: conversation_id,
        kind: MessageType::Incoming,
        sender_type: SenderType::Contact,
        contact: sender,
        sender: None,
        content,
        content_payload,
        query_metadata,
        attachments,
        canvas: None,
        metadata: Map::new(),
    };
    // Returns once the question and the reply's message are stored; the reply runs on.
    let reply =
        replies::start(&state, auth.org, chatbot, Question::New(question)).await.map_err(|e| match e {
            StoreError::InvalidReference { field: "sender", id } => {
                ApiError::Validation(nested_field_error("message", "sender", &id))
            }
            other => other.into(),
        })?;
    match slot {
        Some(slot) => Ok(stream_response(slot, conversation_id, reply).into_response()),
        None => whole_response(conversation_id, reply).await,
    }
}

fn nested_field_error(parent: &str, field: &str, id: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(parent.into(), json!({ field: [invalid_pk_message(id)] }));
    m
}

/// Waits for the whole reply. Fails with 502 only when generation failed before any text.
pub(crate) async fn whole_response(
    conversation: ConversationId,
    mut reply: replies::Reply,
) -> ApiResult<Response> {
    while let Some(event) = reply.events.next().await {
        if let ReplyEvent::Done { message, error } = event {
            if let Some(e) = &error
                && message.content.is_empty()
            {
                return Err(ApiError::Upstream(e.clone()));
            }
            let mut body = json!({
                "conversationId": conversation,
                "content": message.content,
                "done": true,
                "userMessage": reply.question,
                "botMessage": message,
            });
            if let Some(e) = error {
                body["error"] = json!({"detail": e.to_string(), "code": e.code()});
            }
            return Ok(Json(body).into_response());
        }
    }
    Err(ApiError::Internal("the reply ended without a result".into()))
}

/// The reply as Server-Sent Events. Each event's id is `<botMessageId>:<characters so far>`,
/// so a client knows exactly how much of the reply it has.
///
/// The stream ends with the reply, also at shutdown: the reply service stops generating when
/// the grace period is over and reports that as the reply's end, so the client always gets a
/// last `done: true` event while the server still runs. A client that leaves drops the
/// stream, and with it only its receiving end: the reply goes on and is stored.
pub(crate) fn stream_response(
    slot: StreamSlot,
    conversation: ConversationId,
    reply: replies::Reply,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let bot_id = reply.message.id;
    let first = json!({
        "conversationId": conversation, "content": "", "done": false,
        "userMessage": reply.question, "botMessageId": bot_id,
    });
    let first = futures::stream::once(std::future::ready(event(&first, bot_id, 0)));
    // The relay is the stream itself, polled by the connection: no task or channel of its own.
    let rest = futures::stream::unfold(Some((reply.events, 0usize)), move |relay| async move {
        let (mut events, mut sent) = relay?;
        match events.next().await? {
            ReplyEvent::Delta(piece) => {
                sent += piece.chars().count();
                let data = json!({"conversationId": conversation, "content": piece, "done": false});
                Some((event(&data, bot_id, sent), Some((events, sent))))
            }
            ReplyEvent::Done { message, error } => {
                let mut last = json!({"conversationId": conversation, "content": "", "done": true, "botMessage": message});
                if let Some(e) = error {
                    last["error"] = json!({"detail": e.to_string(), "code": e.code()});
                }
                Some((event(&last, bot_id, sent), None))
            }
        }
    });
    Sse::new(hold_slot(first.chain(rest), slot))
        .keep_alive(KeepAlive::new().interval(PING_EVERY).text("ping"))
}

fn event(data: &Value, bot: parlor_core::id::MessageId, offset: usize) -> Result<Event, Infallible> {
    Ok(Event::default().id(format!("{bot}:{offset}")).data(data.to_string()))
}
