//! Re-normalizing the indexed text when [`parlor_core::search::normalize`] changes.
//!
//! The full-text indexes hold text normalized in Rust, which SQL cannot recompute, so a
//! database written by an older version of that code is brought up to date here, once, when
//! the store opens: every index is emptied and written again from the tables, and the
//! contacts' folded search text with it. One transaction: a crash half-way leaves the old
//! index and version, and the next start does it again. `parlor_meta.search_text_version`
//! (migration 0010) records what the database holds.

use crate::map_err;
use parlor_core::error::StoreResult;
use parlor_core::model::contact_search_text;
use parlor_core::search::{TEXT_VERSION, normalize};
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, QueryBuilder, Row, Sqlite};

/// Rows read and written per statement.
const BATCH: i64 = 2000;

/// Re-normalizes everything indexed when the database's search text is older than this
/// code's [`TEXT_VERSION`]; otherwise one small query.
pub(crate) async fn renormalize_if_stale(conn: &mut SqliteConnection) -> StoreResult<()> {
    let version: i64 = sqlx::query_scalar("SELECT value FROM parlor_meta WHERE key = 'search_text_version'")
        .fetch_one(&mut *conn)
        .await
        .map_err(map_err)?;
    if version >= TEXT_VERSION {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
    // The message index and the title index are contentless: 'delete-all' empties them.
    sqlx::query(
        "INSERT INTO message_index (message_index) VALUES ('delete-all');
         INSERT INTO conversation_title_fts (conversation_title_fts) VALUES ('delete-all');
         DELETE FROM passage_fts;",
    )
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    let messages = crate::message_index::fill(&mut tx).await?;
    each_batch(&mut tx, "SELECT seq, title FROM conversations", |batch| {
        let mut q = QueryBuilder::new("INSERT INTO conversation_title_fts (rowid, body) ");
        q.push_values(batch, |mut b, (seq, t)| {
            b.push_bind(seq).push_bind(normalize(&t[0]));
        });
        q
    })
    .await?;
    let passages = "SELECT p.seq, d.title, p.text FROM passages p JOIN documents d ON d.id = p.document_id";
    each_batch(&mut tx, passages, |batch| {
        let mut q = QueryBuilder::new("INSERT INTO passage_fts (rowid, title, text) ");
        q.push_values(batch, |mut b, (seq, t)| {
            b.push_bind(seq).push_bind(normalize(&t[0])).push_bind(normalize(&t[1]));
        });
        q
    })
    .await?;
    let contacts = "SELECT rowid, name, coalesce(email, ''), coalesce(phone_number, '') FROM contacts";
    each_batch(&mut tx, contacts, |batch| {
        let mut q = QueryBuilder::new("WITH v(k, folded) AS (");
        q.push_values(batch, |mut b, (rowid, t)| {
            b.push_bind(rowid).push_bind(contact_search_text(&t[0], Some(&t[1]), Some(&t[2])));
        });
        q.push(") UPDATE contacts SET search_folded = v.folded FROM v WHERE v.k = contacts.rowid");
        q
    })
    .await?;
    sqlx::query("UPDATE parlor_meta SET value = ? WHERE key = 'search_text_version'")
        .bind(TEXT_VERSION)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    tx.commit().await.map_err(map_err)?;
    // A new database (nothing to redo) says nothing.
    if messages > 0 {
        tracing::info!(from = version, to = TEXT_VERSION, messages, elapsed = ?started.elapsed(), "search text re-normalized");
    }
    Ok(())
}

/// Reads `select` (an integer key, then text columns) in batches in key order, and runs
/// the statement `write` makes of each batch of `(key, texts)`.
async fn each_batch(
    tx: &mut SqliteConnection,
    select: &str,
    write: impl Fn(Vec<(i64, Vec<String>)>) -> QueryBuilder<Sqlite>,
) -> StoreResult<()> {
    let key = select.trim_start_matches("SELECT ").split(',').next().unwrap_or("rowid").trim();
    let sql = format!("{select} WHERE {key} > ? ORDER BY {key} LIMIT ?");
    let mut after = i64::MIN;
    loop {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(after)
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::with_capacity(rows.len());
        for row in &rows {
            let key: i64 = row.try_get(0).map_err(map_err)?;
            let texts = (1..row.len()).map(|i| row.try_get::<String, _>(i)).collect::<Result<Vec<_>, _>>();
            batch.push((key, texts.map_err(map_err)?));
            after = key;
        }
        write(batch).build().execute(&mut *tx).await.map_err(map_err)?;
    }
}
