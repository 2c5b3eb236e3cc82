//! Widget visitors: finding a web chat by its id alone, and visitor sessions.

use crate::chatbots::{WEB_CHAT_COLS, web_chat_row};
use crate::contacts::insert_contact;
use crate::rows::{get, ts};
use crate::{PgStore, map_err};
use parlor_core::clock;
use parlor_core::error::StoreResult;
use parlor_core::id::{OrgId, VisitorSessionId, WebChatId};
use parlor_core::input::NewContact;
use parlor_core::model::{VisitorSession, WebChat};
use sqlx::postgres::PgRow;
use uuid::Uuid;

const SESSION_COLS: &str = "id, org_id, web_chat_id, contact_id, created_at";

fn session_row(row: &PgRow) -> StoreResult<VisitorSession> {
    Ok(VisitorSession {
        id: get::<Uuid>(row, "id")?.into(),
        org: get::<Uuid>(row, "org_id")?.into(),
        web_chat: get::<Uuid>(row, "web_chat_id")?.into(),
        contact: get::<Uuid>(row, "contact_id")?.into(),
        created_at: ts(row, "created_at")?,
    })
}

pub(crate) async fn find_web_chat(s: &PgStore, id: WebChatId) -> StoreResult<(OrgId, WebChat)> {
    let sql = format!("SELECT org_id, {WEB_CHAT_COLS} FROM web_chats WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0).fetch_one(&s.pool).await.map_err(map_err)?;
    Ok((get::<Uuid>(&row, "org_id")?.into(), web_chat_row(&row)?))
}

pub(crate) async fn create_visitor_session(
    s: &PgStore,
    org: OrgId,
    web_chat: WebChatId,
    token_hash: &str,
) -> StoreResult<VisitorSession> {
    let mut tx = s.begin().await?;
    // The web chat must be this organization's: a session must never join two tenants.
    crate::chatbots::get_web_chat(&mut *tx, org, web_chat).await?;
    let contact = insert_contact(&mut tx, org, NewContact::default()).await?;
    let sql = format!(
        "INSERT INTO visitor_sessions (id, org_id, web_chat_id, contact_id, token_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {SESSION_COLS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(VisitorSessionId::new().0)
        .bind(org.0)
        .bind(web_chat.0)
        .bind(contact.0)
        .bind(token_hash)
        .bind(clock::now().0)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
    let session = session_row(&row)?;
    tx.commit().await.map_err(map_err)?;
    Ok(session)
}

pub(crate) async fn find_visitor_session(
    s: &PgStore,
    token_hash: &str,
) -> StoreResult<Option<VisitorSession>> {
    let sql = format!("SELECT {SESSION_COLS} FROM visitor_sessions WHERE token_hash = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(token_hash)
        .fetch_optional(&s.pool)
        .await
        .map_err(map_err)?;
    row.as_ref().map(session_row).transpose()
}
