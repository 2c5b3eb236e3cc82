//! Parlor's shared store: the [`Store`] on PostgreSQL, for deployments where several Parlor
//! instances serve one database.
//!
//! It behaves exactly as `parlor-store-sqlite` (the reference: same responses, order,
//! pagination and errors; the shared store suite in `parlor-testkit` runs on both). What
//! differs is how concurrent writers are kept apart: SQLite has one writer, PostgreSQL many,
//! so each use case that reads and then writes a row locks it first (`SELECT … FOR UPDATE`)
//! and counters are bumped in place (`UPDATE … RETURNING`). Keyword search runs on a
//! generated `tsvector` of normalized text with a GIN index.

mod auto_replies;
mod chatbots;
mod contacts;
mod conversations;
mod events;
mod knowledge;
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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Connections a store opens at most, unless told otherwise. Each Parlor instance holds its
/// own pool, and PostgreSQL allows 100 connections by default: ten per instance leaves room
/// for several instances plus the operator's own sessions.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// How a [`PgStore`] connects.
#[derive(Clone, Copy, Debug)]
pub struct PgStoreOptions {
    /// The pool's size: how many queries this instance runs at once.
    pub max_connections: u32,
    /// How long a caller waits for a free connection before failing (a database that stopped
    /// answering shows as errors, not as requests hanging forever).
    pub acquire_timeout: Duration,
}

impl Default for PgStoreOptions {
    fn default() -> Self {
        PgStoreOptions { max_connections: DEFAULT_MAX_CONNECTIONS, acquire_timeout: Duration::from_secs(10) }
    }
}

/// The PostgreSQL [`Store`].
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// Live events across every instance on this database.
    events: std::sync::Arc<events::PgBus>,
    /// How to open the lock connection.
    connect: PgConnectOptions,
    /// One connection outside the pool holding this instance's conversation locks (session
    /// advisory locks): they live as long as it, so a crashed instance releases them all, and
    /// a reply in progress does not keep a pool connection.
    locks: std::sync::Arc<tokio::sync::Mutex<Option<sqlx::postgres::PgConnection>>>,
}

/// A write transaction.
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

impl PgStore {
    /// Connects with the default options and brings the schema up to date.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, PgStoreOptions::default()).await
    }

    /// Connects and brings the schema up to date. Migrations take sqlx's advisory lock, so
    /// instances starting at once do not run them twice.
    pub async fn connect_with(url: &str, options: PgStoreOptions) -> StoreResult<Self> {
        let connect = PgConnectOptions::from_str(url).map_err(StoreError::backend)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await
            .map_err(StoreError::backend)?;
        sqlx::migrate!("./migrations").run(&pool).await.map_err(StoreError::backend)?;
        let events = std::sync::Arc::new(events::PgBus::start(pool.clone()));
        let store = PgStore { pool, events, connect, locks: Default::default() };
        records::fold_old_records(&store).await?;
        search_text::renormalize_if_stale(&store).await?;
        Ok(store)
    }

    /// Starts a transaction (READ COMMITTED; rows a use case changes are locked explicitly).
    pub(crate) async fn begin(&self) -> StoreResult<Tx> {
        self.pool.begin().await.map_err(map_err)
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
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn events(&self) -> std::sync::Arc<dyn parlor_core::events::EventBus> {
        self.events.clone()
    }

    /// The one pool, from sqlx's counters (no query). The event bus's publisher keeps one of
    /// its connections once it has published, so one shows in use even at rest.
    fn pool_stats(&self) -> Vec<parlor_core::store::PoolStats> {
        vec![parlor_core::store::PoolStats {
            pool: "main",
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }]
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn close(&self) {
        self.events.stop();
        if let Some(c) = self.locks.lock().await.take() {
            let _ = sqlx::Connection::close(c).await;
        }
        self.pool.close().await;
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
        chatbots::get_chatbot(&self.pool, org, id).await
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
        chatbots::get_web_chat(&self.pool, org, id).await
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
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
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
        messages::get_attachment(&self.pool, org, id).await
    }

    async fn create_conversation(&self, org: OrgId, input: NewConversation) -> StoreResult<Conversation> {
        conversations::create_conversation(self, org, input).await
    }
    async fn get_conversation(&self, org: OrgId, id: ConversationId) -> StoreResult<Conversation> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
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
        messages::get_message(&self.pool, org, id, conversation).await
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
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        knowledge::get_document(&mut conn, org, chatbot, id, false).await
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
        auto_replies::try_lock(self, conversation).await
    }
    async fn unlock_conversation(&self, conversation: ConversationId) -> StoreResult<()> {
        auto_replies::unlock(self, conversation).await
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

/// Locks one row of an organization's table until the transaction ends, so a
/// read-modify-write of it cannot lose a concurrent writer's change; `NotFound` when the row
/// is not there. `table` is always a literal of this crate.
pub(crate) async fn lock_row(
    tx: &mut Tx,
    table: &'static str,
    org: OrgId,
    id: uuid::Uuid,
) -> StoreResult<()> {
    let sql = format!("SELECT 1 FROM {table} WHERE org_id = $1 AND id = $2 FOR UPDATE");
    let found: Option<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(org.0)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    found.map(|_| ()).ok_or(StoreError::NotFound)
}
