//! The webhook outbox and its log: deliveries written with the reply they carry, claimed by
//! the delivery worker with a lease, and every try recorded with the delivery's next state in
//! one transaction (so a delivery recorded as delivered is never claimed again).

use crate::rows::{get, ts};
use crate::{PgStore, Tx, map_err};
use parlor_core::StoreError;
use parlor_core::clock::{self, Timestamp};
use parlor_core::error::StoreResult;
use parlor_core::id::{ChatbotId, MessageId, OrgId, WebhookDeliveryId, WebhookRecordId};
use parlor_core::model::*;
use parlor_core::page::{NumberPage, PageRequest};
use sqlx::postgres::PgRow;
use std::time::Duration;
use uuid::Uuid;

/// Writes the delivery of `reply` (the answer to `question`) when the chatbot has a webhook
/// and the question was an incoming message; part of the transaction completing the reply.
pub(crate) async fn queue_delivery(
    tx: &mut Tx,
    org: OrgId,
    chatbot: ChatbotId,
    question: MessageId,
    reply: &Message,
) -> StoreResult<()> {
    let body = serde_json::to_string(reply).map_err(|e| StoreError::Backend(e.to_string()))?;
    let now = clock::now().0;
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, org_id, chatbot_id, message_id, body, state, attempts,
            next_attempt_at, created_at, updated_at)
         SELECT $1, org_id, id, $2, $3, 'pending', 0, $4, $4, $4 FROM chatbots
         WHERE org_id = $5 AND id = $6 AND webhook_url IS NOT NULL
           AND EXISTS (SELECT 1 FROM messages WHERE id = $7 AND kind = 'incoming')",
    )
    .bind(WebhookDeliveryId::new().0)
    .bind(reply.id.0)
    .bind(body)
    .bind(now)
    .bind(org.0)
    .bind(chatbot.0)
    .bind(question.0)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

pub(crate) async fn claim(
    s: &PgStore,
    now: Timestamp,
    lease: Duration,
    limit: usize,
) -> StoreResult<Vec<WebhookDelivery>> {
    // SKIP LOCKED: instances claiming at once each take other rows, none waits for another.
    let mut tx = s.begin().await?;
    let rows = sqlx::query(
        "SELECT d.id, d.org_id, d.chatbot_id, d.message_id, d.body, d.attempts::bigint AS attempts,
            c.webhook_url, c.webhook_secret
         FROM webhook_deliveries d JOIN chatbots c ON c.id = d.chatbot_id
         WHERE d.state = 'pending' AND d.next_attempt_at <= $1
         ORDER BY d.next_attempt_at, d.id LIMIT $2
         FOR UPDATE OF d SKIP LOCKED",
    )
    .bind(now.0)
    .bind(limit as i64)
    .fetch_all(&mut *tx)
    .await
    .map_err(map_err)?;
    let until = now.plus(lease).0;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let d = delivery_row(r)?;
        sqlx::query("UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2")
            .bind(until)
            .bind(d.id.0)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        out.push(d);
    }
    tx.commit().await.map_err(map_err)?;
    Ok(out)
}

fn delivery_row(r: &PgRow) -> StoreResult<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: get::<Uuid>(r, "id")?.into(),
        org: get::<Uuid>(r, "org_id")?.into(),
        chatbot: get::<Uuid>(r, "chatbot_id")?.into(),
        message: get::<Uuid>(r, "message_id")?.into(),
        body: get(r, "body")?,
        attempts: get(r, "attempts")?,
        url: get(r, "webhook_url")?,
        secret: get::<Option<String>>(r, "webhook_secret")?.map(WebhookSecret),
    })
}

pub(crate) async fn record_try(s: &PgStore, t: WebhookTry) -> StoreResult<()> {
    let now = clock::now();
    let mut tx = s.begin().await?;
    if let Some(r) = &t.record {
        sqlx::query(
            "INSERT INTO webhook_records (id, org_id, chatbot_id, delivery_id, message_id, url, request_body,
                response, status_code, error, attempt, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(WebhookRecordId::new().0)
        .bind(r.org.0)
        .bind(r.chatbot.0)
        .bind(t.delivery.0)
        .bind(r.message.0)
        .bind(&r.url)
        .bind(&r.request_body)
        .bind(&r.response)
        .bind(r.status_code.map(|c| c as i32))
        .bind(&r.error)
        .bind(r.attempt as i32)
        .bind(now.0)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
    }
    let (state, next) = match t.next {
        DeliveryNext::Delivered => ("delivered", now),
        DeliveryNext::RetryAt(at) => ("pending", at),
        DeliveryNext::GiveUp => ("failed", now),
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET state = $1, next_attempt_at = $2, updated_at = $3,
            attempts = attempts + $4
         WHERE id = $5 AND state = 'pending'",
    )
    .bind(state)
    .bind(next.0)
    .bind(now.0)
    .bind(i32::from(t.record.is_some()))
    .bind(t.delivery.0)
    .execute(&mut *tx)
    .await
    .map_err(map_err)?;
    tx.commit().await.map_err(map_err)?;
    Ok(())
}

pub(crate) async fn next_due(s: &PgStore) -> StoreResult<Option<Timestamp>> {
    let at: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT min(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'")
            .fetch_one(&s.pool)
            .await
            .map_err(map_err)?;
    Ok(at.map(Into::into))
}

pub(crate) async fn list_records(
    s: &PgStore,
    org: OrgId,
    chatbot: ChatbotId,
    page: PageRequest,
) -> StoreResult<NumberPage<WebhookRecord>> {
    crate::chatbots::get_chatbot(&s.pool, org, chatbot).await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_records WHERE chatbot_id = $1")
        .bind(chatbot.0)
        .fetch_one(&s.pool)
        .await
        .map_err(map_err)?;
    let rows = sqlx::query(
        "SELECT id, chatbot_id, message_id, url, request_body, response, status_code::bigint AS status_code, error,
            attempt::bigint AS attempt, created_at
         FROM webhook_records WHERE chatbot_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(chatbot.0)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&s.pool)
    .await
    .map_err(map_err)?;
    let items = rows
        .iter()
        .map(|r| {
            let body: String = get(r, "request_body")?;
            Ok(WebhookRecord {
                id: get::<Uuid>(r, "id")?.into(),
                chatbot: get::<Uuid>(r, "chatbot_id")?.into(),
                url: get(r, "url")?,
                // Stored as sent; shown as the JSON it is (a body that does not parse, which
                // Parlor never sends, would show as a string).
                request_body: serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
                response: get(r, "response")?,
                status_code: get(r, "status_code")?,
                created_at: ts(r, "created_at")?,
                message: get::<Uuid>(r, "message_id")?.into(),
                attempt: get(r, "attempt")?,
                error: get(r, "error")?,
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok(NumberPage { count, items })
}
