//! Re-normalizing the indexed text when [`parlor_core::search::normalize`] changes.
//!
//! The `*_search` columns hold text normalized in Rust (their `tsvector`s are generated from
//! them), which SQL cannot recompute, so a database written by an older version of that code
//! is brought up to date here, once, when the store opens, with the contacts' folded search
//! text. One transaction, which first locks the version row: instances starting together
//! wait for the first one, then find the work done; a crash half-way leaves the old text and
//! version for the next start. `parlor_meta.search_text_version` (migration 0010) records
//! what the database holds.

use crate::{PgStore, map_err};
use parlor_core::error::StoreResult;
use parlor_core::model::contact_search_text;
use parlor_core::search::{TEXT_VERSION, normalize};
use sqlx::Row;
use sqlx::postgres::PgConnection;
use uuid::Uuid;

/// Rows read and written per statement.
const BATCH: i64 = 2000;

/// Re-normalizes everything indexed when the database's search text is older than this
/// code's [`TEXT_VERSION`]; otherwise one small query.
pub(crate) async fn renormalize_if_stale(s: &PgStore) -> StoreResult<()> {
    let mut tx = s.begin().await?;
    let version: i64 =
        sqlx::query_scalar("SELECT value FROM parlor_meta WHERE key = 'search_text_version' FOR UPDATE")
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
    if version >= TEXT_VERSION {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let messages =
        rewrite(&mut tx, "SELECT id, content FROM messages", "messages", &["content_search"], |t| {
            vec![normalize(&t[0])]
        })
        .await?;
    rewrite(&mut tx, "SELECT id, title FROM conversations", "conversations", &["title_search"], |t| {
        vec![normalize(&t[0])]
    })
    .await?;
    rewrite(
        &mut tx,
        "SELECT p.id, d.title, p.text FROM passages p JOIN documents d ON d.id = p.document_id",
        "passages",
        &["title_search", "text_search"],
        |t| vec![normalize(&t[0]), normalize(&t[1])],
    )
    .await?;
    rewrite(
        &mut tx,
        "SELECT id, name, coalesce(email, ''), coalesce(phone_number, '') FROM contacts",
        "contacts",
        &["search_folded"],
        |t| vec![contact_search_text(&t[0], Some(&t[1]), Some(&t[2]))],
    )
    .await?;
    sqlx::query("UPDATE parlor_meta SET value = $1 WHERE key = 'search_text_version'")
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

/// Reads `select` (the row's `id`, then text columns) in batches in id order, and sets
/// `columns` of `table` to `f` of each row's texts, a batch per statement (`UNNEST` of one
/// array per column). Returns how many rows it read.
async fn rewrite(
    tx: &mut PgConnection,
    select: &str,
    table: &str,
    columns: &[&str],
    f: impl Fn(&[String]) -> Vec<String>,
) -> StoreResult<usize> {
    let key = select.trim_start_matches("SELECT ").split(',').next().unwrap_or("id").trim();
    let read = format!("{select} WHERE {key} > $1 ORDER BY {key} LIMIT $2");
    let sets: Vec<String> = columns.iter().map(|c| format!("{c} = u.{c}")).collect();
    let arrays: Vec<String> = (0..columns.len()).map(|i| format!("${}::text[]", i + 2)).collect();
    let write = format!(
        "UPDATE {table} t SET {} FROM UNNEST($1::uuid[], {}) AS u(id, {}) WHERE t.id = u.id",
        sets.join(", "),
        arrays.join(", "),
        columns.join(", ")
    );
    let (mut after, mut total) = (Uuid::nil(), 0usize);
    loop {
        let rows = sqlx::query(sqlx::AssertSqlSafe(read.as_str()))
            .bind(after)
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
        if rows.is_empty() {
            return Ok(total);
        }
        total += rows.len();
        let mut ids = Vec::with_capacity(rows.len());
        let mut values: Vec<Vec<String>> = vec![Vec::with_capacity(rows.len()); columns.len()];
        for row in &rows {
            let id: Uuid = row.try_get(0).map_err(map_err)?;
            let texts = (1..row.len()).map(|i| row.try_get::<String, _>(i)).collect::<Result<Vec<_>, _>>();
            for (column, v) in values.iter_mut().zip(f(&texts.map_err(map_err)?)) {
                column.push(v);
            }
            ids.push(id);
            after = id;
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(write.as_str())).bind(ids);
        for column in values {
            q = q.bind(column);
        }
        q.execute(&mut *tx).await.map_err(map_err)?;
    }
}
