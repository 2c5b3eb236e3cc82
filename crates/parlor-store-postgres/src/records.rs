//! Question/answer records: the records list (a page with its total) and the export's keyset
//! batches (on one connection), each one query on `records_chatbot (chatbot_id, created_at,
//! id)`, plus folding
//! the text filters' columns of records written before they existed.
//!
//! Text filters look for the folded filter ([`RecordFilter::input_needle`]) with `strpos()`
//! in the folded columns: a plain substring test, the same as SQLite's `instr()`, with no
//! `ILIKE` wildcards to escape and no dependence on the database's locale.

use crate::rows::{get, ts};
use crate::{PgStore, map_err};
use parlor_core::StoreError;
use parlor_core::error::StoreResult;
use parlor_core::id::{ChatbotId, OrgId};
use parlor_core::input::RecordFilter;
use parlor_core::model::{Record, fold_case, reply_time_text};
use parlor_core::page::{NumberPage, PageRequest, Position};
use parlor_core::store::{RecordBatches, record_batches_with};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

const SELECT: &str = "SELECT r.id, r.input_message, r.condense_message, r.output_message, r.context,
    r.reply_time_ms, r.error, r.conversation_id, r.contact_id, r.user_message_id, r.finish_reason, r.kind,
    r.created_at FROM records r";

/// Records folded per transaction when catching up old rows.
const FOLD_BATCH: i64 = 500;

fn record_row(row: &PgRow) -> StoreResult<Record> {
    let id: Uuid = get(row, "id")?;
    Ok(Record {
        id: id.into(),
        input_message: get(row, "input_message")?,
        condense_message: get(row, "condense_message")?,
        output_message: get(row, "output_message")?,
        context: get(row, "context")?,
        // Answers are not evaluated (yet): the scores and their display twins stay null.
        faithfulness_score: None,
        answer_relevancy_score: None,
        context_precision_score: None,
        answer_correctness_score: None,
        answer_similarity_score: None,
        context_recall_score: None,
        display_faithfulness_score: None,
        display_answer_relevancy_score: None,
        display_context_precision_score: None,
        display_answer_correctness_score: None,
        display_answer_similarity_score: None,
        display_context_recall_score: None,
        reply_time: Some(reply_time_text(get(row, "reply_time_ms")?)),
        created_at: ts(row, "created_at")?,
        error: get(row, "error")?,
        conversation: get::<Uuid>(row, "conversation_id")?.into(),
        contact: get::<Option<Uuid>>(row, "contact_id")?.map(Into::into),
        user_message_id: get::<Uuid>(row, "user_message_id")?.into(),
        bot_message_id: id.into(),
        finish_reason: get(row, "finish_reason")?,
        kind: get(row, "kind")?,
    })
}

/// The filter's conditions on `r`, after the chatbot's. With `after` (a keyset batch), the
/// range ends there rather than at `until`: `after` is a row of the range, so the result is
/// the same, and the index scan then starts at `after` instead of walking down from `until`
/// past every earlier batch.
fn push_filter(q: &mut QueryBuilder<Postgres>, f: &RecordFilter, after: Option<Position>) {
    q.push(" AND r.created_at >= ").push_bind(f.from.0);
    match after {
        Some(p) => q
            .push(" AND (r.created_at, r.id) < (")
            .push_bind(p.created_at.0)
            .push(", ")
            .push_bind(p.id)
            .push(")"),
        None => q.push(" AND r.created_at < ").push_bind(f.until.0),
    };
    if let Some(needle) = f.input_needle() {
        q.push(" AND strpos(r.input_folded, ").push_bind(needle).push(") > 0");
    }
    if let Some(needle) = f.output_needle() {
        q.push(" AND strpos(r.output_folded, ").push_bind(needle).push(") > 0");
    }
}

