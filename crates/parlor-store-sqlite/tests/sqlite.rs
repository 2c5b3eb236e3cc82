//! What only the SQLite store has: group commit of message creates under concurrency, the
//! keyword index keyed by conversation (its deletes), and the upgrade that fills that index
//! from an existing database. The behaviour both backends share is the store suite's
//! (`parlor-testkit`).

use parlor_core::StoreError;
use parlor_core::id::{AttachmentId, ConversationId, OrgId};
use parlor_core::input::{
    AttachmentInput, ConversationFilter, NewChatbot, NewConversation, NewMessage, NewWebChat,
};
use parlor_core::model::{AccessType, AttachmentType, JsonObject, MessageType, SenderType};
use parlor_core::page::CursorRequest;
use parlor_core::search::Query;
use parlor_core::store::Store;
use parlor_store_sqlite::SqliteStore;
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use std::path::Path;
use std::sync::Arc;

struct World {
    org: OrgId,
    convs: Vec<ConversationId>,
}

async fn world(s: &SqliteStore, conversations: usize) -> World {
    let org = s.create_org("acme").await.unwrap().id;
    let bot = s.create_chatbot(org, NewChatbot::named("Helper")).await.unwrap();
    let web_chat = s
        .create_web_chat(
            org,
            NewWebChat {
                name: "Site".into(),
                chatbot: bot.id,
                access_type: AccessType::Web,
                welcome_message: String::new(),
                allowed_origins: vec![],
                is_active: true,
                enable_file_upload: false,
            },
        )
        .await
        .unwrap();
    let mut convs = vec![];
    for _ in 0..conversations {
        let input = NewConversation { web_chat: web_chat.id, contact: None, title: None };
        convs.push(s.create_conversation(org, input).await.unwrap().id);
    }
    World { org, convs }
}

fn incoming(conversation: ConversationId, content: &str) -> NewMessage {
    NewMessage {
        conversation,
        kind: MessageType::Incoming,
        sender_type: SenderType::Contact,
        contact: None,
        sender: None,
        content: content.into(),
        content_payload: None,
        query_metadata: None,
        attachments: vec![],
        canvas: None,
        metadata: JsonObject::new(),
    }
}

async fn raw(path: &Path) -> SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(parlor_store_sqlite::connect_options(path))
        .await
        .unwrap()
}

async fn find(s: &SqliteStore, org: OrgId, keyword: &str) -> Vec<ConversationId> {
    let filter = ConversationFilter { inbox: None, keyword: Query::keyword(keyword), contact: None };
    let page = CursorRequest { cursor: None, page_size: 100 };
    s.list_conversations(org, filter, page).await.unwrap().items.iter().map(|c| c.id).collect()
}

