//! The queue of incoming messages waiting for a background reply, per conversation, and the
//! conversation locks that let one runner at a time (across instances) answer a queue.
//!
//! A lock is a session advisory lock on [`PgStore`]'s own lock connection, not a transaction
//! lock: a reply may take minutes, and holding a transaction (and a pool connection) open
//! that long per conversation would starve the pool. If the instance dies, its connection
//! closes and PostgreSQL releases its locks; if the lock connection breaks, it is reopened
//! and the locks it held are gone with it (a runner then only loses its exclusivity until it
//! finishes, the queue's order holds as each runner answers the oldest question first).

use crate::messages::get_message;
use crate::rows::get;
use crate::{PgStore, Tx, map_err};
use parlor_core::StoreError;
use parlor_core::error::StoreResult;
use parlor_core::id::{ConversationId, MessageId, OrgId};
use parlor_core::model::Message;
use sqlx::Connection;
use uuid::Uuid;

/// The first key of every conversation lock ("Parl"), so they stay apart from other users
/// of advisory locks (sqlx's migration lock uses the one-key form).
const LOCK_CLASS: i32 = 0x5061_726c;

/// The second key: the conversation id folded to 32 bits. Two conversations that share it
/// only take turns needlessly.
fn lock_key(c: ConversationId) -> i32 {
    let v = c.0.as_u128();
    ((v as u32) ^ ((v >> 32) as u32) ^ ((v >> 64) as u32) ^ ((v >> 96) as u32)) as i32
}

pub(crate) async fn queue(s: &PgStore, org: OrgId, message: MessageId) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO auto_replies (message_id, org_id, conversation_id, created_at)
         SELECT m.id, m.org_id, m.conversation_id, m.created_at
         FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.org_id = $1 AND m.id = $2 AND m.kind = 'incoming'
           AND c.auto_reply_enabled AND c.chatbot_id IS NOT NULL
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(org.0)
    .bind(message.0)
    .execute(&s.pool)
    .await
    .map_err(map_err)?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn next(
    s: &PgStore,
    org: OrgId,
    conversation: ConversationId,
) -> StoreResult<Option<Message>> {
    let id: Option<Uuid> = sqlx::query_scalar(
        "SELECT message_id FROM auto_replies WHERE org_id = $1 AND conversation_id = $2
         ORDER BY created_at, message_id LIMIT 1",
    )
    .bind(org.0)
    .bind(conversation.0)
    .fetch_optional(&s.pool)
    .await
    .map_err(map_err)?;
    match id {
        Some(id) => Ok(Some(get_message(&s.pool, org, id.into(), None).await?)),
        None => Ok(None),
    }
}

pub(crate) async fn backlog(s: &PgStore) -> StoreResult<Vec<(OrgId, ConversationId)>> {
    let rows = sqlx::query("SELECT DISTINCT org_id, conversation_id FROM auto_replies")
        .fetch_all(&s.pool)
        .await
        .map_err(map_err)?;
    rows.iter()
        .map(|r| Ok((get::<Uuid>(r, "org_id")?.into(), get::<Uuid>(r, "conversation_id")?.into())))
        .collect()
}

/// Takes an answered question off its queue, in the transaction that stores the answer.
pub(crate) async fn answered(tx: &mut Tx, question: MessageId) -> StoreResult<()> {
    sqlx::query("DELETE FROM auto_replies WHERE message_id = $1")
        .bind(question.0)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Runs `sql` (taking the two lock keys) on the lock connection, opening it when needed and
/// dropping it when it fails (so the next call reconnects).
async fn on_lock_connection(s: &PgStore, sql: &'static str, c: ConversationId) -> StoreResult<bool> {
    let mut guard = s.locks.lock().await;
    if guard.is_none() {
        *guard = Some(sqlx::postgres::PgConnection::connect_with(&s.connect).await.map_err(map_err)?);
    }
    let conn = guard.as_mut().ok_or(StoreError::NotFound)?;
    match sqlx::query_scalar::<_, bool>(sql).bind(LOCK_CLASS).bind(lock_key(c)).fetch_one(conn).await {
        Ok(v) => Ok(v),
        Err(e) => {
            *guard = None;
            Err(map_err(e))
        }
    }
}

pub(crate) async fn try_lock(s: &PgStore, c: ConversationId) -> StoreResult<bool> {
    on_lock_connection(s, "SELECT pg_try_advisory_lock($1, $2)", c).await
}

pub(crate) async fn unlock(s: &PgStore, c: ConversationId) -> StoreResult<()> {
    on_lock_connection(s, "SELECT pg_advisory_unlock($1, $2)", c).await.map(drop)
}
