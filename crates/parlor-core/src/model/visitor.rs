//! Widget visitors: the anonymous people who talk to a web chat through its widget.

use crate::clock::Timestamp;
use crate::id::{ContactId, OrgId, VisitorSessionId, WebChatId};

/// A visitor's session: what its bearer token (held by the visitor's browser, stored only as
/// a digest) lets it reach: its own contact's conversations in one web chat, nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitorSession {
    pub id: VisitorSessionId,
    pub org: OrgId,
    pub web_chat: WebChatId,
    /// The contact made for the visitor when the session started.
    pub contact: ContactId,
    pub created_at: Timestamp,
}
