//! Live conversation events and the bus that fans them out.
//!
//! Every message added to a conversation, and every piece of a bot reply while it is
//! generated, is published on the store's [`EventBus`]. With SQLite the bus is in-process;
//! with PostgreSQL it also crosses instances through LISTEN/NOTIFY, so a client following a
//! conversation on one instance sees what another instance stored or generates.

use crate::id::{ConversationId, MessageId, OrgId};
use crate::model::Message;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

/// What happened in a conversation.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
pub enum LiveEvent {
    /// A complete message: a contact's or agent's when stored, a bot reply when finished.
    Message { message: Box<Message> },
    /// A piece of a bot reply being generated. `offset` counts the characters of the reply
    /// before this piece, so a subscriber can tell a repeat or a gap from the next piece.
    Delta { message: MessageId, offset: u64, content: String },
}

/// A [`LiveEvent`] with where it happened.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub org: OrgId,
    pub conversation: ConversationId,
    pub event: LiveEvent,
}

/// A subscriber fell behind and events were dropped; it should resynchronize from the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lagged;

/// Fan-out of live events to every subscriber, on every instance sharing the database.
#[async_trait::async_trait]
pub trait EventBus: Send + Sync {
    /// Delivers `event` to every subscriber (this instance's included). Best effort: a lost
    /// event is recovered by subscribers from the store, never needed for correctness.
    async fn publish(&self, event: Envelope);
    /// Everything published from now on, by any instance.
    fn subscribe(&self) -> BoxStream<'static, Result<Envelope, Lagged>>;
}
