//! Validated inputs to the store: what creating or changing a resource needs, already parsed
//! into domain types by the HTTP layer. A patch field of `None` leaves the value as it is; a
//! nullable field is `Option<Option<T>>` so "set to null" and "leave alone" differ.

use crate::clock::Timestamp;
use crate::id::*;
use crate::model::{
    AccessType, Attachment, AttachmentType, Canvas, Citation, CitationNode, ConversationStatus, JsonObject,
    Message, MessageType, Sender, SenderType, WebhookSecret,
};

/// Defaults of a new chatbot, where the request leaves a field out.
pub const DEFAULT_FALLBACK_MESSAGE: &str = "Sorry, I don't know the answer to that yet.";
pub const DEFAULT_TEMPERATURE: f64 = 0.7;
pub const DEFAULT_HISTORY_MESSAGES: i64 = 10;

#[derive(Clone, Debug)]
pub struct NewChatbot {
    pub name: String,
    pub instructions: String,
    pub welcome_message: String,
    pub fallback_message: String,
    pub model: Option<String>,
    pub temperature: f64,
    pub history_messages: i64,
    pub webhook_url: Option<String>,
    /// The key webhook bodies are signed with; set with `webhook_url`.
    pub webhook_secret: Option<WebhookSecret>,
}

impl NewChatbot {
    /// A chatbot with every optional field at its default.
    pub fn named(name: impl Into<String>) -> Self {
        NewChatbot {
            name: name.into(),
            instructions: String::new(),
            welcome_message: String::new(),
            fallback_message: DEFAULT_FALLBACK_MESSAGE.into(),
            model: None,
            temperature: DEFAULT_TEMPERATURE,
            history_messages: DEFAULT_HISTORY_MESSAGES,
            webhook_url: None,
            webhook_secret: None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ChatbotPatch {
    pub name: Option<String>,
    pub instructions: Option<String>,
    pub welcome_message: Option<String>,
    pub fallback_message: Option<String>,
    pub model: Option<Option<String>>,
    pub temperature: Option<f64>,
    pub history_messages: Option<i64>,
    pub webhook_url: Option<Option<String>>,
    /// A new signing key (or none), given when `webhook_url` changes.
    pub webhook_secret: Option<Option<WebhookSecret>>,
}

#[derive(Clone, Debug)]
pub struct NewWebChat {
    pub name: String,
    pub chatbot: ChatbotId,
    pub access_type: AccessType,
    pub welcome_message: String,
    pub allowed_origins: Vec<String>,
    pub is_active: bool,
    pub enable_file_upload: bool,
}

#[derive(Clone, Debug, Default)]
pub struct WebChatPatch {
    pub name: Option<String>,
    pub chatbot: Option<ChatbotId>,
    pub access_type: Option<AccessType>,
    pub welcome_message: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    pub is_active: Option<bool>,
    pub enable_file_upload: Option<bool>,
}

/// Filters of the inbox list; a filter naming nothing of the organization gives no rows.
#[derive(Clone, Debug, Default)]
pub struct InboxFilter {
    pub chatbot: Option<ChatbotId>,
}

#[derive(Clone, Debug, Default)]
pub struct NewContact {
    /// `None`: the store names the contact `Visitor <n>`.
    pub name: Option<String>,
    pub avatar: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub source_id: Option<String>,
    pub query_metadata: Option<JsonObject>,
}

#[derive(Clone, Debug, Default)]
pub struct ContactPatch {
    pub name: Option<String>,
    pub avatar: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone_number: Option<Option<String>>,
    pub source_id: Option<Option<String>>,
    pub query_metadata: Option<Option<JsonObject>>,
}

#[derive(Clone, Debug)]
pub struct NewAttachment {
    pub kind: AttachmentType,
    pub filename: String,
    /// The external URL; for an upload, the store fills in Parlor's own URL path.
    pub file: Option<String>,
    pub storage_path: Option<String>,
    pub content_type: Option<String>,
    pub size: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct NewConversation {
    pub web_chat: WebChatId,
    /// `None`: a new contact is made for the conversation.
    pub contact: Option<ContactId>,
    pub title: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct ConversationPatch {
    pub title: Option<String>,
    pub status: Option<ConversationStatus>,
    pub auto_reply_enabled: Option<bool>,
}

/// Filters of the conversation list.
#[derive(Clone, Debug, Default)]
pub struct ConversationFilter {
    pub inbox: Option<WebChatId>,
    /// Only this contact's conversations (a widget visitor's own).
    pub contact: Option<ContactId>,
    pub keyword: Option<crate::search::Query>,
}

/// An attachment given with a message: one of this organization's by id, or an external file
/// registered on the fly.
#[derive(Clone, Debug)]
pub enum AttachmentInput {
    Existing(AttachmentId),
    External { kind: AttachmentType, filename: String, file: String },
}

/// A message to store. The store resolves attachment inputs, fills the sender of a contact's
/// message, and updates the conversation (title, last message, counters) in one transaction.
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub conversation: ConversationId,
    pub kind: MessageType,
    pub sender_type: SenderType,
    /// For contact messages: the contact (checked to be this org's); `None` uses the
    /// conversation's contact. Ignored for other sender types.
    pub contact: Option<ContactId>,
    /// For agent and bot messages: the sender shown.
    pub sender: Option<Sender>,
    pub content: String,
    pub content_payload: Option<JsonObject>,
    pub query_metadata: Option<JsonObject>,
    pub attachments: Vec<AttachmentInput>,
    pub canvas: Option<Canvas>,
    pub metadata: JsonObject,
}

impl NewMessage {
    /// The message as stored: a new id, stamped now, with the sender and attachments the store
    /// resolved (`attachments` here is what remains of the input once they were taken out).
    /// Stores call it under their write lock (SQLite) or the conversation's (PostgreSQL), so
    /// creation order is commit order and a client paging the list never misses a message
    /// committed behind its cursor.
    pub fn into_message(self, sender: Option<Sender>, attachments: Vec<Attachment>) -> Message {
        Message {
            id: MessageId::new(),
            conversation: self.conversation,
            sender,
            kind: self.kind,
            content: self.content,
            content_payload: self.content_payload,
            query_metadata: self.query_metadata,
            attachments,
            canvas: self.canvas,
            feedback: None,
            citations: vec![],
            citation_nodes: vec![],
            created_at: crate::clock::now(),
            sender_type: self.sender_type,
            metadata: self.metadata,
        }
    }
}

/// Checks the two messages of [`crate::store::Store::begin_exchange`]: the reply must be in
/// the question's conversation and not a contact's message (the contact the store looks up is
/// the question's). Both backends call this before writing anything.
pub fn check_exchange(question: &NewMessage, reply: &NewMessage) -> crate::error::StoreResult<()> {
    if reply.conversation != question.conversation {
        return Err(crate::StoreError::InvalidReference {
            field: "conversation",
            id: reply.conversation.to_string(),
        });
    }
    if reply.sender_type == SenderType::Contact {
        return Err(crate::StoreError::Backend("a reply cannot be a contact's message".into()));
    }
    Ok(())
}

/// The question and the reply of [`crate::store::Store::begin_exchange`], from the messages a
/// backend stored for it, in order.
pub fn exchange_of(messages: Vec<Message>) -> crate::error::StoreResult<(Message, Message)> {
    let mut both = messages.into_iter();
    match (both.next(), both.next(), both.next()) {
        (Some(question), Some(reply), None) => Ok((question, reply)),
        _ => Err(crate::StoreError::Backend("an exchange is two messages".into())),
    }
}

/// The end of a bot reply: stored in one transaction with its record.
#[derive(Clone, Debug)]
pub struct FinishedReply {
    pub message: MessageId,
    pub content: String,
    pub citations: Vec<Citation>,
    pub citation_nodes: Vec<CitationNode>,
    pub metadata: JsonObject,
    /// The record of this answer.
    pub record: NewRecord,
}

/// A question/answer record, written with the reply that answers it.
#[derive(Clone, Debug)]
pub struct NewRecord {
    pub chatbot: ChatbotId,
    pub user_message: MessageId,
    pub input_message: String,
    pub condense_message: String,
    pub context: Option<String>,
    pub reply_time_ms: i64,
    pub error: Option<String>,
    pub finish_reason: String,
}

/// Which of a chatbot's records to read: those whose question was asked in `from..until`
/// (`until` excluded), optionally narrowed by text. The text filters are case-insensitive
/// substrings of the record's input and output (compared as [`crate::model::fold_case`]
/// foldings); `None` or an empty string filters nothing.
#[derive(Clone, Debug)]
pub struct RecordFilter {
    pub from: Timestamp,
    pub until: Timestamp,
    pub user_message: Option<String>,
    pub bot_message: Option<String>,
}

impl RecordFilter {
    /// The folded text to find in a record's folded input, when there is one to find.
    pub fn input_needle(&self) -> Option<String> {
        needle(self.user_message.as_deref())
    }

    /// The folded text to find in a record's folded output, when there is one to find.
    pub fn output_needle(&self) -> Option<String> {
        needle(self.bot_message.as_deref())
    }
}

fn needle(text: Option<&str>) -> Option<String> {
    text.filter(|t| !t.is_empty()).map(crate::model::fold_case)
}

/// Attachments a message had, as stored with it.
pub type StoredAttachments = Vec<Attachment>;

#[derive(Clone, Debug)]
pub struct NewDocument {
    pub title: String,
    pub content: String,
    pub metadata: JsonObject,
}

#[derive(Clone, Debug, Default)]
pub struct DocumentPatch {
    pub title: Option<String>,
    pub content: Option<String>,
    pub metadata: Option<JsonObject>,
}

/// Sets `target` to `value` when the patch gives one: the one rule every patch follows, so
/// each store applies a patch the same way instead of repeating it field by field.
fn set<T: Clone>(target: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        *target = v.clone();
    }
}

impl ChatbotPatch {
    /// Applies the given fields (not `webhook_secret`, which is stored apart from the view).
    pub fn apply_to(&self, bot: &mut crate::model::Chatbot) {
        set(&mut bot.name, &self.name);
        set(&mut bot.instructions, &self.instructions);
        set(&mut bot.welcome_message, &self.welcome_message);
        set(&mut bot.fallback_message, &self.fallback_message);
        set(&mut bot.model, &self.model);
        set(&mut bot.temperature, &self.temperature);
        set(&mut bot.history_messages, &self.history_messages);
        set(&mut bot.webhook_url, &self.webhook_url);
    }
}

impl WebChatPatch {
    /// Applies the given fields but `chatbot`, which the store checks against the
    /// organization before setting it.
    pub fn apply_to(&self, w: &mut crate::model::WebChat) {
        set(&mut w.name, &self.name);
        set(&mut w.access_type, &self.access_type);
        set(&mut w.welcome_message, &self.welcome_message);
        set(&mut w.allowed_origins, &self.allowed_origins);
        set(&mut w.is_active, &self.is_active);
        set(&mut w.enable_file_upload, &self.enable_file_upload);
    }
}

impl ContactPatch {
    pub fn apply_to(&self, c: &mut crate::model::Contact) {
        set(&mut c.name, &self.name);
        set(&mut c.avatar, &self.avatar);
        set(&mut c.email, &self.email);
        set(&mut c.phone_number, &self.phone_number);
        set(&mut c.source_id, &self.source_id);
        set(&mut c.query_metadata, &self.query_metadata);
    }
}

impl DocumentPatch {
    /// Applies the given fields; a new content also updates `charactersCount`.
    pub fn apply_to(&self, doc: &mut crate::model::Document) {
        set(&mut doc.title, &self.title);
        set(&mut doc.metadata, &self.metadata);
        if let Some(content) = &self.content {
            doc.characters_count = content.chars().count() as i64;
            doc.content = content.clone();
        }
    }
}
