//! Conversations: the view with its contact, inbox and last message; keyset lists with the
//! inbox and keyword filters.

use crate::contacts::insert_contact;
use crate::rows::{get, message, message_columns, opt_ts, ts};
use crate::search::tsquery;
use crate::{PgStore, lock_row, map_err};
use parlor_core::StoreError;
use parlor_core::clock;
use parlor_core::error::StoreResult;
use parlor_core::id::{ConversationId, OrgId};
use parlor_core::input::{ConversationFilter, ConversationPatch, NewContact, NewConversation};
use parlor_core::model::*;
use parlor_core::page::{CursorPage, CursorRequest, Position, assemble};
use parlor_core::search::normalize;
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Postgres, QueryBuilder};
use std::sync::LazyLock;
use uuid::Uuid;

/// The conversation view: one row per conversation with everything nested in it.
static SELECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT c.id, c.web_chat_id, c.chatbot_id, c.contact_id, c.title, c.status, c.auto_reply_enabled,
            c.replying, c.last_read_at, c.last_message_at, c.message_count, c.unread_count, c.created_at,
            c.updated_at, ct.name AS contact_name, ct.avatar AS contact_avatar,
            ct.created_at AS contact_created_at, w.name AS web_chat_name, {}
         FROM conversations c
         JOIN web_chats w ON w.id = c.web_chat_id
         LEFT JOIN contacts ct ON ct.id = c.contact_id
         LEFT JOIN messages m ON m.id = c.last_message_id",
        message_columns("m", "lm_")
    )
});

fn conversation_row(row: &PgRow) -> StoreResult<Conversation> {
    let contact = match get::<Option<Uuid>>(row, "contact_id")? {
        Some(id) => Some(ContactRef {
            id: id.into(),
            name: get(row, "contact_name")?,
            avatar: get(row, "contact_avatar")?,
            created_at: ts(row, "contact_created_at")?,
        }),
        None => None,
    };
    let status: String = get(row, "status")?;
    Ok(Conversation {
        id: get::<Uuid>(row, "id")?.into(),
        contact,
        inbox: InboxRef {
            id: get::<Uuid>(row, "web_chat_id")?.into(),
            name: get(row, "web_chat_name")?,
            channel_type: "web",
        },
        title: get(row, "title")?,
        last_message: message(row, "lm_")?.map(Box::new),
        last_message_created_at: opt_ts(row, "last_message_at")?,
        unread_messages_count: get(row, "unread_count")?,
        auto_reply_enabled: get(row, "auto_reply_enabled")?,
        is_auto_reply_now: get::<i64>(row, "replying")? > 0,
        last_read_at: opt_ts(row, "last_read_at")?,
        is_group_chat: false,
        enable_group_mention: false,
        created_at: ts(row, "created_at")?,
        web_chat: get::<Uuid>(row, "web_chat_id")?.into(),
        chatbot: get::<Option<Uuid>>(row, "chatbot_id")?.map(Into::into),
        status: ConversationStatus::parse(&status).unwrap_or(ConversationStatus::Open),
        message_count: get(row, "message_count")?,
        updated_at: ts(row, "updated_at")?,
    })
}

pub(crate) async fn get_conversation(
    conn: &mut PgConnection,
    org: OrgId,
    id: ConversationId,
) -> StoreResult<Conversation> {
    let sql = format!("{} WHERE c.org_id = $1 AND c.id = $2", *SELECT);
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.0)
        .bind(id.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err)?;
    conversation_row(&row)
}

