//! The queue of incoming messages waiting for a background reply, per conversation.
//!
//! SQLite serves one process, whose runners take turns per conversation in memory, so the
//! conversation lock of the [`parlor_core::store::Store`] is always free here.

use crate::messages::get_message;
use crate::rows::get;
use crate::{SqliteStore, Tx, map_err};
use parlor_core::error::StoreResult;
use parlor_core::id::{ConversationId, MessageId, OrgId};
use parlor_core::model::Message;
use uuid::Uuid;

pub(crate) async fn queue(s: &SqliteStore, org: OrgId, message: MessageId) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO auto_replies (message_id, org_id, conversation_id, created_at)
         SELECT m.id, m.org_id, m.conversation_id, m.created_at
         FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.org_id = ? AND m.id = ? AND m.kind = 'incoming'
           AND c.auto_reply_enabled = 1 AND c.chatbot_id IS NOT NULL
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(org.0)
    .bind(message.0)
    .execute(&s.write)
    .await
    .map_err(map_err)?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn next(
    s: &SqliteStore,
    org: OrgId,
    conversation: ConversationId,
) -> StoreResult<Option<Message>> {
    // Read on the writer: a question queued a moment ago must be seen.
    let id: Option<Uuid> = sqlx::query_scalar(
        "SELECT message_id FROM auto_replies WHERE org_id = ? AND conversation_id = ?
         ORDER BY created_at, message_id LIMIT 1",
    )
    .bind(org.0)
    .bind(conversation.0)
    .fetch_optional(&s.write)
    .await
    .map_err(map_err)?;
    match id {
        Some(id) => Ok(Some(get_message(&s.write, org, id.into(), None).await?)),
        None => Ok(None),
    }
}

pub(crate) async fn backlog(s: &SqliteStore) -> StoreResult<Vec<(OrgId, ConversationId)>> {
    let rows = sqlx::query("SELECT DISTINCT org_id, conversation_id FROM auto_replies")
        .fetch_all(&s.write)
        .await
        .map_err(map_err)?;
    rows.iter()
        .map(|r| Ok((get::<Uuid>(r, "org_id")?.into(), get::<Uuid>(r, "conversation_id")?.into())))
        .collect()
}

/// Takes an answered question off its queue, in the transaction that stores the answer.
pub(crate) async fn answered(tx: &mut Tx, question: MessageId) -> StoreResult<()> {
    sqlx::query("DELETE FROM auto_replies WHERE message_id = ?")
        .bind(question.0)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    Ok(())
}
