//! Turning SQLite rows into core types: INTEGER microseconds into timestamps, JSON text
//! into objects, and the column list shared by every query that reads messages.

use crate::map_err;
use parlor_core::StoreError;
use parlor_core::clock::Timestamp;
use parlor_core::error::StoreResult;
use parlor_core::model::*;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

/// A stored time. Values come from [`parlor_core::clock`], so they are always in range.
pub(crate) fn ts(us: i64) -> Timestamp {
    Timestamp::from_micros(us).unwrap_or(Timestamp::from_micros(0).expect("epoch is in range"))
}

pub(crate) fn opt_ts(us: Option<i64>) -> Option<Timestamp> {
    us.map(ts)
}

/// Reads a JSON column into `T`.
pub(crate) fn json<T: DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Backend(format!("stored JSON does not decode: {e}")))
}

pub(crate) fn opt_json<T: DeserializeOwned>(text: Option<String>) -> StoreResult<Option<T>> {
    text.map(|t| json(&t)).transpose()
}

/// Serializes a value for a JSON column.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

pub(crate) fn get<'r, T>(row: &'r SqliteRow, col: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(col).map_err(map_err)
}

/// The message columns, each aliased with `prefix` so a message can be read beside other
/// tables' columns (a conversation's last message).
pub(crate) fn message_columns(table: &str, prefix: &str) -> String {
    [
        "id",
        "conversation_id",
        "kind",
        "sender_type",
        "sender",
        "content",
        "content_payload",
        "query_metadata",
        "attachments",
        "canvas",
        "feedback",
        "citations",
        "citation_nodes",
        "metadata",
        "created_at",
    ]
    .iter()
    .map(|c| format!("{table}.{c} AS {prefix}{c}"))
    .collect::<Vec<_>>()
    .join(", ")
}

/// Reads a message written by [`message_columns`]; `None` when its id column is NULL (no
/// last message).
pub(crate) fn message(row: &SqliteRow, p: &str) -> StoreResult<Option<Message>> {
    let col = |c: &str| format!("{p}{c}");
    let Some(id) = get::<Option<Uuid>>(row, &col("id"))? else { return Ok(None) };
    let kind: String = get(row, &col("kind"))?;
    let sender_type: String = get(row, &col("sender_type"))?;
    Ok(Some(Message {
        id: id.into(),
        conversation: get::<Uuid>(row, &col("conversation_id"))?.into(),
        sender: opt_json(get(row, &col("sender"))?)?,
        kind: MessageType::parse(&kind).unwrap_or(MessageType::Incoming),
        content: get(row, &col("content"))?,
        content_payload: opt_json(get(row, &col("content_payload"))?)?,
        query_metadata: opt_json(get(row, &col("query_metadata"))?)?,
        attachments: json(&get::<String>(row, &col("attachments"))?)?,
        canvas: opt_json(get(row, &col("canvas"))?)?,
        feedback: get(row, &col("feedback"))?,
        citations: json(&get::<String>(row, &col("citations"))?)?,
        citation_nodes: json(&get::<String>(row, &col("citation_nodes"))?)?,
        created_at: ts(get(row, &col("created_at"))?),
        sender_type: SenderType::parse(&sender_type).unwrap_or(SenderType::System),
        metadata: json(&get::<String>(row, &col("metadata"))?)?,
    }))
}
