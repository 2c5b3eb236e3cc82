//! Parlor's embedded store: the [`Store`] on SQLite, the default that needs nothing
//! installed.
//!
//! One file in the data dir, in WAL mode (readers never wait for the writer) with foreign
//! keys on. Writes go through a pool of one connection that starts its transactions with
//! `BEGIN IMMEDIATE`: SQLite has one writer anyway, and taking the write lock up front means
//! a transaction never fails half-way with `SQLITE_BUSY` when it turns from reading to
//! writing. Reads use a separate pool of several connections. Keyword search runs on FTS5.

mod auto_replies;
mod chatbots;
mod contacts;
mod conversations;
mod events;
mod group_commit;
mod knowledge;
mod message_index;
mod messages;
mod orgs;
mod records;
mod replies;
mod rows;
mod search;
mod search_text;
mod visitors;
mod webhooks;

use async_trait::async_trait;
use parlor_core::StoreError;
use parlor_core::error::StoreResult;
use parlor_core::id::*;
use parlor_core::input::*;
use parlor_core::model::*;
use parlor_core::page::{CursorPage, CursorRequest, NumberPage, PageRequest};
use parlor_core::search::Query;
use parlor_core::store::Store;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

/// The SQLite [`Store`].
#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// Live events of this database's conversations.
    events: std::sync::Arc<events::LocalBus>,
    /// One connection: every write transaction.
    write: SqlitePool,
    /// Several connections: reads, which WAL lets run beside the writer.
    read: SqlitePool,
    /// Message creates, committed in groups by one task writing through `write`.
    creates: group_commit::Creates,
    /// The first-start lock (see [`Store::lock_first_start`]): a process owns its file.
    first_start: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction.
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

impl SqliteStore {
    /// Opens (creating if missing) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let base = connect_options(path);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(base.clone())
            .await
            .map_err(StoreError::backend)?;
        sqlx::migrate!("./migrations").run(&write).await.map_err(StoreError::backend)?;
        {
            let mut conn = write.acquire().await.map_err(map_err)?;
            message_index::fill_after_migration(&mut conn).await?;
            search_text::renormalize_if_stale(&mut conn).await?;
        }
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(read_options(base))
            .await
            .map_err(StoreError::backend)?;
        let creates = group_commit::Creates::start(write.clone());
        let store =
            SqliteStore { events: Default::default(), write, read, creates, first_start: Default::default() };
        records::fold_old_records(&store).await?;
        Ok(store)
    }

    /// Starts a write transaction holding SQLite's write lock.
    pub(crate) async fn begin(&self) -> StoreResult<Tx> {
        self.write.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)
    }

    /// Runs SQLite's own consistency check; `Ok` when it says `ok`.
    pub async fn integrity_check(&self) -> StoreResult<()> {
        let rows: Vec<String> =
            sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&self.read).await.map_err(map_err)?;
        if rows.len() == 1 && rows[0] == "ok" { Ok(()) } else { Err(StoreError::Backend(rows.join("; "))) }
    }
}

/// The connection settings of both pools (the read pool adds `read_only`). Public so tools
/// that open the file beside the store, such as `parlor-bench`'s raw-commit baseline and bulk
/// loader, use exactly the settings the server runs with.
pub fn connect_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // WAL + NORMAL: a commit survives a process crash; only an OS crash or power
        // loss may drop the last commits, never corrupt the file.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("temp_store", "memory")
        .pragma("cache_size", "-16000")
}

/// The read pool's settings: [`connect_options`] read-only, with a smaller page cache and a
/// deeper row buffer.
///
/// The page cache is per connection and stays full once a scan has filled it, so the read
/// pool's caches bound the server's memory: 8 connections of 16 MiB made a 128 MiB ceiling
/// (an export of a million records used to leave several full). At 4 MiB each, 32 MiB. The
/// database file sits in the operating system's cache anyway, so a read that misses costs a
/// copy from it, not a disk read; the foundation's read and keyword benchmarks did not move
/// (see `BENCHMARKS.md`).
///
/// sqlx's worker thread hands rows over through a channel of 50 by default, so a query of a
/// thousand rows (an export batch) blocked and woke both sides twenty times; 1,024 lets it
/// run through.
fn read_options(base: SqliteConnectOptions) -> SqliteConnectOptions {
    base.read_only(true).pragma("cache_size", "-4000").row_buffer_size(1024)
}