async fn index_rows(pool: &SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM message_index").fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_are_all_committed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(SqliteStore::open(&dir.path().join("parlor.db")).await.unwrap());
    let w = world(&s, 4).await;
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..32 {
        let (s, org, conv) = (s.clone(), w.org, w.convs[t % 4]);
        tasks.spawn(async move {
            let mut made = vec![];
            for i in 0..25 {
                made.push(
                    s.create_message(org, incoming(conv, &format!("task{t} number{i}"))).await.unwrap(),
                );
            }
            made
        });
    }
    let mut made = vec![];
    while let Some(r) = tasks.join_next().await {
        made.extend(r.unwrap());
    }
    assert_eq!(made.len(), 800);
    for conv in &w.convs {
        let c = s.get_conversation(w.org, *conv).await.unwrap();
        assert_eq!((c.message_count, c.unread_messages_count), (200, 200));
        let (page, count) = s
            .list_messages(w.org, Some(*conv), CursorRequest { cursor: None, page_size: 100 })
            .await
            .unwrap();
        assert_eq!(count, Some(200));
        // Newest first, strictly: creation order is (created_at, id) order.
        let keys: Vec<_> = page.items.iter().map(|m| (m.created_at, m.id.0)).collect();
        assert!(keys.windows(2).all(|p| p[0] > p[1]), "pages are in (created_at, id) order");
        // The conversation's last message is the newest one.
        assert_eq!(c.last_message.unwrap().id, page.items[0].id);
    }
    // Every message was indexed, under its own conversation.
    let pool = raw(&dir.path().join("parlor.db")).await;
    assert_eq!(index_rows(&pool).await, 800);
    assert_eq!(find(&s, w.org, "task7").await, vec![w.convs[3]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_create_fails_alone_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parlor.db");
    let s = Arc::new(SqliteStore::open(&db).await.unwrap());
    let w = world(&s, 2).await;
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..60 {
        let (s, org, conv) = (s.clone(), w.org, w.convs[t % 2]);
        tasks.spawn(async move {
            let mut input = incoming(conv, &format!("message {t}"));
            match t % 3 {
                0 => {}
                // An unknown conversation: refused before anything is written.
                1 => input.conversation = ConversationId::new(),
                // An external attachment is stored, then an unknown one refuses the message:
                // the first must be taken back with it.
                _ => {
                    input.attachments = vec![
                        AttachmentInput::External {
                            kind: AttachmentType::Image,
                            filename: "a.png".into(),
                            file: "https://files.example/a.png".into(),
                        },
                        AttachmentInput::Existing(AttachmentId::new()),
                    ]
                }
            }
            (t, s.create_message(org, input).await)
        });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        let (t, result) = r.unwrap();
        match (t % 3, result) {
            (0, Ok(_)) => ok += 1,
            (1, Err(StoreError::InvalidReference { field: "conversation", .. })) => {}
            (2, Err(StoreError::InvalidReference { field: "attachments", .. })) => {}
            (k, other) => panic!("message {t} (kind {k}): {other:?}"),
        }
    }
    assert_eq!(ok, 20);
    let pool = raw(&db).await;
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM messages").fetch_one(&pool).await.unwrap();
    let attachments: i64 =
        sqlx::query_scalar("SELECT count(*) FROM attachments").fetch_one(&pool).await.unwrap();
    assert_eq!((messages, attachments, index_rows(&pool).await), (20, 0, 20));
    let counts: i64 =
        sqlx::query_scalar("SELECT sum(message_count) FROM conversations").fetch_one(&pool).await.unwrap();
    assert_eq!(counts, 20);
}

#[tokio::test]
async fn deleting_a_conversation_deletes_its_index_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parlor.db");
    let s = SqliteStore::open(&db).await.unwrap();
    let w = world(&s, 2).await;
    for conv in &w.convs {
        for text in ["refund please", "my order", "thanks"] {
            s.create_message(w.org, incoming(*conv, text)).await.unwrap();
        }
    }
    let pool = raw(&db).await;
    assert_eq!(index_rows(&pool).await, 6);
    s.delete_conversation(w.org, w.convs[0]).await.unwrap();
    assert_eq!(index_rows(&pool).await, 3);
    assert_eq!(find(&s, w.org, "refund").await, vec![w.convs[1]]);
    // A message deleted on its own takes its index row with it.
    sqlx::query("DELETE FROM messages WHERE content = 'thanks'").execute(&pool).await.unwrap();
    assert_eq!(index_rows(&pool).await, 2);
    assert!(find(&s, w.org, "thanks").await.is_empty());
}

/// A database from before migration 0004 (messages indexed in `message_fts` by their own
/// `seq`) gets `message_index` filled on open, and its searches find the same conversations.
#[tokio::test]
async fn upgrade_fills_the_index_from_existing_messages() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parlor.db");
    let s = SqliteStore::open(&db).await.unwrap();
    let w = world(&s, 3).await;
    let texts =
        [["Refund for order 42", "Thanks!"], ["Where is my parcel?", "Tracking: 123"], ["", "Ça va, café?"]];
    for (conv, texts) in w.convs.iter().zip(texts) {
        for text in texts {
            s.create_message(w.org, incoming(*conv, text)).await.unwrap();
        }
    }
    s.close().await;
    // Back to 0003's schema: the old index and trigger, 0004 not applied.
    let pool = raw(&db).await;
    for sql in [
        "DROP TRIGGER messages_index_delete",
        "DROP TRIGGER conversations_index_delete",
        "DROP TABLE message_index",
        "CREATE VIRTUAL TABLE message_fts USING fts5(body, content='', contentless_delete=1,
            tokenize='unicode61 remove_diacritics 2')",
        "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            DELETE FROM message_fts WHERE rowid = old.seq; END",
        "DELETE FROM _sqlx_migrations WHERE version = 4",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let s = SqliteStore::open(&db).await.unwrap();
    assert_eq!(find(&s, w.org, "refund").await, vec![w.convs[0]]);
    assert_eq!(find(&s, w.org, "tracking").await, vec![w.convs[1]]);
    assert_eq!(find(&s, w.org, "cafe").await, vec![w.convs[2]]);
    let pool = raw(&db).await;
    assert_eq!(index_rows(&pool).await, 5, "every message with text, once");
    let old: Option<i64> = sqlx::query_scalar("SELECT 1 FROM sqlite_master WHERE name = 'message_fts'")
        .fetch_optional(&pool)
        .await
        .unwrap();
    assert_eq!(old, None, "the old index is gone");
    // Opening again changes nothing.
    s.close().await;
    let s = SqliteStore::open(&db).await.unwrap();
    assert_eq!(index_rows(&pool).await, 5);
    assert_eq!(find(&s, w.org, "order").await, vec![w.convs[0]]);
}
