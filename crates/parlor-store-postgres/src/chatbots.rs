//! Chatbots, their web chats, and the inbox view of a web chat.

use crate::rows::{get, json, to_json, ts};
use crate::{PgStore, Tx, lock_row, map_err};
use parlor_core::StoreError;
use parlor_core::clock;
use parlor_core::error::StoreResult;
use parlor_core::id::{ChatbotId, OrgId, WebChatId};
use parlor_core::input::*;
use parlor_core::model::*;
use parlor_core::page::{NumberPage, PageRequest};
use sqlx::postgres::PgRow;
use sqlx::{Executor, Postgres};
use uuid::Uuid;

const CHATBOT_COLS: &str = "id, name, instructions, welcome_message, fallback_message, model, temperature, \
     history_messages, webhook_url, api_web_chat_id, created_at, updated_at";

pub(crate) const WEB_CHAT_COLS: &str = "id, chatbot_id, name, access_type, welcome_message, allowed_origins, \
     is_active, enable_file_upload, created_at";

fn chatbot_row(row: &PgRow) -> StoreResult<Chatbot> {
    Ok(Chatbot {
        id: get::<Uuid>(row, "id")?.into(),
        name: get(row, "name")?,
        instructions: get(row, "instructions")?,
        welcome_message: get(row, "welcome_message")?,
        fallback_message: get(row, "fallback_message")?,
        model: get(row, "model")?,
        temperature: get(row, "temperature")?,
        history_messages: get(row, "history_messages")?,
        webhook_url: get(row, "webhook_url")?,
        api_web_chat_id: get::<Uuid>(row, "api_web_chat_id")?.into(),
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

pub(crate) fn web_chat_row(row: &PgRow) -> StoreResult<WebChat> {
    let access: String = get(row, "access_type")?;
    Ok(WebChat {
        id: get::<Uuid>(row, "id")?.into(),
        name: get(row, "name")?,
        chatbot: get::<Uuid>(row, "chatbot_id")?.into(),
        access_type: AccessType::parse(&access).unwrap_or(AccessType::Web),
        welcome_message: get(row, "welcome_message")?,
        allowed_origins: json(row, "allowed_origins")?,
        is_active: get(row, "is_active")?,
        enable_file_upload: get(row, "enable_file_upload")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(crate) async fn create_chatbot(s: &PgStore, org: OrgId, input: NewChatbot) -> StoreResult<Chatbot> {
    let now = clock::now();
    let id = ChatbotId::new();
    let web_chat = WebChatId::new();
    let mut tx = s.begin().await?;
    sqlx::query(
        "INSERT INTO chatbots (id, org_id, name, instructions, welcome_message, fallback_message, model,
            temperature, history_messages, webhook_url, webhook_secret, api_web_chat_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
    )
    .bind(id.0)
    .bind(org.0)
    .bind(&input.name)
    .bind(&input.instructions)
    .bind(&input.welcome_message)
    .bind(&input.fallback_message)
    .bind(&input.model)
    .bind(input.temperature)
    .bind(input.history_messages)
    .bind(&input.webhook_url)
    .bind(input.webhook_secret.as_ref().map(|k| k.0.as_str()))
    .bind(web_chat.0)
    .bind(now.0)
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    insert_web_chat(
        &mut tx,
        org,
        web_chat,
        &NewWebChat {
            name: format!("{} API", input.name),
            chatbot: id,
            access_type: AccessType::Api,
            welcome_message: input.welcome_message.clone(),
            allowed_origins: vec![],
            is_active: true,
            enable_file_upload: true,
        },
    )
    .await?;
    let bot = get_chatbot(&mut *tx, org, id).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(bot)
}

pub(crate) async fn get_chatbot<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    org: OrgId,
    id: ChatbotId,
) -> StoreResult<Chatbot> {
    let sql = format!("SELECT {CHATBOT_COLS} FROM chatbots WHERE org_id = $1 AND id = $2");
    let row =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org.0).bind(id.0).fetch_one(ex).await.map_err(map_err)?;
    chatbot_row(&row)
}

pub(crate) async fn list_chatbots(
    s: &PgStore,
    org: OrgId,
    page: PageRequest,
) -> StoreResult<NumberPage<Chatbot>> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM chatbots WHERE org_id = $1")
        .bind(org.0)
        .fetch_one(&s.pool)
        .await
        .map_err(map_err)?;
    let sql = format!(
        "SELECT {CHATBOT_COLS} FROM chatbots WHERE org_id = $1
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.0)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&s.pool)
        .await
        .map_err(map_err)?;
    Ok(NumberPage { count, items: rows.iter().map(chatbot_row).collect::<StoreResult<_>>()? })
}

pub(crate) async fn update_chatbot(
    s: &PgStore,
    org: OrgId,
    id: ChatbotId,
    p: ChatbotPatch,
) -> StoreResult<Chatbot> {
    let mut tx = s.begin().await?;
    lock_row(&mut tx, "chatbots", org, id.0).await?;
    let mut bot = get_chatbot(&mut *tx, org, id).await?;
    p.apply_to(&mut bot);
    bot.updated_at = clock::now();
    sqlx::query(
        "UPDATE chatbots SET name = $1, instructions = $2, welcome_message = $3, fallback_message = $4,
            model = $5, temperature = $6, history_messages = $7, webhook_url = $8, updated_at = $9
         WHERE org_id = $10 AND id = $11",
    )
    .bind(&bot.name)
    .bind(&bot.instructions)
    .bind(&bot.welcome_message)
    .bind(&bot.fallback_message)
    .bind(&bot.model)
    .bind(bot.temperature)
    .bind(bot.history_messages)
    .bind(&bot.webhook_url)
    .bind(bot.updated_at.0)
    .bind(org.0)
    .bind(id.0)
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    // The signing key changes only with the URL (the caller decides), never shown here.
    if let Some(secret) = p.webhook_secret {
        sqlx::query("UPDATE chatbots SET webhook_secret = $1 WHERE id = $2")
            .bind(secret.as_ref().map(|k| k.0.as_str()))
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
    }
    tx.commit().await.map_err(map_err)?;
    Ok(bot)
}

pub(crate) async fn delete_chatbot(s: &PgStore, org: OrgId, id: ChatbotId) -> StoreResult<()> {
    let done = sqlx::query("DELETE FROM chatbots WHERE org_id = $1 AND id = $2")
        .bind(org.0)
        .bind(id.0)
        .execute(&s.pool)
        .await
        .map_err(map_err)?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Inserts through a SELECT of the chatbot, so a chatbot that is not this organization's
/// inserts nothing and names the `chatbot` field.
async fn insert_web_chat(tx: &mut Tx, org: OrgId, id: WebChatId, w: &NewWebChat) -> StoreResult<()> {
    let now = clock::now();
    let done = sqlx::query(
        "INSERT INTO web_chats (id, org_id, chatbot_id, name, access_type, welcome_message, allowed_origins,
            is_active, enable_file_upload, created_at, updated_at)
         SELECT $1, $2, id, $3, $4, $5, $6::json, $7, $8, $9, $9 FROM chatbots WHERE org_id = $2 AND id = $10",
    )
    .bind(id.0)
    .bind(org.0)
    .bind(&w.name)
    .bind(w.access_type.as_str())
    .bind(&w.welcome_message)
    .bind(to_json(&w.allowed_origins))
    .bind(w.is_active)
    .bind(w.enable_file_upload)
    .bind(now.0)
    .bind(w.chatbot.0)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::InvalidReference { field: "chatbot", id: w.chatbot.to_string() });
    }
    Ok(())
}

