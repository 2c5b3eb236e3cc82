//! The storage contract: one trait, one implementation per database (`parlor-store-sqlite`,
//! `parlor-store-postgres`), picked by URL at start and held as `Arc<dyn Store>`.
//!
//! Methods are use cases, not tables: "create a message" also updates its conversation's
//! title, counters and search index in the same transaction. Every method but the key and
//! organization ones takes the caller's organization and never sees another's rows: a row of
//! another organization is [`StoreError::NotFound`], like one that does not exist.

use crate::error::StoreResult;
use crate::id::*;
use crate::input::*;
use crate::model::*;
use crate::page::{CursorPage, CursorRequest, NumberPage, PageRequest, Position};
use crate::search::Query;
use async_trait::async_trait;

/// An export's records: keyset batches, newest first, read on one connection held until the
/// stream ends or is dropped. See [`Store::record_batches`].
pub type RecordBatches = futures::stream::BoxStream<'static, StoreResult<Vec<Record>>>;

/// [`RecordBatches`] from a backend's query for one batch, so both stores page alike.
///
/// `fetch(reader, after, limit)` reads up to `limit` records strictly after `after` (from
/// the newest when `None`) and hands `reader` back (it holds the connection). The stream
/// ends after a batch shorter than `limit`, dropping `reader` then (the connection goes
/// back to its pool rather than when the stream is dropped), or at the first error.
pub fn record_batches_with<R, F, Fut>(reader: R, limit: usize, fetch: F) -> RecordBatches
where
    R: Send + 'static,
    F: Fn(R, Option<Position>, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = StoreResult<(R, Vec<Record>)>> + Send + 'static,
{
    use futures::StreamExt;
    let limit = limit.max(1);
    futures::stream::try_unfold((Some(reader), None), move |(reader, after)| {
        let next = reader.map(|reader| fetch(reader, after, limit));
        async move {
            let Some(next) = next else { return Ok(None) };
            let (reader, batch) = next.await?;
            let after = batch.last().map(|r| Position { created_at: r.created_at, id: r.id.0 });
            let reader = (batch.len() == limit).then_some(reader);
            Ok((!batch.is_empty()).then_some((batch, (reader, after))))
        }
    })
    .boxed()
}

/// One connection pool's occupancy at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Which pool (`"main"`; SQLite has `"write"` and `"read"`).
    pub pool: &'static str,
    /// Connections open now, idle or in use.
    pub open: u32,
    /// Of those, idle ones.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// The first-start lock, held from [`Store::lock_first_start`] until released (or dropped).
#[async_trait]
pub trait FirstStartLock: Send {
    /// Lets the next instance waiting for the lock go on. Dropping the guard releases it
    /// too (PostgreSQL: its connection closes and the lock's transaction ends with it).
    async fn release(self: Box<Self>) -> StoreResult<()>;
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Checks the database answers (`/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    /// Closes the pool; later calls fail.
    async fn close(&self);

    /// The live-event bus of this database (in-process for SQLite, LISTEN/NOTIFY across
    /// instances for PostgreSQL).
    fn events(&self) -> std::sync::Arc<dyn crate::events::EventBus>;

    /// The connection pools' occupancy, for `/metrics`. Read from the pools' own counters, so
    /// it costs no query; a backend without pools reports none.
    fn pool_stats(&self) -> Vec<PoolStats> {
        Vec::new()
    }

    // --- organizations and keys -------------------------------------------------------------

    async fn create_org(&self, name: &str) -> StoreResult<Organization>;
    async fn get_org(&self, id: OrgId) -> StoreResult<Organization>;
    async fn org_count(&self) -> StoreResult<i64>;
    /// Takes the database's first-start lock, waiting while someone else holds it, so that
    /// instances starting together on an empty database take turns at the first start's
    /// check-then-create (no organization yet: make the defaults) and only the first makes
    /// them. PostgreSQL: an advisory lock of a transaction on a connection of its own (the
    /// bootstrap's writes still have the whole pool), released by the database if the
    /// instance dies. SQLite: one process owns its file, so a lock of the store's.
    async fn lock_first_start(&self) -> StoreResult<Box<dyn FirstStartLock>>;
    /// Stores a key by its SHA-256 hex digest; the key itself is never stored.
    async fn create_api_key(
        &self,
        org: OrgId,
        name: &str,
        key_hash: &str,
        prefix: &str,
    ) -> StoreResult<ApiKey>;
    /// The active (not revoked) key with this digest.
    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKey>>;
    async fn list_api_keys(&self, org: OrgId) -> StoreResult<Vec<ApiKey>>;
    async fn revoke_api_key(&self, id: ApiKeyId) -> StoreResult<ApiKey>;

    // --- chatbots ---------------------------------------------------------------------------

    /// Creates the chatbot and its API web chat.
    async fn create_chatbot(&self, org: OrgId, input: NewChatbot) -> StoreResult<Chatbot>;
    async fn get_chatbot(&self, org: OrgId, id: ChatbotId) -> StoreResult<Chatbot>;
    async fn list_chatbots(&self, org: OrgId, page: PageRequest) -> StoreResult<NumberPage<Chatbot>>;
    async fn update_chatbot(&self, org: OrgId, id: ChatbotId, patch: ChatbotPatch) -> StoreResult<Chatbot>;
    /// Deletes the chatbot with its web chats, their conversations and messages, and its
    /// knowledge.
    async fn delete_chatbot(&self, org: OrgId, id: ChatbotId) -> StoreResult<()>;

    // --- web chats and inboxes --------------------------------------------------------------

    /// `chatbot` must be this organization's ([`StoreError::InvalidReference`] otherwise).
    async fn create_web_chat(&self, org: OrgId, input: NewWebChat) -> StoreResult<WebChat>;
    async fn get_web_chat(&self, org: OrgId, id: WebChatId) -> StoreResult<WebChat>;
    async fn list_web_chats(&self, org: OrgId, page: PageRequest) -> StoreResult<NumberPage<WebChat>>;
    async fn update_web_chat(&self, org: OrgId, id: WebChatId, patch: WebChatPatch) -> StoreResult<WebChat>;
    /// Deletes the web chat with its conversations and their messages.
    async fn delete_web_chat(&self, org: OrgId, id: WebChatId) -> StoreResult<()>;
    async fn get_inbox(&self, org: OrgId, id: WebChatId) -> StoreResult<Inbox>;
    async fn list_inboxes(
        &self,
        org: OrgId,
        filter: InboxFilter,
        page: PageRequest,
    ) -> StoreResult<NumberPage<Inbox>>;

    // --- contacts ---------------------------------------------------------------------------

    async fn create_contact(&self, org: OrgId, input: NewContact) -> StoreResult<Contact>;
    async fn get_contact(&self, org: OrgId, id: ContactId) -> StoreResult<Contact>;
    /// `query` matches name, email or phone number, case-insensitively, as a substring.
    async fn list_contacts(
        &self,
        org: OrgId,
        query: Option<&str>,
        page: PageRequest,
    ) -> StoreResult<NumberPage<Contact>>;
    async fn update_contact(&self, org: OrgId, id: ContactId, patch: ContactPatch) -> StoreResult<Contact>;
    /// Deletes the contact; its conversations stay, with no contact.
    async fn delete_contact(&self, org: OrgId, id: ContactId) -> StoreResult<()>;

    // --- attachments ------------------------------------------------------------------------

    async fn create_attachment(&self, org: OrgId, input: NewAttachment) -> StoreResult<StoredAttachment>;
    async fn get_attachment(&self, org: OrgId, id: AttachmentId) -> StoreResult<StoredAttachment>;

    // --- conversations ----------------------------------------------------------------------

    /// `web_chat` and `contact` must be this organization's (`InvalidReference` otherwise).
    async fn create_conversation(&self, org: OrgId, input: NewConversation) -> StoreResult<Conversation>;
    async fn get_conversation(&self, org: OrgId, id: ConversationId) -> StoreResult<Conversation>;
    /// Newest first by `(createdAt, id)`, also under a keyword.
    async fn list_conversations(
        &self,
        org: OrgId,
        filter: ConversationFilter,
        page: CursorRequest,
    ) -> StoreResult<CursorPage<Conversation>>;
    async fn update_conversation(
        &self,
        org: OrgId,
        id: ConversationId,
        patch: ConversationPatch,
    ) -> StoreResult<Conversation>;
    /// Deletes the conversation and its messages.
    async fn delete_conversation(&self, org: OrgId, id: ConversationId) -> StoreResult<()>;
    /// Sets `lastReadAt` to now; the unread count drops to zero.
    async fn mark_conversation_read(&self, org: OrgId, id: ConversationId) -> StoreResult<Conversation>;

    // --- messages ---------------------------------------------------------------------------

    /// Stores a message and updates its conversation in the same transaction.
    /// `conversation`, `contact` and attachment ids must be this organization's
    /// (`InvalidReference` naming the field otherwise).
    async fn create_message(&self, org: OrgId, input: NewMessage) -> StoreResult<Message>;
    /// `conversation`: also require the message to be in that conversation.
    async fn get_message(
        &self,
        org: OrgId,
        id: MessageId,
        conversation: Option<ConversationId>,
    ) -> StoreResult<Message>;
    /// Newest first. With a conversation, also its message count.
    async fn list_messages(
        &self,
        org: OrgId,
        conversation: Option<ConversationId>,
        page: CursorRequest,
    ) -> StoreResult<(CursorPage<Message>, Option<i64>)>;
    async fn set_message_feedback(
        &self,
        org: OrgId,
        id: MessageId,
        feedback: Option<String>,
    ) -> StoreResult<Message>;

    // --- knowledge --------------------------------------------------------------------------

    /// Stores a document of the chatbot and indexes its passages
    /// ([`crate::knowledge::split_passages`]) in the same transaction.
    async fn create_document(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        input: NewDocument,
    ) -> StoreResult<Document>;
    async fn get_document(&self, org: OrgId, chatbot: ChatbotId, id: DocumentId) -> StoreResult<Document>;
    /// Newest first.
    async fn list_documents(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        page: PageRequest,
    ) -> StoreResult<NumberPage<Document>>;
    /// Re-indexes the passages when the title or content changes.
    async fn update_document(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        id: DocumentId,
        patch: DocumentPatch,
    ) -> StoreResult<Document>;
    async fn delete_document(&self, org: OrgId, chatbot: ChatbotId, id: DocumentId) -> StoreResult<()>;
    /// The chatbot's passages matching `query`, best first by the database's full-text rank
    /// (title weighted twice the text), at most `limit`. `metadata`: only passages of
    /// documents whose metadata has every given key with an equal value.
    async fn search_passages(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        query: &Query,
        metadata: Option<&JsonObject>,
        limit: usize,
    ) -> StoreResult<Vec<PassageHit>>;
    /// Every passage's document title and text, for building the chatbot's vocabulary.
    async fn passage_texts(&self, org: OrgId, chatbot: ChatbotId) -> StoreResult<Vec<(String, String)>>;

    // --- widget visitors --------------------------------------------------------------------

    /// The web chat with this id, whichever organization it belongs to, with that
    /// organization: the public widget names a web chat by its id alone. (Like the key
    /// lookups, the one way in that starts without an organization.)
    async fn find_web_chat(&self, id: WebChatId) -> StoreResult<(OrgId, WebChat)>;
    /// Starts a visitor session of a web chat: a new contact (`Visitor <n>`) and the session,
    /// stored by the SHA-256 hex digest of its token, in one transaction.
    async fn create_visitor_session(
        &self,
        org: OrgId,
        web_chat: WebChatId,
        token_hash: &str,
    ) -> StoreResult<VisitorSession>;
    /// The session with this token digest. Deleting its web chat or its contact ends it.
    async fn find_visitor_session(&self, token_hash: &str) -> StoreResult<Option<VisitorSession>>;

    // --- bot replies and records ------------------------------------------------------------

    /// Starts a bot reply: stores `input` (an outgoing bot message, usually empty) exactly as
    /// [`Store::create_message`] does, and marks its conversation as being answered
    /// (`isAutoReplyNow`) until [`Store::finish_reply`].
    async fn begin_reply(&self, org: OrgId, input: NewMessage) -> StoreResult<Message>;
    /// Stores a user's question and starts the bot's reply to it, in one transaction: both as
    /// [`Store::create_message`] stores them (the reply right after the question), and the
    /// conversation marked as being answered as [`Store::begin_reply`] marks it. Both are
    /// stored or neither. `reply` must be in the question's conversation and not a contact's
    /// message ([`crate::input::check_exchange`]). Returns the question and the reply.
    async fn begin_exchange(
        &self,
        org: OrgId,
        question: NewMessage,
        reply: NewMessage,
    ) -> StoreResult<(Message, Message)>;
    /// Saves the text produced so far, so readers and re-attaching clients see it.
    async fn save_reply_progress(&self, org: OrgId, message: MessageId, content: &str) -> StoreResult<()>;
    /// Completes a reply in one transaction: its final text (now searchable), citations and
    /// metadata, its record, and the conversation no longer being answered.
    /// `NotFound` when the message is gone (its conversation was deleted mid-reply).
    async fn finish_reply(&self, org: OrgId, reply: FinishedReply) -> StoreResult<Message>;

    // --- background replies -----------------------------------------------------------------
    //
    // An incoming message on a conversation with auto-reply on joins its conversation's queue;
    // one runner at a time (per conversation, across instances) answers the queue oldest
    // first. [`Store::finish_reply`] takes the answered question off the queue.

    /// Queues `message` (an incoming message just stored) for a background reply when its
    /// conversation has a chatbot and `autoReplyEnabled`; `false` (nothing queued) otherwise.
    async fn queue_auto_reply(&self, org: OrgId, message: MessageId) -> StoreResult<bool>;
    /// The conversation's oldest queued question, if any.
    async fn next_auto_reply(&self, org: OrgId, conversation: ConversationId)
    -> StoreResult<Option<Message>>;
    /// Conversations with queued questions (to resume them after a restart).
    async fn auto_reply_backlog(&self) -> StoreResult<Vec<(OrgId, ConversationId)>>;
    /// Takes the conversation's reply lock if no one holds it: `true` when taken. Several
    /// instances on one PostgreSQL database share it (a session advisory lock, released by
    /// the database if the instance dies); SQLite has one process, whose runners already
    /// take turns, so it is always `true` there.
    async fn try_lock_conversation(&self, conversation: ConversationId) -> StoreResult<bool>;
    async fn unlock_conversation(&self, conversation: ConversationId) -> StoreResult<()>;

    // --- webhook deliveries -------------------------------------------------------------------
    //
    // [`Store::finish_reply`] writes a delivery (the outbox) when the answering chatbot has a
    // `webhookUrl` and the question was an incoming message.

    /// Claims up to `limit` deliveries due at `now`, oldest due first, for `lease`: until
    /// then no one else (no other instance) takes them, and if this one dies they come due
    /// again when the lease ends.
    async fn claim_webhook_deliveries(
        &self,
        now: crate::clock::Timestamp,
        lease: std::time::Duration,
        limit: usize,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// Stores a try's record and the delivery's next state in one transaction. A delivery
    /// already delivered stays so.
    async fn record_webhook_try(&self, attempt: WebhookTry) -> StoreResult<()>;
    /// When the next pending delivery comes due (leases included), if any.
    async fn next_webhook_due(&self) -> StoreResult<Option<crate::clock::Timestamp>>;
    /// The chatbot's tries, newest first. `NotFound` for a chatbot not of `org`.
    async fn list_webhook_records(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        page: PageRequest,
    ) -> StoreResult<NumberPage<WebhookRecord>>;
    /// The chatbot's records matching `filter`, newest first by `(createdAt, id)`, one page
    /// with the total. `NotFound` when the chatbot is not this organization's.
    async fn list_records(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        filter: &RecordFilter,
        page: PageRequest,
    ) -> StoreResult<NumberPage<Record>>;
    /// The chatbot's records matching `filter`, newest first by `(createdAt, id)`, in batches
    /// of up to `batch` (the last one shorter; none when nothing matches): the export's reads.
    /// Each batch is one keyset query starting after the previous batch's last record, so
    /// each costs the same however deep. All run on one connection, taken at the first batch
    /// and held until the stream ends or is dropped: an export of a million records is a
    /// thousand queries, and on whichever pooled connection happened to be idle they would
    /// fill the page cache of several (SQLite's caches are the server's memory). An unknown
    /// chatbot gives no rows.
    fn record_batches(
        &self,
        org: OrgId,
        chatbot: ChatbotId,
        filter: RecordFilter,
        batch: usize,
    ) -> RecordBatches;
}
