//! Bot replies in flight and their completion: the final text, citations and metadata, the
//! question/answer record, and the conversation's "being answered" counter, all in one
//! transaction so a reply is never half-finished.

use crate::messages::get_message;
use crate::rows::{get, to_json};
use crate::{SqliteStore, map_err};
use parlor_core::StoreError;
use parlor_core::error::StoreResult;
use parlor_core::id::{MessageId, OrgId};
use parlor_core::input::FinishedReply;
use parlor_core::model::{Message, fold_case};
use uuid::Uuid;

pub(crate) async fn save_progress(
    s: &SqliteStore,
    org: OrgId,
    message: MessageId,
    content: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE messages SET content = ? WHERE org_id = ? AND id = ?")
        .bind(content)
        .bind(org.0)
        .bind(message.0)
        .execute(&s.write)
        .await
        .map_err(map_err)?;
    Ok(())
}

pub(crate) async fn finish_reply(s: &SqliteStore, org: OrgId, r: FinishedReply) -> StoreResult<Message> {
    let mut tx = s.begin().await?;
    let row = sqlx::query(
        "UPDATE messages SET content = ?, citations = ?, citation_nodes = ?, metadata = ?
         WHERE org_id = ? AND id = ? RETURNING seq, conversation_id",
    )
    .bind(&r.content)
    .bind(to_json(&r.citations))
    .bind(to_json(&r.citation_nodes))
    .bind(to_json(&r.metadata))
    .bind(org.0)
    .bind(r.message.0)
    .fetch_optional(&mut *tx)
    .await
    .map_err(map_err)?
    .ok_or(StoreError::NotFound)?;
    let seq: i64 = get(&row, "seq")?;
    let conversation: Uuid = get(&row, "conversation_id")?;
    crate::message_index::reindex_message(&mut tx, seq, &r.content).await?;
    sqlx::query("UPDATE conversations SET replying = max(replying - 1, 0) WHERE id = ?")
        .bind(conversation)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;

    // The question: when it was asked, and whether it opened its conversation (`EXISTS`
    // stops at the first earlier question; a count would read the whole conversation).
    let q = sqlx::query(
        "SELECT m.created_at, c.contact_id,
            EXISTS (SELECT 1 FROM messages e WHERE e.conversation_id = m.conversation_id AND e.kind = 'incoming'
               AND (e.created_at, e.id) < (m.created_at, m.id)) AS earlier
         FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.org_id = ? AND m.id = ?",
    )
    .bind(org.0)
    .bind(r.record.user_message.0)
    .fetch_optional(&mut *tx)
    .await
    .map_err(map_err)?;
    if let Some(q) = q {
        let rec = &r.record;
        sqlx::query(
            "INSERT INTO records (id, org_id, chatbot_id, conversation_id, contact_id, user_message_id, input_message,
                condense_message, output_message, context, reply_time_ms, error, finish_reason, kind, created_at,
                input_folded, output_folded)
             SELECT ?, ?, id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM chatbots WHERE org_id = ? AND id = ?",
        )
        .bind(r.message.0)
        .bind(org.0)
        .bind(conversation)
        .bind(get::<Option<Uuid>>(&q, "contact_id")?)
        .bind(rec.user_message.0)
        .bind(&rec.input_message)
        .bind(&rec.condense_message)
        .bind(&r.content)
        .bind(&rec.context)
        .bind(rec.reply_time_ms)
        .bind(&rec.error)
        .bind(&rec.finish_reason)
        .bind(if get::<bool>(&q, "earlier")? { "Follow" } else { "New" })
        .bind(get::<i64>(&q, "created_at")?)
        .bind(fold_case(&rec.input_message))
        .bind(fold_case(&r.content))
        .bind(org.0)
        .bind(rec.chatbot.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    }
    let m = get_message(&mut *tx, org, r.message, None).await?;
    // Off the background queue (if it came from there), and into the webhook outbox (if the
    // chatbot has a webhook): with the reply or not at all.
    crate::auto_replies::answered(&mut tx, r.record.user_message).await?;
    crate::webhooks::queue_delivery(&mut tx, org, r.record.chatbot, r.record.user_message, &m).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(m)
}
