//! The store suite: every `Store` method, run on SQLite and on PostgreSQL through
//! `backend_tests!`, so the two backends answer alike (same shapes, order, pages, errors).
//! PostgreSQL runs when `PARLOR_TEST_DATABASE_URL` names a server; otherwise its half passes
//! saying it was skipped.
//!
//! One test binary (the crate's `tests/it`), linked once; a module per resource. The
//! fixtures below build the few rows most tests need.

mod chatbots;
mod contacts;
mod conversations;
mod isolation;
mod messages;
mod orgs;
mod search;
mod visitors;
mod webhooks;

use parlor_core::error::StoreError;
use parlor_core::id::*;
use parlor_core::input::*;
use parlor_core::model::*;
use parlor_core::page::{Cursor, CursorPage, CursorRequest, PageRequest};
use parlor_core::store::Store;

/// An organization with a chatbot (and so its API web chat) and one widget web chat.
pub(crate) struct World {
    pub org: OrgId,
    pub bot: Chatbot,
    pub web_chat: WebChat,
}

pub(crate) async fn world(store: &dyn Store) -> World {
    let org = store.create_org("acme").await.expect("org").id;
    let bot = store.create_chatbot(org, NewChatbot::named("Helper")).await.expect("chatbot");
    let web_chat = store.create_web_chat(org, new_web_chat(bot.id, "Site")).await.expect("web chat");
    World { org, bot, web_chat }
}

pub(crate) fn new_web_chat(bot: ChatbotId, name: &str) -> NewWebChat {
    NewWebChat {
        name: name.into(),
        chatbot: bot,
        access_type: AccessType::Web,
        welcome_message: "Hi!".into(),
        allowed_origins: vec!["https://b.example".into(), "https://a.example".into()],
        is_active: true,
        enable_file_upload: false,
    }
}

/// A conversation in `web_chat` with a new `Visitor <n>` contact.
pub(crate) async fn conversation(store: &dyn Store, org: OrgId, web_chat: WebChatId) -> Conversation {
    store
        .create_conversation(org, NewConversation { web_chat, contact: None, title: None })
        .await
        .expect("conversation")
}

/// A contact's message with only text.
pub(crate) fn incoming(conversation: ConversationId, content: &str) -> NewMessage {
    NewMessage {
        conversation,
        kind: MessageType::Incoming,
        sender_type: SenderType::Contact,
        contact: None,
        sender: None,
        content: content.into(),
        content_payload: None,
        query_metadata: None,
        attachments: vec![],
        canvas: None,
        metadata: JsonObject::new(),
    }
}

/// An agent's message with only text.
pub(crate) fn outgoing(conversation: ConversationId, content: &str) -> NewMessage {
    NewMessage {
        kind: MessageType::Outgoing,
        sender_type: SenderType::Agent,
        sender: Some(Sender { id: None, name: "Agent".into(), avatar: None }),
        ..incoming(conversation, content)
    }
}

/// A bot reply begun empty, as the reply service begins one.
pub(crate) fn bot_reply(conversation: ConversationId, bot: &Chatbot) -> NewMessage {
    NewMessage {
        kind: MessageType::Outgoing,
        sender_type: SenderType::Bot,
        sender: Some(Sender { id: Some(bot.id.0), name: bot.name.clone(), avatar: None }),
        metadata: object(serde_json::json!({"finishReason": null})),
        ..incoming(conversation, "")
    }
}

pub(crate) async fn say(
    store: &dyn Store,
    org: OrgId,
    conversation: ConversationId,
    content: &str,
) -> Message {
    store.create_message(org, incoming(conversation, content)).await.expect("message")
}

/// A JSON object from `json!`, keys in the order written.
pub(crate) fn object(v: serde_json::Value) -> JsonObject {
    match v {
        serde_json::Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

pub(crate) fn first_page(page_size: usize) -> CursorRequest {
    CursorRequest { cursor: None, page_size }
}

pub(crate) fn at(cursor: Option<Cursor>, page_size: usize) -> CursorRequest {
    CursorRequest { cursor: Some(cursor.expect("a cursor to follow")), page_size }
}

pub(crate) fn page(page: usize, page_size: usize) -> PageRequest {
    PageRequest { page, page_size }
}

pub(crate) fn ids<T>(page: &CursorPage<T>, id: impl Fn(&T) -> uuid::Uuid) -> Vec<uuid::Uuid> {
    page.items.iter().map(id).collect()
}

/// Asserts `r` failed with `NotFound`.
#[track_caller]
pub(crate) fn assert_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    match r {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

/// Asserts `r` failed with `InvalidReference` on `field`, naming `id`.
#[track_caller]
pub(crate) fn assert_invalid<T: std::fmt::Debug>(r: Result<T, StoreError>, field: &str, id: impl ToString) {
    match r {
        Err(StoreError::InvalidReference { field: f, id: i }) if f == field && i == id.to_string() => {}
        other => panic!("expected InvalidReference on {field}, got {other:?}"),
    }
}
