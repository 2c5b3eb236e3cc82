//! The delivery worker: claims due deliveries from the outbox, POSTs them, records each try.
//!
//! One per server, started by [`crate::app::serve`]. It sleeps until the next delivery is
//! due, a reply of a chatbot with a webhook completes ([`super::Webhooks::wake`]) or
//! [`super::WebhookConfig::poll`] passes, whichever is first. Claims are leases in the database (`FOR UPDATE SKIP LOCKED`
//! on PostgreSQL), so instances sharing a database each take different deliveries. On
//! shutdown it claims no more and lets the tries in flight finish (each is bounded by the
//! timeout); anything left is sent by the next start.

use super::{DELIVERY_HEADER, SIGNATURE_HEADER, Webhooks, sign};
use crate::app::AppState;
use parlor_core::clock;
use parlor_core::model::{DeliveryNext, NewWebhookRecord, WebhookDelivery, WebhookTry};
use parlor_core::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Runs until the server shuts down.
pub async fn run(state: AppState) {
    let hooks = state.webhooks.clone();
    let config = hooks.config.clone();
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut in_flight = JoinSet::new();
    loop {
        if state.shutdown.is_cancelled() {
            break;
        }
        while in_flight.try_join_next().is_some() {}
        let free = slots.available_permits();
        let claimed = if free == 0 {
            Vec::new()
        } else {
            match state.store.claim_webhook_deliveries(clock::now(), config.lease(), free).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "webhooks: could not claim deliveries");
                    Vec::new()
                }
            }
        };
        let full = free > 0 && claimed.len() == free;
        for delivery in claimed {
            let Ok(permit) = slots.clone().try_acquire_owned() else { break };
            let (store, hooks) = (state.store.clone(), hooks.clone());
            in_flight.spawn(async move {
                attempt(store.as_ref(), &hooks, delivery).await;
                drop(permit);
            });
        }
        if full {
            // More may be due: claim again as soon as a slot frees.
            tokio::select! {
                _ = in_flight.join_next() => {}
                _ = state.shutdown.cancelled() => {}
            }
            continue;
        }
        let wait = match state.store.next_webhook_due().await {
            Ok(Some(at)) => (at.0 - clock::now().0).to_std().unwrap_or(Duration::ZERO).min(config.poll),
            Ok(None) => config.poll,
            Err(e) => {
                tracing::warn!(error = %e, "webhooks: could not read the next due delivery");
                config.poll
            }
        };
        if wait.is_zero() && slots.available_permits() > 0 {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = hooks.wake.notified() => {}
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            _ = state.shutdown.cancelled() => {}
        }
    }
    while in_flight.join_next().await.is_some() {}
}

/// One try of `d`: POST, then record it with the delivery's next state.
async fn attempt(store: &dyn Store, hooks: &Webhooks, d: WebhookDelivery) {
    let config = &hooks.config;
    let attempt = d.attempts + 1;
    let mut record = NewWebhookRecord {
        org: d.org,
        chatbot: d.chatbot,
        message: d.message,
        url: d.url.clone().unwrap_or_default(),
        request_body: d.body.clone(),
        response: None,
        status_code: None,
        error: None,
        attempt,
    };
    let next = match (&d.url, &d.secret) {
        // The webhook was unset since the reply: nothing to send, nothing to record.
        (None, _) => {
            finish(store, WebhookTry { delivery: d.id, record: None, next: DeliveryNext::GiveUp }).await;
            return;
        }
        (Some(url), _) if !(url.starts_with("http://") || url.starts_with("https://")) => {
            record.error = Some("webhookUrl is not an http(s) URL".into());
            DeliveryNext::GiveUp
        }
        // A literal address of the local network stays refused: no retry changes it.
        (Some(url), _) if let Some(why) = refused(hooks, url) => {
            record.error = Some(why);
            DeliveryNext::GiveUp
        }
        // Only chatbots whose URL was set before webhooks were signed can lack a key.
        (Some(_), None) => {
            record.error = Some("the chatbot has no webhook secret: set webhookUrl again to get one".into());
            DeliveryNext::GiveUp
        }
        (Some(url), Some(secret)) => {
            let sent = hooks
                .client
                .post(url)
                .timeout(config.timeout)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, sign(secret, d.body.as_bytes()))
                .header(DELIVERY_HEADER, d.id.to_string())
                .body(d.body.clone())
                .send()
                .await;
            let ok = match sent {
                Ok(resp) => {
                    let status = resp.status();
                    record.status_code = Some(i64::from(status.as_u16()));
                    match read_cut(resp, config.max_response_bytes).await {
                        Ok(body) => record.response = Some(body),
                        Err(e) => record.error = Some(describe(&e)),
                    }
                    status.is_success()
                }
                Err(e) => {
                    record.error = Some(describe(&e));
                    false
                }
            };
            if ok {
                DeliveryNext::Delivered
            } else if attempt >= config.max_attempts {
                DeliveryNext::GiveUp
            } else {
                DeliveryNext::RetryAt(clock::now().plus(config.backoff(attempt)))
            }
        }
    };
    if next == DeliveryNext::GiveUp {
        tracing::warn!(delivery = %d.id, attempt, error = ?record.error, "webhooks: giving up on a delivery");
    }
    finish(store, WebhookTry { delivery: d.id, record: Some(record), next }).await;
}

/// Why `url` may not be delivered to, when its host is a literal local network address and
/// the server does not allow those (host names are checked as they resolve).
fn refused(hooks: &Webhooks, url: &str) -> Option<String> {
    if hooks.config.allow_local_network {
        return None;
    }
    super::guard::refuse_literal(&url.parse().ok()?)
}

async fn finish(store: &dyn Store, t: WebhookTry) {
    let id = t.delivery;
    if let Err(e) = store.record_webhook_try(t).await {
        // The lease runs out and the delivery is tried again: sent twice at worst, never lost.
        tracing::warn!(error = %e, delivery = %id, "webhooks: could not record a try");
    }
}

/// Reads at most `max` bytes of the response body (a receiver may answer with megabytes),
/// as text, cut at a character boundary.
async fn read_cut(mut resp: reqwest::Response, max: usize) -> reqwest::Result<String> {
    let mut buf = Vec::new();
    while buf.len() < max {
        match resp.chunk().await? {
            Some(chunk) => buf.extend_from_slice(&chunk[..chunk.len().min(max - buf.len())]),
            None => break,
        }
    }
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    // A multi-byte character cut at the end shows as one replacement character; drop it.
    if buf.len() >= max && text.ends_with('\u{FFFD}') {
        text.pop();
    }
    Ok(text)
}

/// Why a try got no (complete) response, in a few words for its record.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("could not connect: {}", root_cause(e))
    } else {
        root_cause(e)
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut e = e;
    while let Some(next) = e.source() {
        e = next;
    }
    e.to_string()
}
