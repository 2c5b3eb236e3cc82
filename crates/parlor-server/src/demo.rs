//! The demo chatbot's knowledge. (The knowledge documents arrive with the completions work.)

use parlor_core::id::{ChatbotId, OrgId};
use parlor_core::store::Store;

/// Adds the demo knowledge to the demo chatbot.
pub async fn add_knowledge(_store: &dyn Store, _org: OrgId, _chatbot: ChatbotId) -> anyhow::Result<()> {
    Ok(())
}