pub(crate) async fn create_web_chat(s: &PgStore, org: OrgId, input: NewWebChat) -> StoreResult<WebChat> {
    let id = WebChatId::new();
    let mut tx = s.begin().await?;
    insert_web_chat(&mut tx, org, id, &input).await?;
    let w = get_web_chat(&mut *tx, org, id).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(w)
}

pub(crate) async fn get_web_chat<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    org: OrgId,
    id: WebChatId,
) -> StoreResult<WebChat> {
    let sql = format!("SELECT {WEB_CHAT_COLS} FROM web_chats WHERE org_id = $1 AND id = $2");
    let row =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org.0).bind(id.0).fetch_one(ex).await.map_err(map_err)?;
    web_chat_row(&row)
}

pub(crate) async fn list_web_chats(
    s: &PgStore,
    org: OrgId,
    page: PageRequest,
) -> StoreResult<NumberPage<WebChat>> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM web_chats WHERE org_id = $1")
        .bind(org.0)
        .fetch_one(&s.pool)
        .await
        .map_err(map_err)?;
    let sql = format!(
        "SELECT {WEB_CHAT_COLS} FROM web_chats WHERE org_id = $1
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.0)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&s.pool)
        .await
        .map_err(map_err)?;
    Ok(NumberPage { count, items: rows.iter().map(web_chat_row).collect::<StoreResult<_>>()? })
}

