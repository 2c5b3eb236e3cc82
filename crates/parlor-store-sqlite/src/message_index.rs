//! The keyword index of message texts (`message_index`, migration 0004): its row key, which
//! names the message's conversation, and the one-time fill from `messages` that replaces the
//! older `message_fts`.
//!
//! A row's key is `(conversation seq << 32) | (message seq & 0xFFFFFFFF)`, so a keyword
//! search maps its matches to conversations with `rowid >> 32`, without reading a single
//! message row.

use crate::{Tx, map_err};
use parlor_core::error::StoreResult;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, QueryBuilder, Sqlite};

/// The key of a message's index row.
pub(crate) fn key(conversation_seq: i64, message_seq: i64) -> i64 {
    (conversation_seq << 32) | (message_seq & 0xFFFF_FFFF)
}

/// (Re)writes the index row of an existing message, e.g. after its text changed.
pub(crate) async fn reindex_message(tx: &mut Tx, message_seq: i64, text: &str) -> StoreResult<()> {
    let body = parlor_core::search::normalize(text);
    // One round trip: the old row goes, the new one (if any text) comes.
    let sql = format!(
        "DELETE FROM message_index WHERE rowid = (SELECT {k} FROM messages m JOIN conversations c
             ON c.id = m.conversation_id WHERE m.seq = ?1);
         INSERT INTO message_index (rowid, body) SELECT {k}, ?2 FROM messages m JOIN conversations c
             ON c.id = m.conversation_id WHERE m.seq = ?1 AND ?2 <> ''",
        k = "((c.seq << 32) | (m.seq & 4294967295))"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(message_seq)
        .bind(body)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Messages read and indexed per statement while filling the index.
const FILL_BATCH: i64 = 2000;

/// Writes the index row of every message (into an empty index), in batches; returns how
/// many messages it read.
pub(crate) async fn fill(tx: &mut SqliteConnection) -> StoreResult<usize> {
    let (mut after, mut total) = (0i64, 0usize);
    loop {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT m.seq, c.seq, m.content FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.seq > ? ORDER BY m.seq LIMIT ?",
        )
        .bind(after)
        .bind(FILL_BATCH)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some(last) = rows.last() else { return Ok(total) };
        after = last.0;
        total += rows.len();
        let rows: Vec<(i64, String)> = rows
            .into_iter()
            .map(|(m, c, text)| (key(c, m), parlor_core::search::normalize(&text)))
            .filter(|(_, body)| !body.is_empty())
            .collect();
        if rows.is_empty() {
            continue;
        }
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO message_index (rowid, body) ");
        q.push_values(rows, |mut b, (key, body)| {
            b.push_bind(key).push_bind(body);
        });
        q.build().execute(&mut *tx).await.map_err(map_err)?;
    }
}

/// After migration 0004: fills `message_index` from `messages` and drops `message_fts`, in
/// one transaction, so a crash half-way leaves the old state and the next start redoes it.
/// Does nothing once `message_fts` is gone. Takes about 20 s per million messages, once.
pub(crate) async fn fill_after_migration(conn: &mut SqliteConnection) -> StoreResult<()> {
    let old: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'message_fts'")
            .fetch_optional(&mut *conn)
            .await
            .map_err(map_err)?;
    if old.is_none() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
    let total = fill(&mut tx).await?;
    sqlx::query("DROP TABLE message_fts").execute(&mut *tx).await.map_err(map_err)?;
    tx.commit().await.map_err(map_err)?;
    if total > 0 {
        tracing::info!(messages = total, elapsed = ?started.elapsed(), "keyword index rebuilt by conversation");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteStore;
    use parlor_core::input::{ConversationFilter, NewChatbot, NewConversation, NewMessage, NewWebChat};
    use parlor_core::model::{AccessType, JsonObject, MessageType, SenderType};
    use parlor_core::page::CursorRequest;
    use parlor_core::search::Query;
    use parlor_core::store::Store;

    #[test]
    fn keys_put_the_conversation_in_the_upper_half() {
        assert_eq!(key(3, 7) >> 32, 3);
        assert_eq!(key(3, (1 << 32) + 7), key(3, 7), "only the low half of the message seq");
        assert!(key(3, 0xFFFF_FFFF) < key(4, 1), "a conversation's rows are one range");
    }

    #[tokio::test]
    async fn reindexing_a_message_replaces_its_words() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("parlor.db")).await.unwrap();
        let org = s.create_org("acme").await.unwrap().id;
        let bot = s.create_chatbot(org, NewChatbot::named("Helper")).await.unwrap();
        let web_chat = NewWebChat {
            name: "Site".into(),
            chatbot: bot.id,
            access_type: AccessType::Web,
            welcome_message: String::new(),
            allowed_origins: vec![],
            is_active: true,
            enable_file_upload: false,
        };
        let web_chat = s.create_web_chat(org, web_chat).await.unwrap().id;
        let conv = s.create_conversation(org, NewConversation { web_chat, contact: None, title: None });
        let conv = conv.await.unwrap().id;
        let m = NewMessage {
            conversation: conv,
            kind: MessageType::Outgoing,
            sender_type: SenderType::Bot,
            contact: None,
            sender: None,
            content: "thinking".into(),
            content_payload: None,
            query_metadata: None,
            attachments: vec![],
            canvas: None,
            metadata: JsonObject::new(),
        };
        let m = s.create_message(org, m).await.unwrap();
        let find = |word: &'static str| {
            let s = s.clone();
            async move {
                let filter = ConversationFilter { inbox: None, keyword: Query::keyword(word), contact: None };
                let page = CursorRequest { cursor: None, page_size: 10 };
                s.list_conversations(org, filter, page).await.unwrap().items.len()
            }
        };
        assert_eq!(find("thinking").await, 1);
        let mut tx = s.begin().await.unwrap();
        let seq: i64 = sqlx::query_scalar("SELECT seq FROM messages WHERE id = ?")
            .bind(m.id.0)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        reindex_message(&mut tx, seq, "Your refund is on its way").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!((find("thinking").await, find("refund").await), (0, 1));
        let rows: i64 =
            sqlx::query_scalar("SELECT count(*) FROM message_index").fetch_one(&s.read).await.unwrap();
        assert_eq!(rows, 1);
    }
}
