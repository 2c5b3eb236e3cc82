//! Knowledge documents, their passages, and passage retrieval ranked with `ts_rank`.

use crate::rows::{get, json, to_json, ts};
use crate::search::tsquery;
use crate::{PgStore, Tx, map_err};
use parlor_core::StoreError;
use parlor_core::clock;
use parlor_core::error::StoreResult;
use parlor_core::id::{ChatbotId, DocumentId, OrgId, PassageId};
use parlor_core::input::{DocumentPatch, NewDocument};
use parlor_core::knowledge::split_passages;
use parlor_core::model::{Document, JsonObject, PassageHit};
use parlor_core::page::{NumberPage, PageRequest};
use parlor_core::search::{Query, normalize};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

const COLS: &str = "id, chatbot_id, title, content, metadata, characters_count, created_at, updated_at";

fn document_row(row: &PgRow) -> StoreResult<Document> {
    Ok(Document {
        id: get::<Uuid>(row, "id")?.into(),
        chatbot: get::<Uuid>(row, "chatbot_id")?.into(),
        title: get(row, "title")?,
        content: get(row, "content")?,
        metadata: json(row, "metadata")?,
        characters_count: get(row, "characters_count")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

/// The chatbot must be the organization's; a missing one is `NotFound` (it is in the path).
async fn check_chatbot(conn: &mut PgConnection, org: OrgId, chatbot: ChatbotId) -> StoreResult<()> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM chatbots WHERE org_id = $1 AND id = $2")
        .bind(org.0)
        .bind(chatbot.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?;
    found.map(|_| ()).ok_or(StoreError::NotFound)
}

/// Replaces a document's passages (their index entries follow, being generated columns).
async fn index_passages(tx: &mut Tx, doc: &Document) -> StoreResult<()> {
    sqlx::query("DELETE FROM passages WHERE document_id = $1")
        .bind(doc.id.0)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    let title = normalize(&doc.title);
    for (position, text) in split_passages(&doc.title, &doc.content).into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO passages (id, document_id, chatbot_id, position, text, title_search, text_search, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(PassageId::new().0)
        .bind(doc.id.0)
        .bind(doc.chatbot.0)
        .bind(position as i64)
        .bind(&text)
        .bind(&title)
        .bind(normalize(&text))
        .bind(doc.updated_at.0)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    }
    Ok(())
}

async fn write_document(tx: &mut Tx, org: OrgId, doc: &Document, insert: bool) -> StoreResult<()> {
    let sql = if insert {
        "INSERT INTO documents (title, content, metadata, characters_count, created_at, updated_at, org_id, chatbot_id, id)
         VALUES ($1, $2, $3::json, $4, $5, $6, $7, $8, $9)"
    } else {
        "UPDATE documents SET title = $1, content = $2, metadata = $3::json, characters_count = $4, created_at = $5,
            updated_at = $6 WHERE org_id = $7 AND chatbot_id = $8 AND id = $9"
    };
    sqlx::query(sql)
        .bind(&doc.title)
        .bind(&doc.content)
        .bind(to_json(&doc.metadata))
        .bind(doc.characters_count)
        .bind(doc.created_at.0)
        .bind(doc.updated_at.0)
        .bind(org.0)
        .bind(doc.chatbot.0)
        .bind(doc.id.0)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    index_passages(tx, doc).await
}

pub(crate) async fn create_document(
    s: &PgStore,
    org: OrgId,
    chatbot: ChatbotId,
    input: NewDocument,
) -> StoreResult<Document> {
    let mut tx = s.begin().await?;
    check_chatbot(&mut tx, org, chatbot).await?;
    let now = clock::now();
    let doc = Document {
        id: DocumentId::new(),
        chatbot,
        characters_count: input.content.chars().count() as i64,
        title: input.title,
        content: input.content,
        metadata: input.metadata,
        created_at: now,
        updated_at: now,
    };
    write_document(&mut tx, org, &doc, true).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(doc)
}

pub(crate) async fn get_document(
    conn: &mut PgConnection,
    org: OrgId,
    chatbot: ChatbotId,
    id: DocumentId,
    lock: bool,
) -> StoreResult<Document> {
    let sql = format!(
        "SELECT {COLS} FROM documents WHERE org_id = $1 AND chatbot_id = $2 AND id = $3{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.0)
        .bind(chatbot.0)
        .bind(id.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err)?;
    document_row(&row)
}

pub(crate) async fn list_documents(
    s: &PgStore,
    org: OrgId,
    chatbot: ChatbotId,
    page: PageRequest,
) -> StoreResult<NumberPage<Document>> {
    let mut conn = s.pool.acquire().await.map_err(map_err)?;
    check_chatbot(&mut conn, org, chatbot).await?;
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM documents WHERE org_id = $1 AND chatbot_id = $2")
            .bind(org.0)
            .bind(chatbot.0)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err)?;
    let sql = format!(
        "SELECT {COLS} FROM documents WHERE org_id = $1 AND chatbot_id = $2
         ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.0)
        .bind(chatbot.0)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err)?;
    Ok(NumberPage { count, items: rows.iter().map(document_row).collect::<StoreResult<_>>()? })
}

pub(crate) async fn update_document(
    s: &PgStore,
    org: OrgId,
    chatbot: ChatbotId,
    id: DocumentId,
    p: DocumentPatch,
) -> StoreResult<Document> {
    let mut tx = s.begin().await?;
    let mut doc = get_document(&mut tx, org, chatbot, id, true).await?;
    p.apply_to(&mut doc);
    doc.updated_at = clock::now();
    write_document(&mut tx, org, &doc, false).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(doc)
}

pub(crate) async fn delete_document(
    s: &PgStore,
    org: OrgId,
    chatbot: ChatbotId,
    id: DocumentId,
) -> StoreResult<()> {
    let done = sqlx::query("DELETE FROM documents WHERE org_id = $1 AND chatbot_id = $2 AND id = $3")
        .bind(org.0)
        .bind(chatbot.0)
        .bind(id.0)
        .execute(&s.pool)
        .await
        .map_err(map_err)?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub(crate) async fn search_passages(
    s: &PgStore,
    org: OrgId,
    chatbot: ChatbotId,
    query: &Query,
    metadata: Option<&JsonObject>,
    limit: usize,
) -> StoreResult<Vec<PassageHit>> {
    let Some(expr) = tsquery(query) else { return Ok(vec![]) };
    // Weights are {D, C, B, A}: a title (A) match counts twice a text (B) match.
    let mut q = QueryBuilder::<Postgres>::new(
        "SELECT p.id, p.document_id, d.title, d.characters_count, d.created_at, p.position, p.text, p.updated_at,
            ts_rank('{0.1, 0.2, 0.5, 1.0}', p.search_tsv, q.q)::float8 AS rank
         FROM passages p JOIN documents d ON d.id = p.document_id, to_tsquery('simple', ",
    );
    q.push_bind(expr)
        .push(") AS q(q) WHERE p.search_tsv @@ q.q AND p.chatbot_id = ")
        .push_bind(chatbot.0)
        .push(" AND d.org_id = ")
        .push_bind(org.0);
    for (key, value) in metadata.into_iter().flatten() {
        q.push(" AND jsonb_exists(d.metadata::jsonb, ")
            .push_bind(key.clone())
            .push(") AND (d.metadata::jsonb -> ")
            .push_bind(key.clone())
            .push(") = ")
            .push_bind(value.to_string())
            .push("::jsonb");
    }
    q.push(" ORDER BY rank DESC, p.id LIMIT ").push_bind(limit as i64);
    let rows = q.build().fetch_all(&s.pool).await.map_err(map_err)?;
    rows.iter()
        .map(|row| {
            Ok(PassageHit {
                id: get::<Uuid>(row, "id")?.into(),
                document: get::<Uuid>(row, "document_id")?.into(),
                document_title: get(row, "title")?,
                document_size: get(row, "characters_count")?,
                document_created_at: ts(row, "created_at")?,
                position: get(row, "position")?,
                text: get(row, "text")?,
                updated_at: ts(row, "updated_at")?,
                rank: get(row, "rank")?,
            })
        })
        .collect()
}

pub(crate) async fn passage_texts(
    s: &PgStore,
    org: OrgId,
    chatbot: ChatbotId,
) -> StoreResult<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT d.title, p.text FROM passages p JOIN documents d ON d.id = p.document_id
         WHERE p.chatbot_id = $1 AND d.org_id = $2",
    )
    .bind(chatbot.0)
    .bind(org.0)
    .fetch_all(&s.pool)
    .await
    .map_err(map_err)?;
    rows.iter().map(|r| Ok((get(r, "title")?, get(r, "text")?))).collect()
}
