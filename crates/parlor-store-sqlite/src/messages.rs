//! Messages and attachments. Creating a message is the hot path: one write transaction
//! stores it, indexes its text, and brings its conversation's derived state up to date.

use crate::conversations::index_title;
use crate::rows::{get, message, message_columns, to_json, ts};
use crate::{SqliteStore, Tx, map_err};
use parlor_core::StoreError;
use parlor_core::clock;
use parlor_core::error::StoreResult;
use parlor_core::id::{AttachmentId, ContactId, ConversationId, MessageId, OrgId};
use parlor_core::input::{AttachmentInput, NewAttachment, NewMessage};
use parlor_core::model::*;
use parlor_core::page::{CursorPage, CursorRequest, Position, assemble};
use sqlx::sqlite::SqliteRow;
use sqlx::{Executor, QueryBuilder, Sqlite};
use std::sync::LazyLock;
use uuid::Uuid;

static SELECT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM messages m", message_columns("m", "")));

fn attachment_row(row: &SqliteRow) -> StoreResult<StoredAttachment> {
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
        created_at: ts(get(row, "created_at")?),
    })
}

async fn insert_attachment(tx: &mut Tx, org: OrgId, input: NewAttachment) -> StoreResult<StoredAttachment> {
    let id = AttachmentId::new();
    let file = input.file.unwrap_or_else(|| parlor_core::model::upload_url(id));
    let row = sqlx::query(
        "INSERT INTO attachments (id, org_id, kind, filename, file, storage_path, content_type, size, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         RETURNING id, kind, filename, file, storage_path, content_type, size, created_at",
    )
    .bind(id.0)
    .bind(org.0)
    .bind(input.kind.as_str())
    .bind(&input.filename)
    .bind(file)
    .bind(&input.storage_path)
    .bind(&input.content_type)
    .bind(input.size)
    .bind(clock::now().micros())
    .fetch_one(&mut **tx)
    .await
    .map_err(map_err)?;
    attachment_row(&row)
}

pub(crate) async fn create_attachment(
    s: &SqliteStore,
    org: OrgId,
    input: NewAttachment,
) -> StoreResult<StoredAttachment> {
    let mut tx = s.begin().await?;
    let a = insert_attachment(&mut tx, org, input).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(a)
}

pub(crate) async fn get_attachment<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    org: OrgId,
    id: AttachmentId,
) -> StoreResult<StoredAttachment> {
    let row = sqlx::query(
        "SELECT id, kind, filename, file, storage_path, content_type, size, created_at
         FROM attachments WHERE org_id = ? AND id = ?",
    )
    .bind(org.0)
    .bind(id.0)
    .fetch_one(ex)
    .await
    .map_err(map_err)?;
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
    let row = sqlx::query("SELECT name, avatar FROM contacts WHERE org_id = ? AND id = ?")
        .bind(org.0)
        .bind(id.0)
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    row.map(|r| Ok(Sender { id: Some(id.0), name: get(&r, "name")?, avatar: get(&r, "avatar")? })).transpose()
}

/// Stores a message; `starts_reply` also marks the conversation as being answered.
pub(crate) async fn create_message(
    s: &SqliteStore,
    org: OrgId,
    input: NewMessage,
    starts_reply: bool,
) -> StoreResult<Message> {
    let mut tx = s.begin().await?;
    let conv = sqlx::query(
        "SELECT seq, contact_id, title, title_set FROM conversations WHERE org_id = ? AND id = ?",
    )
    .bind(org.0)
    .bind(input.conversation.0)
    .fetch_optional(&mut *tx)
    .await
    .map_err(map_err)?;
    let Some(conv) = conv else {
        return Err(StoreError::InvalidReference {
            field: "conversation",
            id: input.conversation.to_string(),
        });
    };
    let sender = match input.sender_type {
        SenderType::Contact => match input.contact {
            Some(c) => Some(
                contact_sender(&mut tx, org, c)
                    .await?
                    .ok_or_else(|| StoreError::InvalidReference { field: "sender", id: c.to_string() })?,
            ),
            None => match get::<Option<Uuid>>(&conv, "contact_id")? {
                Some(c) => contact_sender(&mut tx, org, c.into()).await?,
                None => None,
            },
        },
        _ => input.sender.clone(),
    };
    let attachments = resolve_attachments(&mut tx, org, input.attachments).await?;
    let msg = Message {
        id: MessageId::new(),
        conversation: input.conversation,
        sender,
        kind: input.kind,
        content: input.content,
        content_payload: input.content_payload,
        query_metadata: input.query_metadata,
        attachments,
        canvas: input.canvas,
        feedback: None,
        citations: vec![],
        citation_nodes: vec![],
        // Taken under the write lock, so creation order is commit order and a client paging
        // the list never misses a message committed behind its cursor.
        created_at: clock::now(),
        sender_type: input.sender_type,
        metadata: input.metadata,
    };
    insert_message(&mut tx, org, &msg).await?;

    let incoming = msg.kind == MessageType::Incoming;
    let new_title =
        (incoming && !get::<bool>(&conv, "title_set")? && get::<String>(&conv, "title")?.is_empty())
            .then(|| parlor_core::model::title_from(&msg.content))
            .filter(|t| !t.is_empty());
    sqlx::query(
        "UPDATE conversations SET last_message_id = ?, last_message_at = ?, message_count = message_count + 1,
            unread_count = unread_count + ?, replying = replying + ?, title = coalesce(?, title), updated_at = ?
         WHERE id = ?",
    )
    .bind(msg.id.0)
    .bind(msg.created_at.micros())
    .bind(i64::from(incoming))
    .bind(i64::from(starts_reply))
    .bind(&new_title)
    .bind(msg.created_at.micros())
    .bind(msg.conversation.0)
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    if let Some(title) = &new_title {
        index_title(&mut tx, msg.conversation, title).await?;
    }
    tx.commit().await.map_err(map_err)?;
    Ok(msg)
}

