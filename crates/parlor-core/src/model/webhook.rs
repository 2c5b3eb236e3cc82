//! Webhooks: the signing key of a chatbot's webhook, the deliveries waiting in the outbox,
//! and the log of every try (`/chatbots/{id}/webhook-records/`).
//!
//! A delivery is written in the same transaction that completes a bot reply, so a reply is
//! never stored without its delivery (nor the reverse). Its body is the Message JSON as
//! serialized then: the bytes signed and sent on every try, never rebuilt.

use crate::clock::Timestamp;
use crate::id::{ChatbotId, MessageId, OrgId, WebhookDeliveryId, WebhookRecordId};
use serde::Serialize;
use utoipa::ToSchema;

/// The key a chatbot's webhook bodies are signed with (HMAC-SHA256). Its `Debug` hides it,
/// as logs print `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(pub String);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// One try of a delivery, as listed at `/chatbots/{id}/webhook-records/`.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRecord {
    pub id: WebhookRecordId,
    pub chatbot: ChatbotId,
    /// Where this try went.
    pub url: String,
    /// The body sent: the bot reply's Message JSON.
    #[schema(value_type = Object)]
    pub request_body: serde_json::Value,
    /// The receiver's response body, cut to a few KiB; null when none came (timeout,
    /// connection refused).
    pub response: Option<String>,
    /// The receiver's HTTP status; null when no response came.
    pub status_code: Option<i64>,
    pub created_at: Timestamp,
    /// Parlor adds: the bot reply delivered.
    pub message: MessageId,
    /// Parlor adds: 1 for the first try of its delivery, 2 for the first retry, …
    pub attempt: i64,
    /// Parlor adds: why no response came (timeout, connection error), else null.
    pub error: Option<String>,
}

/// A delivery the worker has claimed and now tries: the body, and where the chatbot's
/// webhook points now (`url` is `None` when it was unset since the reply completed).
#[derive(Clone, Debug)]
pub struct WebhookDelivery {
    pub id: WebhookDeliveryId,
    pub org: OrgId,
    pub chatbot: ChatbotId,
    pub message: MessageId,
    /// The exact bytes to sign and send.
    pub body: String,
    /// Tries made before this one.
    pub attempts: i64,
    pub url: Option<String>,
    pub secret: Option<WebhookSecret>,
}

/// What becomes of a delivery after a try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryNext {
    /// A 2xx came: done, never sent again.
    Delivered,
    /// Try again at this time.
    RetryAt(Timestamp),
    /// No more tries (the schedule ran out, or the chatbot has no webhook any more).
    GiveUp,
}

/// The outcome of one try, stored in one transaction: its record (none when nothing was
/// sent) and the delivery's next state.
#[derive(Clone, Debug)]
pub struct WebhookTry {
    pub delivery: WebhookDeliveryId,
    pub record: Option<NewWebhookRecord>,
    pub next: DeliveryNext,
}

/// A try's record, written by [`WebhookTry`].
#[derive(Clone, Debug)]
pub struct NewWebhookRecord {
    pub org: OrgId,
    pub chatbot: ChatbotId,
    pub message: MessageId,
    pub url: String,
    pub request_body: String,
    pub response: Option<String>,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub attempt: i64,
}
