//! The event bus across instances: PostgreSQL LISTEN/NOTIFY.
//!
//! Each instance publishes through one task that sends `pg_notify` on one connection, so its
//! events arrive everywhere in the order it published them (notifications from different
//! sessions have no order between them, but one conversation's reply comes from one
//! instance). Each instance also LISTENs on one connection and rebroadcasts what arrives,
//! its own events included, to its local subscribers. A payload over NOTIFY's limit (8000
//! bytes) travels as a reference, and the listener reads the message from the database.

use futures::StreamExt;
use futures::stream::BoxStream;
use parlor_core::events::{Envelope, EventBus, Lagged, LiveEvent};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::BroadcastStream;

const CHANNEL: &str = "parlor_events";
/// NOTIFY payloads must stay under 8000 bytes.
const MAX_PAYLOAD: usize = 7900;
/// Events a local subscriber may fall behind before it must resynchronize.
const CAPACITY: usize = 4096;

/// What travels in a NOTIFY payload.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Wire {
    Full(Envelope),
    /// A message too large for a payload: its ids only.
    Ref {
        org: uuid::Uuid,
        conversation: uuid::Uuid,
        message: uuid::Uuid,
    },
}

/// LISTEN/NOTIFY fan-out.
#[derive(Debug)]
pub(crate) struct PgBus {
    local: broadcast::Sender<Envelope>,
    outbox: mpsc::UnboundedSender<String>,
    /// The publishing and listening tasks; each holds a pooled connection, so they must end
    /// before the pool can close.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl PgBus {
    /// Starts the publishing and listening tasks; they end when the pool closes.
    pub(crate) fn start(pool: PgPool) -> PgBus {
        let (local, _) = broadcast::channel(CAPACITY);
        let (outbox, rx) = mpsc::unbounded_channel();
        let tasks = vec![
            tokio::spawn(publish_loop(pool.clone(), rx)),
            tokio::spawn(listen_loop(pool, local.clone())),
        ];
        PgBus { local, outbox, tasks }
    }

    /// Ends both tasks, returning their connections to the pool (which `close` waits for).
    pub(crate) fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn publish_loop(pool: PgPool, mut rx: mpsc::UnboundedReceiver<String>) {
    let mut conn = None;
    while let Some(payload) = rx.recv().await {
        // One connection, reacquired after an error, keeps this instance's order.
        for _ in 0..3 {
            if conn.is_none() {
                conn = pool.acquire().await.ok();
            }
            let Some(c) = conn.as_mut() else {
                if pool.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            match sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(&payload).execute(&mut **c).await
            {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "NOTIFY failed; retrying on a new connection");
                    conn = None;
                }
            }
        }
    }
}

async fn listen_loop(pool: PgPool, local: broadcast::Sender<Envelope>) {
    loop {
        if pool.is_closed() {
            return;
        }
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN connection failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    if let Some(env) = decode(&pool, n.payload()).await {
                        let _ = local.send(env);
                    }
                }
                // The connection was lost; PgListener reconnects on the next call, but what
                // was sent meanwhile is gone: subscribers must resynchronize. A dropped
                // sender cannot be signalled per subscriber, so the bus drops its backlog by
                // sending nothing; subscribers notice through event-id gaps.
                Ok(None) => tracing::warn!("LISTEN connection lost; reconnecting"),
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN failed");
                    break;
                }
            }
        }
    }
}

async fn decode(pool: &PgPool, payload: &str) -> Option<Envelope> {
    match serde_json::from_str::<Wire>(payload) {
        Ok(Wire::Full(env)) => Some(env),
        Ok(Wire::Ref { org, conversation, message }) => {
            let m = crate::messages::get_message(pool, org.into(), message.into(), None).await.ok()?;
            Some(Envelope {
                org: org.into(),
                conversation: conversation.into(),
                event: LiveEvent::Message { message: Box::new(m) },
            })
        }
        Err(e) => {
            tracing::warn!(error = %e, "undecodable NOTIFY payload");
            None
        }
    }
}

#[async_trait::async_trait]
impl EventBus for PgBus {
    async fn publish(&self, event: Envelope) {
        let payloads = match serde_json::to_string(&event) {
            Ok(p) if p.len() <= MAX_PAYLOAD => vec![p],
            Ok(_) => oversize(event),
            Err(_) => return,
        };
        for p in payloads {
            let _ = self.outbox.send(p);
        }
    }

    fn subscribe(&self) -> BoxStream<'static, Result<Envelope, Lagged>> {
        BroadcastStream::new(self.local.subscribe()).map(|r| r.map_err(|_| Lagged)).boxed()
    }
}

/// Splits an event too large for one payload: a message becomes a reference; a delta becomes
/// several deltas with their offsets.
fn oversize(event: Envelope) -> Vec<String> {
    match event.event {
        LiveEvent::Message { message } => serde_json::to_string(&Wire::Ref {
            org: event.org.0,
            conversation: event.conversation.0,
            message: message.id.0,
        })
        .into_iter()
        .collect(),
        LiveEvent::Delta { message, offset, content } => {
            let chars: Vec<char> = content.chars().collect();
            chars
                .chunks(1000)
                .scan(offset, |off, chunk| {
                    let piece: String = chunk.iter().collect();
                    let env = Envelope {
                        org: event.org,
                        conversation: event.conversation,
                        event: LiveEvent::Delta { message, offset: *off, content: piece },
                    };
                    *off += chunk.len() as u64;
                    serde_json::to_string(&env).ok()
                })
                .collect()
        }
    }
}
