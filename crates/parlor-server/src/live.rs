//! Publishing live conversation events: every stored message and every piece of a reply
//! goes to the store's event bus, which the events endpoint ([`crate::http::events`])
//! follows. Publishing is best effort: a subscriber that misses an event catches up from
//! the store.

use crate::app::AppState;
use parlor_core::events::{Envelope, LiveEvent};
use parlor_core::id::{ConversationId, MessageId, OrgId};
use parlor_core::model::Message;

/// A complete message (a contact's or agent's when stored, a bot reply when finished).
pub async fn message(state: &AppState, org: OrgId, message: &Message) {
    let env = Envelope {
        org,
        conversation: message.conversation,
        event: LiveEvent::Message { message: Box::new(message.clone()) },
    };
    state.store.events().publish(env).await;
}

/// A piece of a reply in flight; `offset` counts the characters before it.
pub async fn delta(
    state: &AppState,
    org: OrgId,
    conversation: ConversationId,
    id: MessageId,
    offset: u64,
    content: &str,
) {
    let env = Envelope {
        org,
        conversation,
        event: LiveEvent::Delta { message: id, offset, content: content.to_string() },
    };
    state.store.events().publish(env).await;
}

/// Whether a message is a bot reply still being generated.
pub fn in_flight(m: &Message) -> bool {
    m.sender_type == parlor_core::model::SenderType::Bot
        && m.metadata.get("finishReason").is_none_or(|v| v.is_null())
}
