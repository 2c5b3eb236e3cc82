//! Messages and attachments. Creating a message is the hot path: one transaction locks its
//! conversation, stores the message with its normalized text (indexed by the generated
//! `tsvector`), and brings the conversation's derived state up to date.

use crate::rows::{get, message, message_columns, to_json, ts};
use crate::{PgStore, Tx, map_err};
use parlor_core::StoreError;
use parlor_core::clock;
use parlor_core::error::StoreResult;
use parlor_core::id::{AttachmentId, ContactId, ConversationId, MessageId, OrgId};
use parlor_core::input::{AttachmentInput, NewAttachment, NewMessage};
use parlor_core::model::*;
use parlor_core::page::{CursorPage, CursorRequest, Position, assemble};
use parlor_core::search::normalize;
use sqlx::postgres::PgRow;
use sqlx::{Executor, Postgres, QueryBuilder};
use std::sync::LazyLock;
use uuid::Uuid;

static SELECT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM messages m", message_columns("m", "")));

const ATTACHMENT_COLS: &str = "id, kind, filename, file, storage_path, content_type, size, created_at";

fn attachment_row(row: &PgRow) -> StoreResult<StoredAttachment> {
    let kind: String = get(row, "kind")?;
    Ok(StoredAttachment {
        attachment: Attachment {
            id: get::<Uuid>(row, "id")?.into(),
            kind: AttachmentType::parse(&kind).unwrap_or(AttachmentType::Other),
            filename: get(row, "filename")?,
            file: get(row, "file")?,
        },
        storage_path: get(row, "storage_path")?,
        content_type: get(row, "content_type")?,
        size: get(row, "size")?,
        created_at: ts(row, "created_at")?,
    })
}

async fn insert_attachment(tx: &mut Tx, org: OrgId, input: NewAttachment) -> StoreResult<StoredAttachment> {
    let id = AttachmentId::new();
    let file = input.file.unwrap_or_else(|| parlor_core::model::upload_url(id));
    let sql = format!(
        "INSERT INTO attachments (id, org_id, kind, filename, file, storage_path, content_type, size, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {ATTACHMENT_COLS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .bind(org.0)
        .bind(input.kind.as_str())
        .bind(&input.filename)
        .bind(file)
        .bind(&input.storage_path)
        .bind(&input.content_type)
        .bind(input.size)
        .bind(clock::now().0)
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
    attachment_row(&row)
}

pub(crate) async fn create_attachment(
    s: &PgStore,
    org: OrgId,
    input: NewAttachment,
) -> StoreResult<StoredAttachment> {
    let mut tx = s.begin().await?;
    let a = insert_attachment(&mut tx, org, input).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(a)
}

pub(crate) async fn get_attachment<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    org: OrgId,
    id: AttachmentId,
) -> StoreResult<StoredAttachment> {
    let sql = format!("SELECT {ATTACHMENT_COLS} FROM attachments WHERE org_id = $1 AND id = $2");
    let row =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org.0).bind(id.0).fetch_one(ex).await.map_err(map_err)?;
    attachment_row(&row)
}

/// Resolves attachment inputs: ids must be this organization's; external files are
/// registered on the fly.
async fn resolve_attachments(
    tx: &mut Tx,
    org: OrgId,
    inputs: Vec<AttachmentInput>,
) -> StoreResult<Vec<Attachment>> {
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        match input {
            AttachmentInput::Existing(id) => match get_attachment(&mut **tx, org, id).await {
                Ok(a) => out.push(a.attachment),
                Err(StoreError::NotFound) => {
                    return Err(StoreError::InvalidReference { field: "attachments", id: id.to_string() });
                }
                Err(e) => return Err(e),
            },
            AttachmentInput::External { kind, filename, file } => {
                let new = NewAttachment {
                    kind,
                    filename,
                    file: Some(file),
                    storage_path: None,
                    content_type: None,
                    size: None,
                };
                out.push(insert_attachment(tx, org, new).await?.attachment);
            }
        }
    }
    Ok(out)
}

