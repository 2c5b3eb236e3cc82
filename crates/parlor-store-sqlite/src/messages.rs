//! Messages and attachments. Creating a message is the hot path: one write transaction
//! stores it, indexes its text, and brings its conversation's derived state up to date.

use crate::rows::{get, message, message_columns, to_json, ts};
use crate::{SqliteStore, map_err};
use parlor_core::StoreError;
use parlor_core::clock;
use parlor_core::error::StoreResult;
use parlor_core::id::{AttachmentId, ConversationId, MessageId, OrgId};
use parlor_core::input::{AttachmentInput, NewAttachment, NewMessage};
use parlor_core::model::*;
use parlor_core::page::{CursorPage, CursorRequest, Position, assemble};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{Executor, QueryBuilder, Sqlite};
use std::sync::LazyLock;
use uuid::Uuid;

static SELECT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM messages m", message_columns("m", "")));
/// [`SELECT`] without its `FROM`, for queries that add columns.
static COLUMNS: LazyLock<String> = LazyLock::new(|| format!("SELECT {}", message_columns("m", "")));

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

async fn insert_attachment(
    conn: &mut SqliteConnection,
    org: OrgId,
    input: NewAttachment,
) -> StoreResult<StoredAttachment> {
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
    .fetch_one(&mut *conn)
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
    conn: &mut SqliteConnection,
    org: OrgId,
    inputs: Vec<AttachmentInput>,
) -> StoreResult<Vec<Attachment>> {
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        match input {
            AttachmentInput::Existing(id) => match get_attachment(&mut *conn, org, id).await {
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
                out.push(insert_attachment(conn, org, new).await?.attachment);
            }
        }
    }
    Ok(out)
}

/// The message row's columns, in the order [`bind_message`] binds them.
const INSERT_MESSAGE: &str = "INSERT INTO messages (id, org_id, conversation_id, kind, sender_type, sender, content,
    content_payload, query_metadata, attachments, canvas, feedback, citations, citation_nodes, metadata, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// The keyword-index row of the message just inserted (`last_insert_rowid()`), keyed by its
/// conversation (see [`crate::message_index`]); binds the conversation's `seq` and the
/// normalized text.
const INDEX_MESSAGE: &str =
    "INSERT INTO message_index (rowid, body) VALUES ((? << 32) | (last_insert_rowid() & 4294967295), ?)";

/// Binds [`INSERT_MESSAGE`]'s parameters.
fn bind_message<'q>(
    q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>,
    org: OrgId,
    m: &'q Message,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments> {
    q.bind(m.id.0)
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
}

/// Creates messages of one conversation, in order, all or none: queued for the store's
/// group-commit writer, which writes them with the other creates waiting beside them in one
/// transaction ([`crate::group_commit`]). `starts_reply` also marks the conversation as being
/// answered (the last message is a bot reply begun).
pub(crate) async fn create_messages(
    s: &SqliteStore,
    org: OrgId,
    inputs: Vec<NewMessage>,
    starts_reply: bool,
) -> StoreResult<Vec<Message>> {
    s.creates.create(org, inputs, starts_reply).await
}

/// The savepoint each create of a batch is written under.
const SAVEPOINT: &str = "SAVEPOINT message";