pub(crate) async fn create_conversation(
    s: &PgStore,
    org: OrgId,
    input: NewConversation,
) -> StoreResult<Conversation> {
    let mut tx = s.begin().await?;
    let chatbot: Option<Uuid> =
        sqlx::query_scalar("SELECT chatbot_id FROM web_chats WHERE org_id = $1 AND id = $2")
            .bind(org.0)
            .bind(input.web_chat.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
    let Some(chatbot) = chatbot else {
        return Err(StoreError::InvalidReference { field: "webChat", id: input.web_chat.to_string() });
    };
    let contact = match input.contact {
        Some(c) => {
            let found: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM contacts WHERE org_id = $1 AND id = $2")
                    .bind(org.0)
                    .bind(c.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
            if found.is_none() {
                return Err(StoreError::InvalidReference { field: "contact", id: c.to_string() });
            }
            c
        }
        None => insert_contact(&mut tx, org, NewContact::default()).await?,
    };
    let id = ConversationId::new();
    let now = clock::now();
    sqlx::query(
        "INSERT INTO conversations (id, org_id, web_chat_id, chatbot_id, contact_id, title, title_set, status,
            auto_reply_enabled, created_at, updated_at, title_search)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', true, $8, $8, $9)",
    )
    .bind(id.0)
    .bind(org.0)
    .bind(input.web_chat.0)
    .bind(chatbot)
    .bind(contact.0)
    .bind(input.title.as_deref().unwrap_or(""))
    .bind(input.title.is_some())
    .bind(now.0)
    .bind(input.title.as_deref().map(normalize).unwrap_or_default())
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    let c = get_conversation(&mut tx, org, id).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(c)
}

pub(crate) async fn list_conversations(
    s: &PgStore,
    org: OrgId,
    filter: ConversationFilter,
    page: CursorRequest,
) -> StoreResult<CursorPage<Conversation>> {
    let mut q = QueryBuilder::<Postgres>::new(&*SELECT);
    q.push(" WHERE c.org_id = ").push_bind(org.0);
    if let Some(inbox) = filter.inbox {
        q.push(" AND c.web_chat_id = ").push_bind(inbox.0);
    }
    if let Some(contact) = filter.contact {
        q.push(" AND c.contact_id = ").push_bind(contact.0);
    }
    if let Some(keyword) = &filter.keyword {
        let Some(expr) = tsquery(keyword) else {
            return Ok(CursorPage { items: vec![], next: None, previous: None });
        };
        // Both sides are GIN lookups; the message side is kept to this organization first.
        q.push(" AND (c.title_tsv @@ to_tsquery('simple', ")
            .push_bind(expr.clone())
            .push(") OR c.id IN (SELECT mm.conversation_id FROM messages mm WHERE mm.org_id = ")
            .push_bind(org.0)
            .push(" AND mm.content_tsv @@ to_tsquery('simple', ")
            .push_bind(expr)
            .push(")))");
    }
    let reverse = page.is_reverse();
    if let Some(cursor) = page.cursor {
        q.push(if reverse { " AND (c.created_at, c.id) > (" } else { " AND (c.created_at, c.id) < (" })
            .push_bind(cursor.position.created_at.0)
            .push(", ")
            .push_bind(cursor.position.id)
            .push(")");
    }
    q.push(if reverse {
        " ORDER BY c.created_at ASC, c.id ASC"
    } else {
        " ORDER BY c.created_at DESC, c.id DESC"
    });
    q.push(" LIMIT ").push_bind(page.fetch_limit());
    let rows = q.build().fetch_all(&s.pool).await.map_err(map_err)?;
    let items = rows.iter().map(conversation_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(assemble(&page, items, |c| Position { created_at: c.created_at, id: c.id.0 }))
}

pub(crate) async fn update_conversation(
    s: &PgStore,
    org: OrgId,
    id: ConversationId,
    p: ConversationPatch,
) -> StoreResult<Conversation> {
    let mut tx = s.begin().await?;
    lock_row(&mut tx, "conversations", org, id.0).await?;
    let current = get_conversation(&mut tx, org, id).await?;
    let title = p.title.clone().unwrap_or(current.title);
    let status = p.status.unwrap_or(current.status);
    let auto = p.auto_reply_enabled.unwrap_or(current.auto_reply_enabled);
    sqlx::query(
        "UPDATE conversations SET title = $1, title_set = title_set OR $2, status = $3,
            auto_reply_enabled = $4, updated_at = $5, title_search = coalesce($6, title_search)
         WHERE org_id = $7 AND id = $8",
    )
    .bind(&title)
    .bind(p.title.is_some())
    .bind(status.as_str())
    .bind(auto)
    .bind(clock::now().0)
    .bind(p.title.as_deref().map(normalize))
    .bind(org.0)
    .bind(id.0)
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    let c = get_conversation(&mut tx, org, id).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(c)
}

pub(crate) async fn delete_conversation(s: &PgStore, org: OrgId, id: ConversationId) -> StoreResult<()> {
    let done = sqlx::query("DELETE FROM conversations WHERE org_id = $1 AND id = $2")
        .bind(org.0)
        .bind(id.0)
        .execute(&s.pool)
        .await
        .map_err(map_err)?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// The time is taken after the row is locked: a message committed while this waited is then
/// older than `lastReadAt`, so "unread" (incoming messages after `lastReadAt`) stays true to
/// the zeroed counter.
pub(crate) async fn mark_read(s: &PgStore, org: OrgId, id: ConversationId) -> StoreResult<Conversation> {
    let mut tx = s.begin().await?;
    lock_row(&mut tx, "conversations", org, id.0).await?;
    sqlx::query("UPDATE conversations SET last_read_at = $1, unread_count = 0 WHERE org_id = $2 AND id = $3")
        .bind(clock::now().0)
        .bind(org.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    let c = get_conversation(&mut tx, org, id).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(c)
}