/// The contact shown as a message's sender.
async fn contact_sender(tx: &mut Tx, org: OrgId, id: ContactId) -> StoreResult<Option<Sender>> {
    let row = sqlx::query("SELECT name, avatar FROM contacts WHERE org_id = $1 AND id = $2")
        .bind(org.0)
        .bind(id.0)
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    row.map(|r| Ok(Sender { id: Some(id.0), name: get(&r, "name")?, avatar: get(&r, "avatar")? })).transpose()
}

/// Stores messages of one conversation, in order, in one transaction; `starts_reply` also
/// marks the conversation as being answered (the last message is a bot reply begun).
pub(crate) async fn create_messages(
    s: &PgStore,
    org: OrgId,
    inputs: Vec<NewMessage>,
    starts_reply: bool,
) -> StoreResult<Vec<Message>> {
    let Some(conversation) = inputs.first().map(|i| i.conversation) else { return Ok(vec![]) };
    let mut tx = s.begin().await?;
    // The conversation row stays locked until commit: messages of one conversation are
    // created one at a time across every instance, so the counters, the last message and
    // the automatic title are never computed from a stale row.
    let conv = sqlx::query(
        "SELECT contact_id, title, title_set FROM conversations WHERE org_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(org.0)
    .bind(conversation.0)
    .fetch_optional(&mut *tx)
    .await
    .map_err(map_err)?;
    let Some(conv) = conv else {
        return Err(StoreError::InvalidReference { field: "conversation", id: conversation.to_string() });
    };
    let mut messages = Vec::with_capacity(inputs.len());
    for mut input in inputs {
        let sender =
            match input.sender_type {
                SenderType::Contact => match input.contact {
                    Some(c) => Some(contact_sender(&mut tx, org, c).await?.ok_or_else(|| {
                        StoreError::InvalidReference { field: "sender", id: c.to_string() }
                    })?),
                    None => match get::<Option<Uuid>>(&conv, "contact_id")? {
                        Some(c) => contact_sender(&mut tx, org, c.into()).await?,
                        None => None,
                    },
                },
                _ => input.sender.take(),
            };
        let attachments = resolve_attachments(&mut tx, org, std::mem::take(&mut input.attachments)).await?;
        let msg = input.into_message(sender, attachments);
        insert_message(&mut tx, org, &msg).await?;
        messages.push(msg);
    }
    let Some(last) = messages.last() else { return Ok(messages) };

    let incoming = messages.iter().filter(|m| m.kind == MessageType::Incoming).count();
    let new_title = (!get::<bool>(&conv, "title_set")? && get::<String>(&conv, "title")?.is_empty())
        .then(|| messages.iter().find(|m| m.kind == MessageType::Incoming))
        .flatten()
        .map(|m| parlor_core::model::title_from(&m.content))
        .filter(|t| !t.is_empty());
    sqlx::query(
        "UPDATE conversations SET last_message_id = $1, last_message_at = $2,
            message_count = message_count + $8, unread_count = unread_count + $3,
            title = coalesce($4, title), title_search = coalesce($5, title_search), updated_at = $2,
            replying = replying + $7
         WHERE id = $6",
    )
    .bind(last.id.0)
    .bind(last.created_at.0)
    .bind(incoming as i64)
    .bind(&new_title)
    .bind(new_title.as_deref().map(normalize))
    .bind(conversation.0)
    .bind(i64::from(starts_reply))
    .bind(messages.len() as i64)
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    tx.commit().await.map_err(map_err)?;
    Ok(messages)
}

/// Inserts a message row with its normalized text, which the generated `content_tsv` column
/// indexes.
pub(crate) async fn insert_message(tx: &mut Tx, org: OrgId, m: &Message) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO messages (id, org_id, conversation_id, kind, sender_type, sender, content, content_payload,
            query_metadata, attachments, canvas, feedback, citations, citation_nodes, metadata, created_at,
            content_search)
         VALUES ($1, $2, $3, $4, $5, $6::json, $7, $8::json, $9::json, $10::json, $11::json, $12, $13::json,
            $14::json, $15::json, $16, $17)",
    )
    .bind(m.id.0)
    .bind(org.0)
    .bind(m.conversation.0)
    .bind(m.kind.as_str())
    .bind(m.sender_type.as_str())
    .bind(m.sender.as_ref().map(to_json))
    .bind(&m.content)
    .bind(m.content_payload.as_ref().map(to_json))
    .bind(m.query_metadata.as_ref().map(to_json))
    .bind(to_json(&m.attachments))
    .bind(m.canvas.as_ref().map(to_json))
    .bind(&m.feedback)
    .bind(to_json(&m.citations))
    .bind(to_json(&m.citation_nodes))
    .bind(to_json(&m.metadata))
    .bind(m.created_at.0)
    .bind(normalize(&m.content))
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