/// Writes one create (one message, or a question and the reply begun for it, all of one
/// conversation) inside a batch's transaction, in two round trips to SQLite's connection
/// thread, each a cached prepared statement: one read of the conversation with its contact
/// (the sender of a contact's message), and one multi-statement write (the messages, their
/// index rows, the conversation's derived state, and the automatic title when a message sets
/// it), wrapped in a savepoint.
///
/// The inner result is the create's own: an error there was undone alone and the batch goes
/// on. The outer error means the transaction itself is unusable (the savepoint could not be
/// rolled back), so the whole batch must fail.
pub(crate) async fn create_in_batch(
    conn: &mut SqliteConnection,
    org: OrgId,
    inputs: Vec<NewMessage>,
    starts_reply: bool,
) -> Result<StoreResult<Vec<Message>>, StoreError> {
    let Some(first) = inputs.first() else { return Ok(Ok(vec![])) };
    let conversation = first.conversation;
    // The contact joined is the sender named by the (contact's) input, else the
    // conversation's; both must be of this organization.
    let contact = inputs.iter().find(|i| i.sender_type == SenderType::Contact).and_then(|i| i.contact);
    let conv = sqlx::query(
        "SELECT c.seq, c.title, c.title_set, ct.id AS ct_id, ct.name AS ct_name, ct.avatar AS ct_avatar
         FROM conversations c
         LEFT JOIN contacts ct ON ct.org_id = c.org_id AND ct.id = coalesce(?, c.contact_id)
         WHERE c.org_id = ? AND c.id = ?",
    )
    .bind(contact.map(|c| c.0))
    .bind(org.0)
    .bind(conversation.0)
    .fetch_optional(&mut *conn)
    .await;
    // Nothing is written before this point, so a failed read fails only this create.
    let conv = match conv {
        Ok(Some(conv)) => conv,
        Ok(None) => {
            return Ok(Err(StoreError::InvalidReference {
                field: "conversation",
                id: conversation.to_string(),
            }));
        }
        Err(e) => return Ok(Err(map_err(e))),
    };
    // The sender of a contact's message.
    let contact_sender = match (contact, get::<Option<Uuid>>(&conv, "ct_id")) {
        (_, Err(e)) => return Ok(Err(e)),
        (Some(c), Ok(None)) => {
            return Ok(Err(StoreError::InvalidReference { field: "sender", id: c.to_string() }));
        }
        (None, Ok(None)) => None,
        (_, Ok(Some(id))) => match (get(&conv, "ct_name"), get(&conv, "ct_avatar")) {
            (Ok(name), Ok(avatar)) => Some(Sender { id: Some(id), name, avatar }),
            (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
        },
    };
    let fields = (get::<i64>(&conv, "seq"), get::<bool>(&conv, "title_set"), get::<String>(&conv, "title"));
    let (conv_seq, title_set, title) = match fields {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Ok(Err(e)),
    };
    // Attachments may be written before the messages, so their savepoint opens first.
    let early_savepoint = inputs.iter().any(|i| !i.attachments.is_empty());
    if early_savepoint {
        sqlx::query(SAVEPOINT).execute(&mut *conn).await.map_err(map_err)?;
    }
    let mut messages = Vec::with_capacity(inputs.len());
    for mut input in inputs {
        let sender = match input.sender_type {
            SenderType::Contact => contact_sender.clone(),
            _ => input.sender.take(),
        };
        let attachments = match resolve_attachments(conn, org, std::mem::take(&mut input.attachments)).await {
            Ok(a) => a,
            Err(e) => return undo(conn, e).await,
        };
        messages.push(input.into_message(sender, attachments));
    }
    let new_title = (!title_set && title.is_empty())
        .then(|| messages.iter().find(|m| m.kind == MessageType::Incoming))
        .flatten()
        .map(|m| parlor_core::model::title_from(&m.content))
        .filter(|t| !t.is_empty());
    let incoming = messages.iter().filter(|m| m.kind == MessageType::Incoming).count();
    let bodies: Vec<String> = messages.iter().map(|m| parlor_core::search::normalize(&m.content)).collect();

    // One round trip for every write. sqlx runs the statements of one query string in order
    // on the connection thread, handing each its share of the positional parameters; if one
    // fails, the ones after it do not run and the savepoint takes back the ones before.
    let mut sql = String::with_capacity(1024);
    if !early_savepoint {
        sql.push_str(SAVEPOINT);
        sql.push_str(";\n");
    }
    for (i, body) in bodies.iter().enumerate() {
        if i > 0 {
            sql.push_str(";\n");
        }
        sql.push_str(INSERT_MESSAGE);
        if !body.is_empty() {
            sql.push_str(";\n");
            sql.push_str(INDEX_MESSAGE);
        }
    }
    sql.push_str(
        ";\nUPDATE conversations SET last_message_id = ?, last_message_at = ?, message_count = message_count + ?,
            unread_count = unread_count + ?, replying = replying + ?, title = coalesce(?, title), updated_at = ?
         WHERE seq = ?",
    );
    if new_title.is_some() {
        sql.push_str(
            ";\nDELETE FROM conversation_title_fts WHERE rowid = ?;
             INSERT INTO conversation_title_fts (rowid, body) VALUES (?, ?)",
        );
    }
    sql.push_str(";\nRELEASE message");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (m, body) in messages.iter().zip(&bodies) {
        q = bind_message(q, org, m);
        if !body.is_empty() {
            q = q.bind(conv_seq).bind(body.as_str());
        }
    }
    let Some(last) = messages.last() else {
        return undo(conn, StoreError::Backend("no message".into())).await;
    };
    q = q
        .bind(last.id.0)
        .bind(last.created_at.micros())
        .bind(messages.len() as i64)
        .bind(incoming as i64)
        .bind(i64::from(starts_reply))
        .bind(new_title.clone())
        .bind(last.created_at.micros())
        .bind(conv_seq);
    if let Some(title) = &new_title {
        q = q.bind(conv_seq).bind(conv_seq).bind(parlor_core::search::normalize(title));
    }
    match q.execute(&mut *conn).await {
        Ok(_) => Ok(Ok(messages)),
        // The savepoint is open unless the failure came before it (the string's first
        // statement); rolling back to a savepoint that does not exist fails, which is then
        // reported as a broken batch: safe, if pessimistic.
        Err(e) => undo(conn, map_err(e)).await,
    }
}

/// Takes back this message's writes (to its savepoint) and reports `e` as its own error.
async fn undo<T>(conn: &mut SqliteConnection, e: StoreError) -> Result<StoreResult<T>, StoreError> {
    sqlx::raw_sql("ROLLBACK TO message; RELEASE message").execute(&mut *conn).await.map_err(map_err)?;
    Ok(Err(e))
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
    let mut q = QueryBuilder::<Sqlite>::new(&*COLUMNS);
    match conversation {
        // The conversation's count rides along on every row of the page (a subquery SQLite
        // evaluates once), saving the page a second query; only an empty page asks apart.
        //
        // The unary `+` keeps SQLite from walking `messages_org`: without statistics it
        // rates that index as good as `messages_conversation` (one equality, then the sort
        // order) and then scans the organization's newest messages for ones of this
        // conversation, which grows with the organization, not with the page.
        Some(c) => q
            .push(", (SELECT message_count FROM conversations WHERE org_id = ")
            .push_bind(org.0)
            .push(" AND id = ")
            .push_bind(c.0)
            .push(") AS conversation_count FROM messages m WHERE +m.org_id = ")
            .push_bind(org.0)
            .push(" AND m.conversation_id = ")
            .push_bind(c.0),
        None => q.push(" FROM messages m WHERE m.org_id = ").push_bind(org.0),
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
    // The limit is written into the SQL, not bound: SQLite 3.4x marks a statement whose
    // LIMIT is a bound parameter to be compiled again on every new binding, which cost a
    // page read more than the query itself (one cached statement per page size instead).
    q.push(format_args!(" LIMIT {}", page.fetch_limit()));
    let rows = q.build().fetch_all(&s.read).await.map_err(map_err)?;
    let items = rows.iter().filter_map(|r| message(r, "").transpose()).collect::<StoreResult<Vec<_>>>()?;
    let count = match (conversation, rows.first()) {
        (Some(_), Some(row)) => Some(get::<Option<i64>>(row, "conversation_count")?.unwrap_or(0)),
        (Some(c), None) => Some(
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
        (None, _) => None,
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
