//! The dataset in a PostgreSQL database of its own: the schema by the store's migrations,
//! then the messages by `COPY` in one transaction, with the normalized text the store writes
//! (`content_search`; the `tsvector` column is generated from it).
//!
//! The transaction drops the `messages` table's secondary indexes (the GIN keyword index
//! among them), copies the rows and builds the indexes again from the definitions the
//! database gave (`pg_get_indexdef`), as one builds an index after a bulk load: a build is
//! much faster than a million single insertions into a GIN index. Being one transaction, a
//! load that fails leaves the schema as it was. `VACUUM ANALYZE` follows, so the planner
//! has statistics and the visibility map is set, as on a database that has been running a
//! while (autovacuum would do both).
//!
//! The meta is kept in a table of the bench's in that database, `parlor_bench_dataset`. The
//! bench loads only into a database with no tables or one it loaded before (it wipes a stale
//! dataset of its own, never someone else's data), and never into the server's default
//! database `postgres`.

use super::{Generator, Meta, Row, Setup, setup};
use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use parlor_core::search::normalize;
use parlor_core::store::Store;
use parlor_store_postgres::PgStore;
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Executor};
use std::fmt::Write as _;
use std::time::Instant;

/// Rows per `COPY` statement (all in one transaction).
const BATCH: usize = 10_000;

/// The bench's own table: the meta of the dataset loaded, once the load has committed.
const META_TABLE: &str = "parlor_bench_dataset";

/// A loaded PostgreSQL dataset: the database URL (`parlor serve --database-url`) and meta.
pub(crate) struct PgDataset {
    pub(crate) url: String,
    pub(crate) meta: Meta,
}

/// Opens the dataset in the database at `url` when it has `messages` messages, else builds
/// it there.
pub(crate) async fn open_or_load(url: &str, messages: usize) -> anyhow::Result<PgDataset> {
    let mut conn = PgConnection::connect(url).await.context("connecting to PostgreSQL (--database-url)")?;
    let (name, ours, tables): (String, bool, i64) = sqlx::query_as(
        "SELECT current_database(), to_regclass($1) IS NOT NULL,
            (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema())",
    )
    .bind(META_TABLE)
    .fetch_one(&mut conn)
    .await?;
    // Checked before the store's migrations touch anything.
    if name == "postgres" || (!ours && tables > 0) {
        bail!(
            "--database-url names the database `{name}`, which {}: the bench loads a million \
             messages into the database it is given, so give it one of its own (e.g. `createdb \
             parlor_bench`)",
            if name == "postgres" {
                "is the server's default database"
            } else {
                "has tables the bench did not make"
            }
        );
    }
    let mut reuse = None;
    if ours {
        let sql = format!("SELECT meta::text FROM {META_TABLE}");
        let kept: Option<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_optional(&mut conn).await?;
        reuse = kept.and_then(|m| serde_json::from_str::<Meta>(&m).ok()).filter(|m| m.fits(messages));
        if reuse.is_none() {
            // Before the store opens: it would bring stale data up to date first.
            eprintln!("the PostgreSQL dataset in `{name}` is stale or incomplete: emptying it");
            wipe(&mut conn).await?;
        }
    } else {
        // Marks the database as the bench's before anything is written, so a load that stops
        // half-way is recognized (and wiped) by the next run.
        let sql = format!("CREATE TABLE {META_TABLE} (meta json NOT NULL)");
        conn.execute(sqlx::AssertSqlSafe(sql)).await?;
    }
    // Connecting the store brings the schema up to date, as `parlor serve` would.
    let store = PgStore::connect(url).await.context("connecting the store to PostgreSQL")?;
    if let Some(meta) = reuse {
        eprintln!("reusing the PostgreSQL dataset of {messages} messages in `{name}`");
        store.close().await;
        conn.close().await?;
        return Ok(PgDataset { url: url.to_string(), meta });
    }
    eprintln!("loading {messages} messages into `{name}` (once; later runs reuse it)");
    let started = Instant::now();
    let mut meta = load(&store, &mut conn, messages).await;
    store.close().await;
    if let Ok(meta) = &mut meta {
        meta.load_seconds = started.elapsed().as_secs_f64();
        let sql = format!("INSERT INTO {META_TABLE} (meta) VALUES ($1::json)");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(serde_json::to_string(meta)?).execute(&mut conn).await?;
        eprintln!("loaded in {:.0} s; vacuuming and analyzing", meta.load_seconds);
        conn.execute("VACUUM (ANALYZE)").await?;
    }
    conn.close().await?;
    Ok(PgDataset { url: url.to_string(), meta: meta? })
}

