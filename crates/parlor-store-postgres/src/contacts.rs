//! Contacts, with the web chats each has talked through.

use crate::rows::{get, opt_json, to_json, ts};
use crate::{PgStore, Tx, lock_row, map_err};
use parlor_core::StoreError;
use parlor_core::clock;
use parlor_core::error::StoreResult;
use parlor_core::id::{ContactId, OrgId};
use parlor_core::input::{ContactPatch, NewContact};
use parlor_core::model::{ChannelRef, Contact, contact_query, contact_search_text};
use parlor_core::page::{NumberPage, PageRequest};
use sqlx::postgres::{PgConnection, PgRow};
use std::collections::HashMap;
use uuid::Uuid;

const COLS: &str = "id, name, avatar, email, phone_number, source_id, query_metadata, created_at, updated_at";

fn contact_row(row: &PgRow) -> StoreResult<Contact> {
    Ok(Contact {
        id: get::<Uuid>(row, "id")?.into(),
        name: get(row, "name")?,
        avatar: get(row, "avatar")?,
        email: get(row, "email")?,
        phone_number: get(row, "phone_number")?,
        source_id: get(row, "source_id")?,
        query_metadata: opt_json(row, "query_metadata")?,
        inboxes: vec![],
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

/// Fills `inboxes` of each contact with one query.
async fn with_inboxes(conn: &mut PgConnection, mut contacts: Vec<Contact>) -> StoreResult<Vec<Contact>> {
    if contacts.is_empty() {
        return Ok(contacts);
    }
    let ids: Vec<Uuid> = contacts.iter().map(|c| c.id.0).collect();
    let rows = sqlx::query(
        "SELECT DISTINCT c.contact_id, w.id, w.name, w.created_at FROM conversations c
         JOIN web_chats w ON w.id = c.web_chat_id WHERE c.contact_id = ANY($1)
         ORDER BY w.created_at, w.id",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(map_err)?;
    let mut by_contact: HashMap<Uuid, Vec<ChannelRef>> = HashMap::new();
    for row in &rows {
        by_contact
            .entry(get(row, "contact_id")?)
            .or_default()
            .push(ChannelRef { id: get::<Uuid>(row, "id")?.into(), name: get(row, "name")? });
    }
    for c in &mut contacts {
        c.inboxes = by_contact.remove(&c.id.0).unwrap_or_default();
    }
    Ok(contacts)
}

/// Inserts a contact inside a transaction; a contact without a name is `Visitor <n>`,
/// numbered per organization. The counter is bumped in place: the row lock that UPDATE takes
/// makes concurrent transactions (on any instance) wait and read the committed value, so no
/// number is given twice.
pub(crate) async fn insert_contact(tx: &mut Tx, org: OrgId, input: NewContact) -> StoreResult<ContactId> {
    let name = match input.name {
        Some(n) => n,
        None => {
            let n: i64 = sqlx::query_scalar(
                "UPDATE organizations SET visitor_seq = visitor_seq + 1 WHERE id = $1 RETURNING visitor_seq",
            )
            .bind(org.0)
            .fetch_one(&mut **tx)
            .await
            .map_err(map_err)?;
            format!("Visitor {n}")
        }
    };
    let folded = contact_search_text(&name, input.email.as_deref(), input.phone_number.as_deref());
    let id = ContactId::new();
    let now = clock::now();
    sqlx::query(
        "INSERT INTO contacts (id, org_id, name, avatar, email, phone_number, source_id, query_metadata,
            created_at, updated_at, search_folded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json, $9, $9, $10)",
    )
    .bind(id.0)
    .bind(org.0)
    .bind(&name)
    .bind(input.avatar)
    .bind(input.email)
    .bind(input.phone_number)
    .bind(input.source_id)
    .bind(input.query_metadata.as_ref().map(to_json))
    .bind(now.0)
    .bind(folded)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(id)
}

pub(crate) async fn create_contact(s: &PgStore, org: OrgId, input: NewContact) -> StoreResult<Contact> {
    let mut tx = s.begin().await?;
    let id = insert_contact(&mut tx, org, input).await?;
    let c = get_contact(&mut tx, org, id).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(c)
}

pub(crate) async fn get_contact(conn: &mut PgConnection, org: OrgId, id: ContactId) -> StoreResult<Contact> {
    let sql = format!("SELECT {COLS} FROM contacts WHERE org_id = $1 AND id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.0)
        .bind(id.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err)?;
    let mut v = with_inboxes(conn, vec![contact_row(&row)?]).await?;
    v.pop().ok_or(StoreError::NotFound)
}

/// `query` is folded here and found with `strpos` (a substring match with no LIKE wildcards
/// to escape) in the folded fields (see `contact_search_text`).
pub(crate) async fn list_contacts(
    s: &PgStore,
    org: OrgId,
    query: Option<&str>,
    page: PageRequest,
) -> StoreResult<NumberPage<Contact>> {
    let filter = "org_id = $1 AND ($2::text IS NULL OR strpos(search_folded, $2) > 0)";
    let q = query.map(contact_query);
    let count: i64 =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM contacts WHERE {filter}")))
            .bind(org.0)
            .bind(&q)
            .fetch_one(&s.pool)
            .await
            .map_err(map_err)?;
    let sql = format!(
        "SELECT {COLS} FROM contacts WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.0)
        .bind(&q)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&s.pool)
        .await
        .map_err(map_err)?;
    let items = rows.iter().map(contact_row).collect::<StoreResult<Vec<_>>>()?;
    let mut conn = s.pool.acquire().await.map_err(map_err)?;
    Ok(NumberPage { count, items: with_inboxes(&mut conn, items).await? })
}

pub(crate) async fn update_contact(
    s: &PgStore,
    org: OrgId,
    id: ContactId,
    p: ContactPatch,
) -> StoreResult<Contact> {
    let mut tx = s.begin().await?;
    lock_row(&mut tx, "contacts", org, id.0).await?;
    let mut c = get_contact(&mut tx, org, id).await?;
    p.apply_to(&mut c);
    c.updated_at = clock::now();
    sqlx::query(
        "UPDATE contacts SET name = $1, avatar = $2, email = $3, phone_number = $4, source_id = $5,
            query_metadata = $6::json, updated_at = $7, search_folded = $10 WHERE org_id = $8 AND id = $9",
    )
    .bind(&c.name)
    .bind(&c.avatar)
    .bind(&c.email)
    .bind(&c.phone_number)
    .bind(&c.source_id)
    .bind(c.query_metadata.as_ref().map(to_json))
    .bind(c.updated_at.0)
    .bind(org.0)
    .bind(id.0)
    .bind(contact_search_text(&c.name, c.email.as_deref(), c.phone_number.as_deref()))
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    tx.commit().await.map_err(map_err)?;
    Ok(c)
}

pub(crate) async fn delete_contact(s: &PgStore, org: OrgId, id: ContactId) -> StoreResult<()> {
    let done = sqlx::query("DELETE FROM contacts WHERE org_id = $1 AND id = $2")
        .bind(org.0)
        .bind(id.0)
        .execute(&s.pool)
        .await
        .map_err(map_err)?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}
