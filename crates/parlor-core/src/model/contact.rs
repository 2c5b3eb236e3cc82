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

/// Separates a contact's fields in [`contact_search_text`]; no query contains it, so a match
/// never spans two fields.
const FIELD_SEPARATOR: char = '\u{1f}';

/// What a contact `query` is matched in: the contact's name, email and phone number, each
/// [`fold_case`](super::fold_case)d, one string. Both stores keep it in a column beside the
/// contact and find [`contact_query`] in it as a plain substring, so the match is
/// case-insensitive for every script and the same on both databases, whatever their
/// collation (SQLite's `lower()` folds ASCII only).
pub fn contact_search_text(name: &str, email: Option<&str>, phone_number: Option<&str>) -> String {
    let mut s = super::fold_case(name);
    for field in [email, phone_number] {
        s.push(FIELD_SEPARATOR);
        s.push_str(&super::fold_case(field.unwrap_or("")));
    }
    s
}

/// A contact `query` as it is looked for in [`contact_search_text`].
pub fn contact_query(query: &str) -> String {
    super::fold_case(query).replace(FIELD_SEPARATOR, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_text_folds_every_field_and_keeps_them_apart() {
        let text = contact_search_text("Émile ZOLA", Some("Emile@Example.com"), None);
        assert!(text.contains(&contact_query("émile z")));
        assert!(text.contains(&contact_query("EXAMPLE.COM")));
        // The end of the name and the start of the email are not one substring.
        assert!(!text.contains(&contact_query("zolaemile")));
    }
}