/// The server's version and the settings that weigh most on the figures, for the report.
pub(crate) async fn describe(url: &str) -> anyhow::Result<String> {
    let mut conn = PgConnection::connect(url).await?;
    let (version, buffers, commit): (String, String, String) = sqlx::query_as(
        "SELECT current_setting('server_version'), current_setting('shared_buffers'),
            current_setting('synchronous_commit')",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    Ok(format!("PostgreSQL {version} (shared_buffers {buffers}, synchronous_commit {commit})"))
}

/// Empties what the organizations hold (every tenant table reaches `organizations` by its
/// foreign keys) and the kept meta; the schema and its own bookkeeping (sqlx's migration
/// history, the search text's version) stay.
async fn wipe(conn: &mut PgConnection) -> anyhow::Result<()> {
    conn.execute("TRUNCATE organizations CASCADE").await?;
    conn.execute(sqlx::AssertSqlSafe(format!("DELETE FROM {META_TABLE}"))).await?;
    Ok(())
}

async fn load(store: &PgStore, conn: &mut PgConnection, messages: usize) -> anyhow::Result<Meta> {
    let mut setup = setup(store, messages).await?;
    let mut tx = conn.begin().await?;
    // The commit at the end is the only one; the index builds get memory to sort in.
    sqlx::raw_sql("SET LOCAL synchronous_commit = off; SET LOCAL maintenance_work_mem = '256MB'")
        .execute(&mut *tx)
        .await?;
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
         WHERE indrelid = 'messages'::regclass AND NOT indisunique",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (name, _) in &indexes {
        tx.execute(sqlx::AssertSqlSafe(format!("DROP INDEX {name}"))).await?;
    }
    let mut generator = Generator::new(messages, 0);
    let mut data = String::new();
    loop {
        let rows = generator.batch(&mut setup.convs, BATCH);
        if rows.is_empty() {
            break;
        }
        data.clear();
        for r in &rows {
            copy_row(&mut data, &setup, r);
        }
        let mut copy = tx
            .copy_in_raw(
                "COPY messages (id, org_id, conversation_id, kind, sender_type, sender, content,
                    content_payload, query_metadata, attachments, canvas, feedback, citations,
                    citation_nodes, metadata, created_at, content_search) FROM STDIN",
            )
            .await
            .context("copying messages (has the schema changed?)")?;
        copy.send(data.as_bytes()).await?;
        copy.finish().await?;
    }
    eprintln!("  building the messages' indexes");
    for (_, definition) in &indexes {
        tx.execute(sqlx::AssertSqlSafe(definition.clone())).await?;
    }
    finish_conversations(&mut tx, &setup).await?;
    tx.commit().await?;
    Ok(generator.meta(&setup))
}

/// One row in `COPY`'s text format: tab-separated, `\N` for NULL.
fn copy_row(out: &mut String, setup: &Setup, r: &Row) {
    let (sender, metadata) = r.sender_and_metadata(setup);
    let (id, org, conv) = (r.id.to_string(), setup.org.0.to_string(), setup.convs[r.conv].id.0.to_string());
    let (created_at, search) = (timestamp(r.created_at), normalize(&r.content));
    let fields: [Option<&str>; 17] = [
        Some(&id),
        Some(&org),
        Some(&conv),
        Some(if r.incoming { "incoming" } else { "outgoing" }),
        Some(if r.incoming { "contact" } else { "bot" }),
        Some(sender),
        Some(&r.content),
        None,
        None,
        Some("[]"),
        None,
        None,
        Some("[]"),
        Some("[]"),
        Some(metadata),
        Some(&created_at),
        Some(&search),
    ];
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        match field {
            None => out.push_str("\\N"),
            Some(text) => escape(out, text),
        }
    }
    out.push('\n');
}

/// Escapes what `COPY`'s text format gives a meaning: backslash, tab, newline, return.
fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// Microseconds since the epoch as a `timestamptz` literal.
fn timestamp(micros: i64) -> String {
    let t = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default();
    let mut s = String::with_capacity(32);
    let _ = write!(s, "{}", t.format("%Y-%m-%d %H:%M:%S%.6f+00"));
    s
}

/// Sets each conversation's derived state as the store keeps it (count, unread count, last
/// message, the title from its first incoming message and its indexed form), in one
/// statement over arrays.
async fn finish_conversations(conn: &mut PgConnection, setup: &Setup) -> anyhow::Result<()> {
    let mut cols = (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for c in &setup.convs {
        let (last_id, last_at) = c.last.context("every conversation has messages")?;
        let title = c.title.clone().unwrap_or_default();
        cols.0.push(c.id.0);
        cols.1.push(last_id);
        cols.2.push(DateTime::<Utc>::from_timestamp_micros(last_at).context("a message time")?);
        cols.3.push(c.count);
        cols.4.push(c.unread);
        cols.5.push(normalize(&title));
        cols.6.push(title);
    }
    sqlx::query(
        "UPDATE conversations c SET last_message_id = v.last_id, last_message_at = v.last_at,
            message_count = v.n, unread_count = v.unread, title = v.title,
            title_search = v.title_search, updated_at = v.last_at
         FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::int8[], $5::int8[], $6::text[], $7::text[])
            AS v(id, last_id, last_at, n, unread, title_search, title)
         WHERE c.id = v.id",
    )
    .bind(cols.0)
    .bind(cols.1)
    .bind(cols.2)
    .bind(cols.3)
    .bind(cols.4)
    .bind(cols.5)
    .bind(cols.6)
    .execute(conn)
    .await?;
    Ok(())
}

/// How many of the organization's messages and conversations contain `word` (as a prefix,
/// like the search).
pub(crate) async fn keyword_share(ds: &PgDataset, word: &str) -> anyhow::Result<(i64, i64)> {
    let mut conn = PgConnection::connect(&ds.url).await?;
    let row: (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT conversation_id) FROM messages
         WHERE org_id = $1 AND content_tsv @@ to_tsquery('simple', $2)",
    )
    .bind(ds.meta.org)
    .bind(format!("'{word}':*"))
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    Ok(row)
}