/// Inserts a message row and its keyword-index entry.
pub(crate) async fn insert_message(tx: &mut Tx, org: OrgId, m: &Message) -> StoreResult<()> {
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO messages (id, org_id, conversation_id, kind, sender_type, sender, content, content_payload,
            query_metadata, attachments, canvas, feedback, citations, citation_nodes, metadata, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
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
    .bind(m.created_at.micros())
    .fetch_one(&mut **tx)
    .await
    .map_err(map_err)?;
    let body = parlor_core::search::normalize(&m.content);
    if !body.is_empty() {
        sqlx::query("INSERT INTO message_fts (rowid, body) VALUES (?, ?)")
            .bind(seq)
            .bind(body)
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
    }
    Ok(())
}

pub(crate) async fn get_message<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    org: OrgId,
    id: MessageId,
    conversation: Option<ConversationId>,
) -> StoreResult<Message> {
    let sql = format!("{} WHERE m.org_id = ? AND m.id = ? AND (? IS NULL OR m.conversation_id = ?)", *SELECT);
    let conv = conversation.map(|c| c.0);
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.0)
        .bind(id.0)
        .bind(conv)
        .bind(conv)
        .fetch_one(ex)
        .await
        .map_err(map_err)?;
    message(&row, "")?.ok_or(StoreError::NotFound)
}

pub(crate) async fn list_messages(
    s: &SqliteStore,
    org: OrgId,
    conversation: Option<ConversationId>,
    page: CursorRequest,
) -> StoreResult<(CursorPage<Message>, Option<i64>)> {
    let mut q = QueryBuilder::<Sqlite>::new(&*SELECT);
    match conversation {
        // The unary `+` keeps SQLite from walking `messages_org`: without statistics it
        // rates that index as good as `messages_conversation` (one equality, then the sort
        // order) and then scans the organization's newest messages for ones of this
        // conversation, which grows with the organization, not with the page.
        Some(c) => {
            q.push(" WHERE +m.org_id = ").push_bind(org.0).push(" AND m.conversation_id = ").push_bind(c.0)
        }
        None => q.push(" WHERE m.org_id = ").push_bind(org.0),
    };
    let reverse = page.is_reverse();
    if let Some(cursor) = page.cursor {
        q.push(if reverse { " AND (m.created_at, m.id) > (" } else { " AND (m.created_at, m.id) < (" })
            .push_bind(cursor.position.created_at.micros())
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
    let rows = q.build().fetch_all(&s.read).await.map_err(map_err)?;
    let items = rows.iter().filter_map(|r| message(r, "").transpose()).collect::<StoreResult<Vec<_>>>()?;
    let count = match conversation {
        Some(c) => Some(
            sqlx::query_scalar::<_, i64>(
                "SELECT message_count FROM conversations WHERE org_id = ? AND id = ?",
            )
            .bind(org.0)
            .bind(c.0)
            .fetch_optional(&s.read)
            .await
            .map_err(map_err)?
            .unwrap_or(0),
        ),
        None => None,
    };
    Ok((assemble(&page, items, |m| Position { created_at: m.created_at, id: m.id.0 }), count))
}

pub(crate) async fn set_feedback(
    s: &SqliteStore,
    org: OrgId,
    id: MessageId,
    feedback: Option<String>,
) -> StoreResult<Message> {
    let mut tx = s.begin().await?;
    let done = sqlx::query("UPDATE messages SET feedback = ? WHERE org_id = ? AND id = ?")
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
