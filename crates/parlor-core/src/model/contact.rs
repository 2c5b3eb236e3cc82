//! Contacts: the people who talk to chatbots.

use super::{ChannelRef, JsonObject};
use crate::clock::Timestamp;
use crate::id::ContactId;
use serde::Serialize;
use utoipa::ToSchema;

/// A contact of an organization.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: ContactId,
    pub name: String,
    pub avatar: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    /// The integrator's own id for this person.
    pub source_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub query_metadata: Option<JsonObject>,
    /// The web chats this contact has conversations in.
    pub inboxes: Vec<ChannelRef>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