pub(crate) async fn list_records(
    s: &PgStore,
    org: OrgId,
    chatbot: ChatbotId,
    filter: &RecordFilter,
    page: PageRequest,
) -> StoreResult<NumberPage<Record>> {
    // The total and the chatbot's existence in one statement: no row means no such chatbot
    // in this organization. Without text filters the count can read the index alone.
    let mut q = QueryBuilder::<Postgres>::new("SELECT (SELECT count(*) FROM records r WHERE r.chatbot_id = ");
    q.push_bind(chatbot.0);
    push_filter(&mut q, filter, None);
    q.push(") FROM chatbots WHERE org_id = ").push_bind(org.0).push(" AND id = ").push_bind(chatbot.0);
    let count: i64 =
        q.build_query_scalar().fetch_optional(&s.pool).await.map_err(map_err)?.ok_or(StoreError::NotFound)?;
    if count <= page.offset() {
        return Ok(NumberPage { count, items: vec![] });
    }
    // No `org_id` test here: the count above found the chatbot in this organization, and a
    // chatbot never changes organization. Testing it would read every row an OFFSET skips
    // (SQLite can skip on the index alone): 0.6 s instead of 45 ms for a page behind 800,000.
    let mut q = QueryBuilder::<Postgres>::new(SELECT);
    q.push(" WHERE r.chatbot_id = ").push_bind(chatbot.0);
    push_filter(&mut q, filter, None);
    q.push(" ORDER BY r.created_at DESC, r.id DESC LIMIT ").push_bind(page.limit());
    q.push(" OFFSET ").push_bind(page.offset());
    let rows = q.build().fetch_all(&s.pool).await.map_err(map_err)?;
    let items = rows.iter().map(record_row).collect::<StoreResult<Vec<_>>>()?;
    Ok(NumberPage { count, items })
}

/// An export's reader: the connection it holds between batches (taken at the first).
struct Reader {
    pool: PgPool,
    conn: Option<PoolConnection<Postgres>>,
    org: OrgId,
    chatbot: ChatbotId,
    filter: RecordFilter,
}

/// [`Store::record_batches`]: one keyset query a batch, on one pooled connection.
///
/// [`Store::record_batches`]: parlor_core::store::Store::record_batches
pub(crate) fn record_batches(
    s: &PgStore,
    org: OrgId,
    chatbot: ChatbotId,
    filter: RecordFilter,
    limit: usize,
) -> RecordBatches {
    let reader = Reader { pool: s.pool.clone(), conn: None, org, chatbot, filter };
    record_batches_with(reader, limit, |mut r, after, limit| async move {
        let conn = match &mut r.conn {
            Some(conn) => conn,
            None => r.conn.insert(r.pool.acquire().await.map_err(map_err)?),
        };
        let mut q = QueryBuilder::<Postgres>::new(SELECT);
        q.push(" WHERE r.chatbot_id = ").push_bind(r.chatbot.0).push(" AND r.org_id = ").push_bind(r.org.0);
        push_filter(&mut q, &r.filter, after);
        q.push(" ORDER BY r.created_at DESC, r.id DESC LIMIT ")
            .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = q.build().fetch_all(&mut **conn).await.map_err(map_err)?;
        let batch = rows.iter().map(record_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((r, batch))
    })
}

/// Fills the folded columns of records written before migration 0005, a batch per
/// transaction. Finds them through the partial index `records_unfolded`, so when there are
/// none (every start after the first) this is one index probe. `SKIP LOCKED`: instances
/// starting together share the work instead of waiting on each other's rows.
pub(crate) async fn fold_old_records(s: &PgStore) -> StoreResult<()> {
    loop {
        let mut tx = s.begin().await?;
        let rows = sqlx::query(
            "SELECT id, input_message, output_message FROM records WHERE input_folded IS NULL
             LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(FOLD_BATCH)
        .fetch_all(&mut *tx)
        .await
        .map_err(map_err)?;
        for row in &rows {
            sqlx::query("UPDATE records SET input_folded = $1, output_folded = $2 WHERE id = $3")
                .bind(fold_case(&get::<String>(row, "input_message")?))
                .bind(fold_case(&get::<String>(row, "output_message")?))
                .bind(get::<Uuid>(row, "id")?)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        if (rows.len() as i64) < FOLD_BATCH {
            return Ok(());
        }
    }
}
