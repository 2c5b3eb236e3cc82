//! Chatbots, the web chats that reach them, and the inbox view of a web chat.

use crate::clock::Timestamp;
use crate::id::{ChatbotId, WebChatId};
use serde::Serialize;
use utoipa::ToSchema;

/// A chatbot: what it knows (its knowledge documents) and how it answers.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Chatbot {
    pub id: ChatbotId,
    pub name: String,
    /// The system prompt given to an LLM engine.
    pub instructions: String,
    pub welcome_message: String,
    /// What the knowledge engine answers when nothing matches well enough.
    pub fallback_message: String,
    /// `"<provider>/<model>"` naming a provider of the server's config; null for the built-in
    /// knowledge engine.
    pub model: Option<String>,
    pub temperature: f64,
    /// How many earlier messages of the conversation go to the engine.
    pub history_messages: i64,
    pub webhook_url: Option<String>,
    /// The web chat that completions requests without a conversation create theirs in.
    pub api_web_chat_id: WebChatId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How a web chat is reached: the embeddable widget, or the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessType {
    Web,
    Api,
}

impl AccessType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessType::Web => "web",
            AccessType::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "web" => Some(AccessType::Web),
            "api" => Some(AccessType::Api),
            _ => None,
        }
    }
}

/// A web chat: a channel through which contacts talk to a chatbot. Each is an inbox.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebChat {
    pub id: WebChatId,
    pub name: String,
    pub chatbot: ChatbotId,
    pub access_type: AccessType,
    pub welcome_message: String,
    /// Origins (`https://example.com`) whose pages may use the widget; empty allows any.
    pub allowed_origins: Vec<String>,
    pub is_active: bool,
    pub enable_file_upload: bool,
    pub created_at: Timestamp,
}

/// `{id, name}` of a web chat, as nested in inboxes and contacts.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChannelRef {
    pub id: WebChatId,
    pub name: String,
}

/// The inbox view of a web chat.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Inbox {
    pub id: WebChatId,
    pub name: String,
    /// Always `"web"`.
    pub channel_type: &'static str,
    pub channel: ChannelRef,
    pub chatbot: ChatbotId,
    /// Conversations of this inbox with unread incoming messages.
    pub unread_conversations_count: i64,
}