pub(crate) async fn get_message<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    org: OrgId,
    id: MessageId,
    conversation: Option<ConversationId>,
) -> StoreResult<Message> {
    let sql = format!(
        "{} WHERE m.org_id = $1 AND m.id = $2 AND ($3::uuid IS NULL OR m.conversation_id = $3)",
        *SELECT
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.0)
        .bind(id.0)
        .bind(conversation.map(|c| c.0))
        .fetch_one(ex)
        .await
        .map_err(map_err)?;
    message(&row, "")?.ok_or(StoreError::NotFound)
}

pub(crate) async fn list_messages(
    s: &PgStore,
    org: OrgId,
    conversation: Option<ConversationId>,
    page: CursorRequest,
) -> StoreResult<(CursorPage<Message>, Option<i64>)> {
    let mut q = QueryBuilder::<Postgres>::new(&*SELECT);
    q.push(" WHERE m.org_id = ").push_bind(org.0);
    if let Some(c) = conversation {
        q.push(" AND m.conversation_id = ").push_bind(c.0);
    }
    let reverse = page.is_reverse();
    if let Some(cursor) = page.cursor {
        q.push(if reverse { " AND (m.created_at, m.id) > (" } else { " AND (m.created_at, m.id) < (" })
            .push_bind(cursor.position.created_at.0)
            .push(", ")
            .push_bind(cursor.position.id)
            .push(")");
    }
    q.push(if reverse {
        " ORDER BY m.created_at ASC, m.id ASC"
    } else {
        " ORDER BY m.created_at DESC, m.id DESC"
    });
    q.push(" LIMIT ").push_bind(page.fetch_limit());
    let rows = q.build().fetch_all(&s.pool).await.map_err(map_err)?;
    let items = rows.iter().filter_map(|r| message(r, "").transpose()).collect::<StoreResult<Vec<_>>>()?;
    let count = match conversation {
        Some(c) => Some(
            sqlx::query_scalar::<_, i64>(
                "SELECT message_count FROM conversations WHERE org_id = $1 AND id = $2",
            )
            .bind(org.0)
            .bind(c.0)
            .fetch_optional(&s.pool)
            .await
            .map_err(map_err)?
            .unwrap_or(0),
        ),
        None => None,
    };
    Ok((assemble(&page, items, |m| Position { created_at: m.created_at, id: m.id.0 }), count))
}

pub(crate) async fn set_feedback(
    s: &PgStore,
    org: OrgId,
    id: MessageId,
    feedback: Option<String>,
) -> StoreResult<Message> {
    let mut tx = s.begin().await?;
    let done = sqlx::query("UPDATE messages SET feedback = $1 WHERE org_id = $2 AND id = $3")
        .bind(&feedback)
        .bind(org.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    let m = get_message(&mut *tx, org, id, None).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(m)
}
