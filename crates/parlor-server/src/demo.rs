//! The demo chatbot's knowledge: Parlor's own FAQ (`parlor_core::knowledge::demo_documents`),
//! so a new user's first questions get real answers with no LLM configured.

use parlor_core::id::{ChatbotId, OrgId};
use parlor_core::input::NewDocument;
use parlor_core::knowledge::demo_documents;
use parlor_core::store::Store;

/// Adds the demo knowledge to the demo chatbot.
pub async fn add_knowledge(store: &dyn Store, org: OrgId, chatbot: ChatbotId) -> anyhow::Result<()> {
    for (title, content) in demo_documents() {
        store
            .create_document(org, chatbot, NewDocument { title, content, metadata: Default::default() })
            .await?;
    }
    Ok(())
}
