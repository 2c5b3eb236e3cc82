//! Turning PostgreSQL rows into core types: `timestamptz` into timestamps, `json` columns into
//! typed values, and the column list shared by every query that reads messages.
//!
//! JSON is written as text cast with `::json` in the SQL, never bound as sqlx's `Json`:
//! that binds as `jsonb`, which would sort a client's object keys on the way in.

use crate::map_err;
use chrono::{DateTime, Utc};
use parlor_core::clock::Timestamp;
use parlor_core::error::StoreResult;
use parlor_core::model::*;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use uuid::Uuid;

/// Reads a column, mapping a decode failure to a backend error.
pub(crate) fn get<'r, T>(row: &'r PgRow, col: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(col).map_err(map_err)
}

/// Reads a `timestamptz` column. Stored values came from [`parlor_core::clock`], so the
/// microsecond truncation in `From` changes nothing; it only guards older rows.
pub(crate) fn ts(row: &PgRow, col: &str) -> StoreResult<Timestamp> {
    Ok(get::<DateTime<Utc>>(row, col)?.into())
}

pub(crate) fn opt_ts(row: &PgRow, col: &str) -> StoreResult<Option<Timestamp>> {
    Ok(get::<Option<DateTime<Utc>>>(row, col)?.map(Into::into))
}

/// Reads a `json` column into `T`.
pub(crate) fn json<T: DeserializeOwned>(row: &PgRow, col: &str) -> StoreResult<T> {
    Ok(get::<Json<T>>(row, col)?.0)
}

pub(crate) fn opt_json<T: DeserializeOwned>(row: &PgRow, col: &str) -> StoreResult<Option<T>> {
    Ok(get::<Option<Json<T>>>(row, col)?.map(|j| j.0))
}

/// Serializes a value for a `json` column (bound as text, cast with `::json` in the SQL).
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
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
pub(crate) fn message(row: &PgRow, p: &str) -> StoreResult<Option<Message>> {
    let col = |c: &str| format!("{p}{c}");
    let Some(id) = get::<Option<Uuid>>(row, &col("id"))? else { return Ok(None) };
    let kind: String = get(row, &col("kind"))?;
    let sender_type: String = get(row, &col("sender_type"))?;
    Ok(Some(Message {
        id: id.into(),
        conversation: get::<Uuid>(row, &col("conversation_id"))?.into(),
        sender: opt_json(row, &col("sender"))?,
        kind: MessageType::parse(&kind).unwrap_or(MessageType::Incoming),
        content: get(row, &col("content"))?,
        content_payload: opt_json(row, &col("content_payload"))?,
        query_metadata: opt_json(row, &col("query_metadata"))?,
        attachments: json(row, &col("attachments"))?,
        canvas: opt_json(row, &col("canvas"))?,
        feedback: get(row, &col("feedback"))?,
        citations: json(row, &col("citations"))?,
        citation_nodes: json(row, &col("citation_nodes"))?,
        created_at: ts(row, &col("created_at"))?,
        sender_type: SenderType::parse(&sender_type).unwrap_or(SenderType::System),
        metadata: json(row, &col("metadata"))?,
    }))
}
