//! Knowledge documents, their passages, and passage retrieval with FTS5's BM25.

use crate::rows::{get, json, to_json, ts};
use crate::search::fts5_match;
use crate::{SqliteStore, Tx, map_err};
use parlor_core::StoreError;
use parlor_core::clock;
use parlor_core::error::StoreResult;
use parlor_core::id::{ChatbotId, DocumentId, OrgId, PassageId};
use parlor_core::input::{DocumentPatch, NewDocument};
use parlor_core::knowledge::split_passages;
use parlor_core::model::{Document, JsonObject, PassageHit};
use parlor_core::page::{NumberPage, PageRequest};
use parlor_core::search::{Query, normalize};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{QueryBuilder, Sqlite};
use uuid::Uuid;

const COLS: &str = "id, chatbot_id, title, content, metadata, characters_count, created_at, updated_at";

fn document_row(row: &SqliteRow) -> StoreResult<Document> {
    Ok(Document {
        id: get::<Uuid>(row, "id")?.into(),
        chatbot: get::<Uuid>(row, "chatbot_id")?.into(),
        title: get(row, "title")?,
        content: get(row, "content")?,
        metadata: json(&get::<String>(row, "metadata")?)?,
        characters_count: get(row, "characters_count")?,
        created_at: ts(get(row, "created_at")?),
        updated_at: ts(get(row, "updated_at")?),
    })
}

/// The chatbot must be the organization's; a missing one is `NotFound` (it is in the path).
async fn check_chatbot(conn: &mut SqliteConnection, org: OrgId, chatbot: ChatbotId) -> StoreResult<()> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM chatbots WHERE org_id = ? AND id = ?")
        .bind(org.0)
        .bind(chatbot.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(map_err)?;
    found.map(|_| ()).ok_or(StoreError::NotFound)
}

/// Replaces a document's passages and their index entries.
async fn index_passages(tx: &mut Tx, doc: &Document) -> StoreResult<()> {
    sqlx::query("DELETE FROM passages WHERE document_id = ?")
        .bind(doc.id.0)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    let title = normalize(&doc.title);
    for (position, text) in split_passages(&doc.title, &doc.content).into_iter().enumerate() {
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO passages (id, document_id, chatbot_id, position, text, updated_at)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
        )
        .bind(PassageId::new().0)
        .bind(doc.id.0)
        .bind(doc.chatbot.0)
        .bind(position as i64)
        .bind(&text)
        .bind(doc.updated_at.micros())
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
        sqlx::query("INSERT INTO passage_fts (rowid, title, text) VALUES (?, ?, ?)")
            .bind(seq)
            .bind(&title)
            .bind(normalize(&text))
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
    }
    Ok(())
}

async fn write_document(tx: &mut Tx, org: OrgId, doc: &Document, insert: bool) -> StoreResult<()> {
    let sql = if insert {
        "INSERT INTO documents (title, content, metadata, characters_count, created_at, updated_at, org_id, chatbot_id, id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    } else {
        "UPDATE documents SET title = ?, content = ?, metadata = ?, characters_count = ?, created_at = ?, updated_at = ?
         WHERE org_id = ? AND chatbot_id = ? AND id = ?"
    };
    sqlx::query(sql)
        .bind(&doc.title)
        .bind(&doc.content)
        .bind(to_json(&doc.metadata))
        .bind(doc.characters_count)
        .bind(doc.created_at.micros())
        .bind(doc.updated_at.micros())
        .bind(org.0)
        .bind(doc.chatbot.0)
        .bind(doc.id.0)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?;
    index_passages(tx, doc).await
}