/// A pool's occupancy, from sqlx's counters (no query).
fn pool_stats(name: &'static str, pool: &SqlitePool) -> parlor_core::store::PoolStats {
    parlor_core::store::PoolStats {
        pool: name,
        open: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}

/// The one message of a create of one.
fn one(mut messages: Vec<Message>) -> StoreResult<Message> {
    messages.pop().ok_or_else(|| StoreError::Backend("no message was stored".into()))
}

/// Maps sqlx errors to the store's: unique violations are conflicts, a missing row is
/// `NotFound`, the rest is a backend failure.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_string())
        }
        _ => StoreError::backend(e),
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await.map_err(map_err)?;
        Ok(())
    }

    async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    fn events(&self) -> std::sync::Arc<dyn parlor_core::events::EventBus> {
        self.events.clone()
    }

    fn pool_stats(&self) -> Vec<parlor_core::store::PoolStats> {
        vec![pool_stats("write", &self.write), pool_stats("read", &self.read)]
    }

    async fn create_org(&self, name: &str) -> StoreResult<Organization> {
        orgs::create_org(self, name).await
    }
    async fn get_org(&self, id: OrgId) -> StoreResult<Organization> {
        orgs::get_org(self, id).await
    }
    async fn org_count(&self) -> StoreResult<i64> {
        orgs::org_count(self).await
    }
    async fn lock_first_start(&self) -> StoreResult<Box<dyn parlor_core::store::FirstStartLock>> {
        orgs::lock_first_start(self).await
    }
    async fn create_api_key(
        &self,
        org: OrgId,
        name: &str,
        key_hash: &str,
        prefix: &str,
    ) -> StoreResult<ApiKey> {
        orgs::create_api_key(self, org, name, key_hash, prefix).await
    }
    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        orgs::find_api_key(self, key_hash).await
    }
    async fn list_api_keys(&self, org: OrgId) -> StoreResult<Vec<ApiKey>> {
        orgs::list_api_keys(self, org).await
    }
    async fn revoke_api_key(&self, id: ApiKeyId) -> StoreResult<ApiKey> {
        orgs::revoke_api_key(self, id).await
    }

    async fn create_chatbot(&self, org: OrgId, input: NewChatbot) -> StoreResult<Chatbot> {
        chatbots::create_chatbot(self, org, input).await
    }
    async fn get_chatbot(&self, org: OrgId, id: ChatbotId) -> StoreResult<Chatbot> {
        chatbots::get_chatbot(&self.read, org, id).await
    }
    async fn list_chatbots(&self, org: OrgId, page: PageRequest) -> StoreResult<NumberPage<Chatbot>> {
        chatbots::list_chatbots(self, org, page).await
    }
    async fn update_chatbot(&self, org: OrgId, id: ChatbotId, patch: ChatbotPatch) -> StoreResult<Chatbot> {
        chatbots::update_chatbot(self, org, id, patch).await
    }
    async fn delete_chatbot(&self, org: OrgId, id: ChatbotId) -> StoreResult<()> {
        chatbots::delete_chatbot(self, org, id).await
    }

    async fn create_web_chat(&self, org: OrgId, input: NewWebChat) -> StoreResult<WebChat> {
        chatbots::create_web_chat(self, org, input).await
    }
    async fn get_web_chat(&self, org: OrgId, id: WebChatId) -> StoreResult<WebChat> {
        chatbots::get_web_chat(&self.read, org, id).await
    }
    async fn list_web_chats(&self, org: OrgId, page: PageRequest) -> StoreResult<NumberPage<WebChat>> {
        chatbots::list_web_chats(self, org, page).await
    }
    async fn update_web_chat(&self, org: OrgId, id: WebChatId, patch: WebChatPatch) -> StoreResult<WebChat> {
        chatbots::update_web_chat(self, org, id, patch).await
    }
    async fn delete_web_chat(&self, org: OrgId, id: WebChatId) -> StoreResult<()> {
        chatbots::delete_web_chat(self, org, id).await
    }
    async fn get_inbox(&self, org: OrgId, id: WebChatId) -> StoreResult<Inbox> {
        chatbots::get_inbox(self, org, id).await
    }
    async fn list_inboxes(
        &self,
        org: OrgId,
        filter: InboxFilter,
        page: PageRequest,
    ) -> StoreResult<NumberPage<Inbox>> {
        chatbots::list_inboxes(self, org, filter, page).await
    }

    async fn create_contact(&self, org: OrgId, input: NewContact) -> StoreResult<Contact> {
        contacts::create_contact(self, org, input).await
    }
    async fn get_contact(&self, org: OrgId, id: ContactId) -> StoreResult<Contact> {
        let mut conn = self.read.acquire().await.map_err(map_err)?;
        contacts::get_contact(&mut conn, org, id).await
    }
    async fn list_contacts(
        &self,
        org: OrgId,
        query: Option<&str>,
        page: PageRequest,
    ) -> StoreResult<NumberPage<Contact>> {
        contacts::list_contacts(self, org, query, page).await
    }
    async fn update_contact(&self, org: OrgId, id: ContactId, patch: ContactPatch) -> StoreResult<Contact> {
        contacts::update_contact(self, org, id, patch).await
    }
    async fn delete_contact(&self, org: OrgId, id: ContactId) -> StoreResult<()> {
        contacts::delete_contact(self, org, id).await
    }

    async fn create_attachment(&self, org: OrgId, input: NewAttachment) -> StoreResult<StoredAttachment> {
        messages::create_attachment(self, org, input).await
    }
    async fn get_attachment(&self, org: OrgId, id: AttachmentId) -> StoreResult<StoredAttachment> {
        messages::get_attachment(&self.read, org, id).await
    }

    async fn create_conversation(&self, org: OrgId, input: NewConversation) -> StoreResult<Conversation> {
        conversations::create_conversation(self, org, input).await
    }
    async fn get_conversation(&self, org: OrgId, id: ConversationId) -> StoreResult<Conversation> {
        let mut conn = self.read.acquire().await.map_err(map_err)?;
        conversations::get_conversation(&mut conn, org, id).await
    }
    async fn list_conversations(
        &self,
        org: OrgId,
        filter: ConversationFilter,
        page: CursorRequest,
    ) -> StoreResult<CursorPage<Conversation>> {
        conversations::list_conversations(self, org, filter, page).await
    }
    async fn update_conversation(
        &self,
        org: OrgId,
        id: ConversationId,
        patch: ConversationPatch,
    ) -> StoreResult<Conversation> {
        conversations::update_conversation(self, org, id, patch).await
    }
    async fn delete_conversation(&self, org: OrgId, id: ConversationId) -> StoreResult<()> {
        conversations::delete_conversation(self, org, id).await
    }
    async fn mark_conversation_read(&self, org: OrgId, id: ConversationId) -> StoreResult<Conversation> {
        conversations::mark_read(self, org, id).await
    }

    async fn create_message(&self, org: OrgId, input: NewMessage) -> StoreResult<Message> {
        one(messages::create_messages(self, org, vec![input], false).await?)
    }
    async fn get_message(
        &self,
        org: OrgId,
        id: MessageId,
        conversation: Option<ConversationId>,
    ) -> StoreResult<Message> {
        messages::get_message(&self.read, org, id, conversation).await
    }
    async fn list_messages(
        &self,
        org: OrgId,
        conversation: Option<ConversationId>,
        page: CursorRequest,
    ) -> StoreResult<(CursorPage<Message>, Option<i64>)> {
        messages::list_messages(self, org, conversation, page).await
    }
    async fn set_message_feedback(
        &self,
        org: OrgId,
        id: MessageId,
        feedback: Option<String>,
    ) -> StoreResult<Message> {
        messages::set_feedback(self, org, id, feedback).await
    }

    async fn create_document(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        input: NewDocument,
    ) -> StoreResult<Document> {
        knowledge::create_document(self, org, chatbot, input).await
    }
    async fn get_document(&self, org: OrgId, chatbot: ChatbotId, id: DocumentId) -> StoreResult<Document> {
        let mut conn = self.read.acquire().await.map_err(map_err)?;
        knowledge::get_document(&mut conn, org, chatbot, id).await
    }
    async fn list_documents(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        page: PageRequest,
    ) -> StoreResult<NumberPage<Document>> {
        knowledge::list_documents(self, org, chatbot, page).await
    }
    async fn update_document(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        id: DocumentId,
        patch: DocumentPatch,
    ) -> StoreResult<Document> {
        knowledge::update_document(self, org, chatbot, id, patch).await
    }
    async fn delete_document(&self, org: OrgId, chatbot: ChatbotId, id: DocumentId) -> StoreResult<()> {
        knowledge::delete_document(self, org, chatbot, id).await
    }
    async fn search_passages(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        query: &Query,
        metadata: Option<&JsonObject>,
        limit: usize,
    ) -> StoreResult<Vec<PassageHit>> {
        knowledge::search_passages(self, org, chatbot, query, metadata, limit).await
    }
    async fn passage_texts(&self, org: OrgId, chatbot: ChatbotId) -> StoreResult<Vec<(String, String)>> {
        knowledge::passage_texts(self, org, chatbot).await
    }

    async fn find_web_chat(&self, id: WebChatId) -> StoreResult<(OrgId, WebChat)> {
        visitors::find_web_chat(self, id).await
    }
    async fn create_visitor_session(
        &self,
        org: OrgId,
        web_chat: WebChatId,
        token_hash: &str,
    ) -> StoreResult<VisitorSession> {
        visitors::create_visitor_session(self, org, web_chat, token_hash).await
    }
    async fn find_visitor_session(&self, token_hash: &str) -> StoreResult<Option<VisitorSession>> {
        visitors::find_visitor_session(self, token_hash).await
    }

    async fn begin_reply(&self, org: OrgId, input: NewMessage) -> StoreResult<Message> {
        one(messages::create_messages(self, org, vec![input], true).await?)
    }
    async fn begin_exchange(
        &self,
        org: OrgId,
        question: NewMessage,
        reply: NewMessage,
    ) -> StoreResult<(Message, Message)> {
        check_exchange(&question, &reply)?;
        exchange_of(messages::create_messages(self, org, vec![question, reply], true).await?)
    }
    async fn save_reply_progress(&self, org: OrgId, message: MessageId, content: &str) -> StoreResult<()> {
        replies::save_progress(self, org, message, content).await
    }
    async fn finish_reply(&self, org: OrgId, reply: FinishedReply) -> StoreResult<Message> {
        replies::finish_reply(self, org, reply).await
    }

    async fn queue_auto_reply(&self, org: OrgId, message: MessageId) -> StoreResult<bool> {
        auto_replies::queue(self, org, message).await
    }
    async fn next_auto_reply(
        &self,
        org: OrgId,
        conversation: ConversationId,
    ) -> StoreResult<Option<Message>> {
        auto_replies::next(self, org, conversation).await
    }
    async fn auto_reply_backlog(&self) -> StoreResult<Vec<(OrgId, ConversationId)>> {
        auto_replies::backlog(self).await
    }
    async fn try_lock_conversation(&self, conversation: ConversationId) -> StoreResult<bool> {
        // One process: its runners already take turns per conversation.
        let _ = conversation;
        Ok(true)
    }
    async fn unlock_conversation(&self, conversation: ConversationId) -> StoreResult<()> {
        let _ = conversation;
        Ok(())
    }
    async fn claim_webhook_deliveries(
        &self,
        now: parlor_core::clock::Timestamp,
        lease: Duration,
        limit: usize,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        webhooks::claim(self, now, lease, limit).await
    }
    async fn record_webhook_try(&self, attempt: WebhookTry) -> StoreResult<()> {
        webhooks::record_try(self, attempt).await
    }
    async fn next_webhook_due(&self) -> StoreResult<Option<parlor_core::clock::Timestamp>> {
        webhooks::next_due(self).await
    }
    async fn list_webhook_records(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        page: PageRequest,
    ) -> StoreResult<NumberPage<WebhookRecord>> {
        webhooks::list_records(self, org, chatbot, page).await
    }
    async fn list_records(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        filter: &RecordFilter,
        page: PageRequest,
    ) -> StoreResult<NumberPage<Record>> {
        records::list_records(self, org, chatbot, filter, page).await
    }
    fn record_batches(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        filter: RecordFilter,
        batch: usize,
    ) -> parlor_core::store::RecordBatches {
        records::record_batches(self, org, chatbot, filter, batch)
    }
}
