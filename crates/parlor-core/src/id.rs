//! Typed ids: one newtype per resource, so a contact id can never be passed where a
//! conversation id is wanted. All are UUID v7, which sort by creation time in both databases.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    )*};
}

typed_id!(
    /// An organization (tenant).
    OrgId,
    /// An API key's id (not the key itself).
    ApiKeyId,
    /// A chatbot.
    ChatbotId,
    /// A web chat; also the id of the inbox it is.
    WebChatId,
    /// A contact (an end user who talks to a chatbot).
    ContactId,
    /// A conversation.
    ConversationId,
    /// A message.
    MessageId,
    /// An attachment (uploaded or registered by URL).
    AttachmentId,
    /// A knowledge document.
    DocumentId,
    /// A passage of a knowledge document (the unit of retrieval).
    PassageId,
    /// A webhook delivery try.
    WebhookRecordId,
    /// A widget visitor's session.
    VisitorSessionId,
    /// A webhook delivery: one bot reply on its way to the chatbot's `webhookUrl`, over
    /// however many tries it takes.
    WebhookDeliveryId,
);
