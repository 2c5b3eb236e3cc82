//! The first start: on an empty database, make the organization `default`, a demo chatbot
//! that explains Parlor, a web chat for it, and an API key printed once, so a new user can
//! talk to the API with nothing set up by hand. A later start makes nothing new.
//!
//! Instances starting together on one empty PostgreSQL database would each see no
//! organization and each make the defaults, so the check and the making run under the
//! store's first-start lock: the first instance makes them, the next finds them made.

use crate::keys;
use anyhow::Context;
use parlor_core::input::{NewChatbot, NewWebChat};
use parlor_core::model::AccessType;
use parlor_core::store::Store;
use std::path::Path;

/// What the first start made.
#[derive(Debug)]
pub struct Bootstrapped {
    pub api_key: String,
    pub org: parlor_core::OrgId,
    pub chatbot: parlor_core::ChatbotId,
    pub web_chat: parlor_core::WebChatId,
}

/// Creates the defaults when the database has no organization, holding the first-start
/// lock. `key_file`: where to write the key (the embedded store's `<data-dir>/admin-key`,
/// mode 0600).
pub async fn run(store: &dyn Store, key_file: Option<&Path>) -> anyhow::Result<Option<Bootstrapped>> {
    let lock = store.lock_first_start().await.context("taking the first-start lock")?;
    let made = make_defaults(store, key_file).await;
    // Released even when making failed; that failure is the one to report.
    let released = lock.release().await.context("releasing the first-start lock");
    let made = made?;
    released?;
    Ok(made)
}

async fn make_defaults(store: &dyn Store, key_file: Option<&Path>) -> anyhow::Result<Option<Bootstrapped>> {
    if store.org_count().await? > 0 {
        return Ok(None);
    }
    let org = store.create_org("default").await?;
    let mut bot = NewChatbot::named("Parlor Guide");
    bot.welcome_message = "Hi! I know how Parlor works. Ask me anything about it.".into();
    bot.instructions = "You are Parlor's guide. Answer questions about using Parlor.".into();
    let chatbot = store.create_chatbot(org.id, bot).await?;
    crate::demo::add_knowledge(store, org.id, chatbot.id).await?;
    let web_chat = store
        .create_web_chat(
            org.id,
            NewWebChat {
                name: "Demo web chat".into(),
                chatbot: chatbot.id,
                access_type: AccessType::Web,
                welcome_message: chatbot.welcome_message.clone(),
                allowed_origins: vec![],
                is_active: true,
                enable_file_upload: true,
            },
        )
        .await?;
    let api_key = keys::generate();
    store.create_api_key(org.id, "admin", &keys::hash(&api_key), &keys::display_prefix(&api_key)).await?;
    if let Some(path) = key_file {
        write_private(path, &format!("{api_key}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(Some(Bootstrapped { api_key, org: org.id, chatbot: chatbot.id, web_chat: web_chat.id }))
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(content.as_bytes())
}
