//! Conversations and their messages, with everything nested in them.

use super::JsonObject;
use crate::clock::Timestamp;
use crate::id::{
    AttachmentId, ChatbotId, ContactId, ConversationId, DocumentId, MessageId, PassageId, WebChatId,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The contact as nested in a conversation.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactRef {
    pub id: ContactId,
    pub name: String,
    pub avatar: Option<String>,
    pub created_at: Timestamp,
}

/// The web chat a conversation came through, as nested in it.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxRef {
    pub id: WebChatId,
    pub name: String,
    /// Always `"web"`.
    pub channel_type: &'static str,
}

/// Whether a conversation still needs attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConversationStatus {
    Open,
    Resolved,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(ConversationStatus::Open),
            "resolved" => Some(ConversationStatus::Resolved),
            _ => None,
        }
    }
}

/// A conversation, with the state the server keeps current.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: ConversationId,
    pub contact: Option<ContactRef>,
    pub inbox: InboxRef,
    /// The first incoming message cut to 100 characters, until set otherwise.
    pub title: String,
    pub last_message: Option<Box<Message>>,
    pub last_message_created_at: Option<Timestamp>,
    /// Incoming messages created after `lastReadAt` (all of them when it is null).
    pub unread_messages_count: i64,
    pub auto_reply_enabled: bool,
    /// A bot reply is being generated right now.
    pub is_auto_reply_now: bool,
    pub last_read_at: Option<Timestamp>,
    pub is_group_chat: bool,
    pub enable_group_mention: bool,
    pub created_at: Timestamp,
    pub web_chat: WebChatId,
    pub chatbot: Option<ChatbotId>,
    pub status: ConversationStatus,
    pub message_count: i64,
    pub updated_at: Timestamp,
}

/// From or to the contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    Incoming,
    Outgoing,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Incoming => "incoming",
            MessageType::Outgoing => "outgoing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "incoming" => Some(MessageType::Incoming),
            "outgoing" => Some(MessageType::Outgoing),
            _ => None,
        }
    }
}

/// Who wrote a message (Parlor adds this beside `sender`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SenderType {
    Contact,
    Bot,
    Agent,
    System,
}

impl SenderType {
    pub fn as_str(self) -> &'static str {
        match self {
            SenderType::Contact => "contact",
            SenderType::Bot => "bot",
            SenderType::Agent => "agent",
            SenderType::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "contact" => Some(SenderType::Contact),
            "bot" => Some(SenderType::Bot),
            "agent" => Some(SenderType::Agent),
            "system" => Some(SenderType::System),
            _ => None,
        }
    }
}

/// The sender as nested in a message. `id` is null for an agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Sender {
    pub id: Option<uuid::Uuid>,
    pub name: String,
    pub avatar: Option<String>,
}

/// What kind of file an attachment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentType {
    Image,
    Video,
    Audio,
    Sticker,
    Other,
}

impl AttachmentType {
    pub const ALL: [&'static str; 5] = ["image", "video", "audio", "sticker", "other"];

    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentType::Image => "image",
            AttachmentType::Video => "video",
            AttachmentType::Audio => "audio",
            AttachmentType::Sticker => "sticker",
            AttachmentType::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "image" => Some(AttachmentType::Image),
            "video" => Some(AttachmentType::Video),
            "audio" => Some(AttachmentType::Audio),
            "sticker" => Some(AttachmentType::Sticker),
            "other" => Some(AttachmentType::Other),
            _ => None,
        }
    }
}

/// A file attached to a message: uploaded to Parlor or registered by URL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attachment {
    pub id: AttachmentId,
    #[serde(rename = "type")]
    pub kind: AttachmentType,
    pub filename: String,
    /// Where the file can be fetched.
    pub file: String,
}

/// A stored attachment with what only the server needs (where an upload's bytes live).
#[derive(Clone, Debug)]
pub struct StoredAttachment {
    pub attachment: Attachment,
    /// Path of an uploaded file relative to the data dir; `None` for an external URL.
    pub storage_path: Option<String>,
    pub content_type: Option<String>,
    pub size: Option<i64>,
    pub created_at: Timestamp,
}

/// A rich block shown with a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Canvas {
    pub name: String,
    pub canvas_type: String,
    pub title: String,
    pub content: String,
}

/// A knowledge document a reply drew on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Citation {
    pub id: DocumentId,
    /// The document's title.
    pub filename: String,
    pub file: Option<String>,
    pub file_type: String,
    pub size: i64,
    /// Always `"done"`.
    pub status: String,
    pub created_at: Timestamp,
}

/// A passage as nested in a citation node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TextNode {
    pub id: PassageId,
    pub characters_count: i64,
    pub hits_count: i64,
    pub text: String,
    pub updated_at: Timestamp,
    pub filename: String,
}

/// A passage a reply drew on, with its retrieval score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CitationNode {
    pub chatbot_text_node: TextNode,
    pub score: f64,
    pub display_score: String,
}

/// Why a bot reply ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    Stop,
    Length,
    Error,
    Cancelled,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::Error => "error",
            FinishReason::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "stop" => Some(FinishReason::Stop),
            "length" => Some(FinishReason::Length),
            "error" => Some(FinishReason::Error),
            "cancelled" => Some(FinishReason::Cancelled),
            _ => None,
        }
    }
}

/// A message of a conversation.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: MessageId,
    pub conversation: ConversationId,
    pub sender: Option<Sender>,
    #[serde(rename = "type")]
    pub kind: MessageType,
    pub content: String,
    #[schema(value_type = Option<Object>)]
    pub content_payload: Option<JsonObject>,
    #[schema(value_type = Option<Object>)]
    pub query_metadata: Option<JsonObject>,
    pub attachments: Vec<Attachment>,
    pub canvas: Option<Canvas>,
    /// `"like"`, `"dislike"` or null.
    pub feedback: Option<String>,
    pub citations: Vec<Citation>,
    pub citation_nodes: Vec<CitationNode>,
    pub created_at: Timestamp,
    pub sender_type: SenderType,
    /// Bot replies: `model`, `finishReason`, `usage`, `latencyMs`. `{}` otherwise.
    #[schema(value_type = Object)]
    pub metadata: JsonObject,
}

/// A conversation's automatic title: its first incoming message, cut to 100 characters.
pub fn title_from(content: &str) -> String {
    content.trim().chars().take(100).collect()
}

/// The URL path an uploaded attachment is served at (relative to the server's origin).
pub fn upload_url(id: AttachmentId) -> String {
    format!("/api/attachments-upload/{id}/file/")
}