pub(crate) async fn update_web_chat(
    s: &PgStore,
    org: OrgId,
    id: WebChatId,
    p: WebChatPatch,
) -> StoreResult<WebChat> {
    let mut tx = s.begin().await?;
    lock_row(&mut tx, "web_chats", org, id.0).await?;
    let mut w = get_web_chat(&mut *tx, org, id).await?;
    if let Some(bot) = p.chatbot {
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM chatbots WHERE org_id = $1 AND id = $2")
            .bind(org.0)
            .bind(bot.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        if exists.is_none() {
            return Err(StoreError::InvalidReference { field: "chatbot", id: bot.to_string() });
        }
        w.chatbot = bot;
    }
    p.apply_to(&mut w);
    sqlx::query(
        "UPDATE web_chats SET chatbot_id = $1, name = $2, access_type = $3, welcome_message = $4,
            allowed_origins = $5::json, is_active = $6, enable_file_upload = $7, updated_at = $8
         WHERE org_id = $9 AND id = $10",
    )
    .bind(w.chatbot.0)
    .bind(&w.name)
    .bind(w.access_type.as_str())
    .bind(&w.welcome_message)
    .bind(to_json(&w.allowed_origins))
    .bind(w.is_active)
    .bind(w.enable_file_upload)
    .bind(clock::now().0)
    .bind(org.0)
    .bind(id.0)
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    tx.commit().await.map_err(map_err)?;
    Ok(w)
}

pub(crate) async fn delete_web_chat(s: &PgStore, org: OrgId, id: WebChatId) -> StoreResult<()> {
    let done = sqlx::query("DELETE FROM web_chats WHERE org_id = $1 AND id = $2")
        .bind(org.0)
        .bind(id.0)
        .execute(&s.pool)
        .await
        .map_err(map_err)?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

const INBOX_SELECT: &str = "SELECT w.id, w.name, w.chatbot_id,
        (SELECT count(*) FROM conversations c WHERE c.web_chat_id = w.id AND c.unread_count > 0) AS unread
     FROM web_chats w";

fn inbox_row(row: &PgRow) -> StoreResult<Inbox> {
    let id: WebChatId = get::<Uuid>(row, "id")?.into();
    let name: String = get(row, "name")?;
    Ok(Inbox {
        id,
        name: name.clone(),
        channel_type: "web",
        channel: ChannelRef { id, name },
        chatbot: get::<Uuid>(row, "chatbot_id")?.into(),
        unread_conversations_count: get(row, "unread")?,
    })
}

pub(crate) async fn get_inbox(s: &PgStore, org: OrgId, id: WebChatId) -> StoreResult<Inbox> {
    let sql = format!("{INBOX_SELECT} WHERE w.org_id = $1 AND w.id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.0)
        .bind(id.0)
        .fetch_one(&s.pool)
        .await
        .map_err(map_err)?;
    inbox_row(&row)
}

pub(crate) async fn list_inboxes(
    s: &PgStore,
    org: OrgId,
    filter: InboxFilter,
    page: PageRequest,
) -> StoreResult<NumberPage<Inbox>> {
    let bot = filter.chatbot.map(|b| b.0);
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM web_chats w WHERE w.org_id = $1 AND ($2::uuid IS NULL OR w.chatbot_id = $2)",
    )
    .bind(org.0)
    .bind(bot)
    .fetch_one(&s.pool)
    .await
    .map_err(map_err)?;
    let sql = format!(
        "{INBOX_SELECT} WHERE w.org_id = $1 AND ($2::uuid IS NULL OR w.chatbot_id = $2)
         ORDER BY w.created_at DESC, w.id DESC LIMIT $3 OFFSET $4"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.0)
        .bind(bot)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&s.pool)
        .await
        .map_err(map_err)?;
    Ok(NumberPage { count, items: rows.iter().map(inbox_row).collect::<StoreResult<_>>()? })
}
