//! The dataset in a SQLite data dir: messages written a thousand rows to a transaction with
//! their FTS5 keyword-index rows, keyed as the store keys them.

use super::{Dataset, Generator, Meta, Row, Setup, setup};
use anyhow::Context;
use parlor_core::store::Store;
use parlor_store_sqlite::SqliteStore;
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use sqlx::{QueryBuilder, Sqlite};
use std::path::Path;
use std::time::Instant;

/// Rows per load transaction: 17 bound columns a row stays under SQLite's 32,766 variables.
const BATCH: usize = 1000;

/// Opens the dataset in `dir` when it has `messages` messages, else builds it there.
pub(crate) async fn open_or_load(dir: &Path, messages: usize) -> anyhow::Result<Dataset> {
    let meta_path = dir.join("dataset.json");
    if let Ok(text) = std::fs::read_to_string(&meta_path)
        && let Ok(meta) = serde_json::from_str::<Meta>(&text)
        && meta.fits(messages)
    {
        eprintln!("reusing the dataset of {messages} messages in {}", dir.display());
        return Ok(Dataset { dir: dir.to_path_buf(), meta });
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    eprintln!("loading {messages} messages into {} (once; later runs reuse it)", dir.display());
    let started = Instant::now();
    let mut meta = load(&dir.join("parlor.db"), messages).await?;
    meta.load_seconds = started.elapsed().as_secs_f64();
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta)?)?;
    eprintln!("loaded in {:.0} s", meta.load_seconds);
    Ok(Dataset { dir: dir.to_path_buf(), meta })
}

async fn load(db: &Path, messages: usize) -> anyhow::Result<Meta> {
    let store = SqliteStore::open(db).await?;
    let mut setup = setup(&store, messages).await?;
    store.close().await;

    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(parlor_store_sqlite::connect_options(db))
        .await?;
    for c in &mut setup.convs {
        c.seq = sqlx::query_scalar("SELECT seq FROM conversations WHERE id = ?")
            .bind(c.id.0)
            .fetch_one(&pool)
            .await?;
    }
    let seq: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM messages").fetch_one(&pool).await?;
    let mut generator = Generator::new(messages, seq);
    loop {
        let rows = generator.batch(&mut setup.convs, BATCH);
        if rows.is_empty() {
            break;
        }
        insert_batch(&pool, &setup, &rows).await?;
    }
    finish_conversations(&pool, &setup).await?;
    // Leave a small WAL behind, as a server that has been running a while would.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool).await?;
    pool.close().await;
    Ok(generator.meta(&setup))
}

/// Writes one batch of messages and their keyword-index rows in one transaction.
async fn insert_batch(pool: &SqlitePool, setup: &Setup, rows: &[Row]) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let mut q = QueryBuilder::<Sqlite>::new(
        "INSERT INTO messages (seq, id, org_id, conversation_id, kind, sender_type, sender, content,
            content_payload, query_metadata, attachments, canvas, feedback, citations, citation_nodes,
            metadata, created_at) ",
    );
    q.push_values(rows, |mut b, r| {
        let (sender, metadata) = r.sender_and_metadata(setup);
        b.push_bind(r.seq)
            .push_bind(r.id)
            .push_bind(setup.org.0)
            .push_bind(setup.convs[r.conv].id.0)
            .push_bind(if r.incoming { "incoming" } else { "outgoing" })
            .push_bind(if r.incoming { "contact" } else { "bot" })
            .push_bind(sender.to_string())
            .push_bind(r.content.clone())
            .push_bind(None::<String>)
            .push_bind(None::<String>)
            .push_bind("[]")
            .push_bind(None::<String>)
            .push_bind(None::<String>)
            .push_bind("[]")
            .push_bind("[]")
            .push_bind(metadata)
            .push_bind(r.created_at);
    });
    q.build().execute(&mut *tx).await.context("inserting messages (has the schema changed?)")?;
    // Keyed as the store keys them: (conversation seq << 32) | (message seq & 0xFFFFFFFF).
    let mut f = QueryBuilder::<Sqlite>::new("INSERT INTO message_index (rowid, body) ");
    f.push_values(rows, |mut b, r| {
        let key = (setup.convs[r.conv].seq << 32) | (r.seq & 0xFFFF_FFFF);
        b.push_bind(key).push_bind(parlor_core::search::normalize(&r.content));
    });
    f.build().execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets each conversation's derived state as the store keeps it: count, unread count, last
/// message, and the title taken from its first incoming message (and indexed).
async fn finish_conversations(pool: &SqlitePool, setup: &Setup) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    for c in &setup.convs {
        let (last_id, last_at) = c.last.context("every conversation has messages")?;
        let title = c.title.clone().unwrap_or_default();
        let seq: i64 = sqlx::query_scalar(
            "UPDATE conversations SET last_message_id = ?, last_message_at = ?, message_count = ?,
                unread_count = ?, title = ?, updated_at = ? WHERE id = ? RETURNING seq",
        )
        .bind(last_id)
        .bind(last_at)
        .bind(c.count)
        .bind(c.unread)
        .bind(&title)
        .bind(last_at)
        .bind(c.id.0)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO conversation_title_fts (rowid, body) VALUES (?, ?)")
            .bind(seq)
            .bind(parlor_core::search::normalize(&title))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// How many messages and conversations contain `word` (as a prefix, like the search).
pub(crate) async fn keyword_share(db: &Path, word: &str) -> anyhow::Result<(i64, i64)> {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(parlor_store_sqlite::connect_options(db).read_only(true))
        .await?;
    let row: (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT rowid >> 32) FROM message_index WHERE message_index MATCH ?",
    )
    .bind(format!("\"{word}\"*"))
    .fetch_one(&pool)
    .await?;
    pool.close().await;
    Ok(row)
}