pub(crate) async fn create_document(
    s: &SqliteStore,
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
    conn: &mut SqliteConnection,
    org: OrgId,
    chatbot: ChatbotId,
    id: DocumentId,
) -> StoreResult<Document> {
    let sql = format!("SELECT {COLS} FROM documents WHERE org_id = ? AND chatbot_id = ? AND id = ?");
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
    s: &SqliteStore,
    org: OrgId,
    chatbot: ChatbotId,
    page: PageRequest,
) -> StoreResult<NumberPage<Document>> {
    let mut conn = s.read.acquire().await.map_err(map_err)?;
    check_chatbot(&mut conn, org, chatbot).await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM documents WHERE org_id = ? AND chatbot_id = ?")
        .bind(org.0)
        .bind(chatbot.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err)?;
    let sql = format!(
        "SELECT {COLS} FROM documents WHERE org_id = ? AND chatbot_id = ?
         ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
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
    s: &SqliteStore,
    org: OrgId,
    chatbot: ChatbotId,
    id: DocumentId,
    p: DocumentPatch,
) -> StoreResult<Document> {
    let mut tx = s.begin().await?;
    let mut doc = get_document(&mut tx, org, chatbot, id).await?;
    p.apply_to(&mut doc);
    doc.updated_at = clock::now();
    write_document(&mut tx, org, &doc, false).await?;
    tx.commit().await.map_err(map_err)?;
    Ok(doc)
}

pub(crate) async fn delete_document(
    s: &SqliteStore,
    org: OrgId,
    chatbot: ChatbotId,
    id: DocumentId,
) -> StoreResult<()> {
    let done = sqlx::query("DELETE FROM documents WHERE org_id = ? AND chatbot_id = ? AND id = ?")
        .bind(org.0)
        .bind(chatbot.0)
        .bind(id.0)
        .execute(&s.write)
        .await
        .map_err(map_err)?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// A JSON path selecting one top-level key, quoted so any key is safe.
fn json_key_path(key: &str) -> String {
    format!("$.\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
}

pub(crate) async fn search_passages(
    s: &SqliteStore,
    org: OrgId,
    chatbot: ChatbotId,
    query: &Query,
    metadata: Option<&JsonObject>,
    limit: usize,
) -> StoreResult<Vec<PassageHit>> {
    let Some(expr) = fts5_match(query) else { return Ok(vec![]) };
    let mut q = QueryBuilder::<Sqlite>::new(
        "SELECT p.id, p.document_id, d.title, d.characters_count, d.created_at, p.position, p.text, p.updated_at,
            -bm25(passage_fts, 2.0, 1.0) AS rank
         FROM passage_fts f JOIN passages p ON p.seq = f.rowid JOIN documents d ON d.id = p.document_id
         WHERE passage_fts MATCH ",
    );
    q.push_bind(expr)
        .push(" AND p.chatbot_id = ")
        .push_bind(chatbot.0)
        .push(" AND d.org_id = ")
        .push_bind(org.0);
    for (key, value) in metadata.into_iter().flatten() {
        // json_extract gives SQL values for scalars and JSON text for the rest, for both
        // sides alike, so `IS` compares them exactly (and null with null).
        q.push(" AND json_extract(d.metadata, ")
            .push_bind(json_key_path(key))
            .push(") IS json_extract(")
            .push_bind(value.to_string())
            .push(", '$')")
            .push(" AND json_type(d.metadata, ")
            .push_bind(json_key_path(key))
            .push(") IS NOT NULL");
    }
    q.push(" ORDER BY bm25(passage_fts, 2.0, 1.0) LIMIT ").push_bind(limit as i64);
    let rows = q.build().fetch_all(&s.read).await.map_err(map_err)?;
    rows.iter()
        .map(|row| {
            Ok(PassageHit {
                id: get::<Uuid>(row, "id")?.into(),
                document: get::<Uuid>(row, "document_id")?.into(),
                document_title: get(row, "title")?,
                document_size: get(row, "characters_count")?,
                document_created_at: ts(get(row, "created_at")?),
                position: get(row, "position")?,
                text: get(row, "text")?,
                updated_at: ts(get(row, "updated_at")?),
                rank: get(row, "rank")?,
            })
        })
        .collect()
}

pub(crate) async fn passage_texts(
    s: &SqliteStore,
    org: OrgId,
    chatbot: ChatbotId,
) -> StoreResult<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT d.title, p.text FROM passages p JOIN documents d ON d.id = p.document_id
         WHERE p.chatbot_id = ? AND d.org_id = ?",
    )
    .bind(chatbot.0)
    .bind(org.0)
    .fetch_all(&s.read)
    .await
    .map_err(map_err)?;
    rows.iter().map(|r| Ok((get(r, "title")?, get(r, "text")?))).collect()
}
