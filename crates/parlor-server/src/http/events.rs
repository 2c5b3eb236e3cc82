//! `GET /conversations/{id}/events/`: the conversation live, as Server-Sent Events.
//!
//! `event: message` carries each complete message (id: the message id); `event: delta`
//! carries each piece of a bot reply while it is generated (data `{"messageId", "content",
//! "offset"}`, id `<messageId>:<characters so far>`). The ids are resumable: a client that
//! reconnects with `Last-Event-ID` gets exactly what it missed — and a client whose
//! completions stream broke can send that stream's last id (the same `<messageId>:<n>`
//! form) to go on with the reply where it left off, on any instance.
//!
//! The subscription starts before the catch-up from the store, so nothing published in
//! between is lost; offsets make repeats and gaps visible, and a gap is filled from the
//! text the reply service saves as it goes.
//!
//! A stream holds one of its API key's stream slots ([`super::limits::StreamSlots`]) until it
//! ends or its client leaves, and ends when the server begins to shut down.

use super::error::{ApiError, ApiResult};
use super::extract::{Auth, Id};
use super::limits::{StreamKind, StreamSlot, hold_slot};
use super::openapi::ReadErrors;
use crate::app::AppState;
use crate::live::in_flight;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use parlor_core::events::{Envelope, LiveEvent};
use parlor_core::id::{ConversationId, MessageId, OrgId};
use parlor_core::model::Message;
use parlor_core::page::{Cursor, CursorRequest, Position};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::mpsc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(follow))
}

/// Where a client resumes from.
enum Resume {
    /// After this complete message.
    After(MessageId),
    /// Inside this reply, having this many characters of it.
    Inside(MessageId, u64),
}

fn parse_resume(headers: &HeaderMap) -> Option<Resume> {
    let raw = headers.get("last-event-id")?.to_str().ok()?.trim();
    match raw.split_once(':') {
        Some((id, n)) => Some(Resume::Inside(id.parse().ok()?, n.parse().ok()?)),
        None => Some(Resume::After(raw.parse().ok()?)),
    }
}

/// The conversation live, as Server-Sent Events: `event: message` (data: the Message; id: its
/// id) for each complete message, `event: delta` (data `{messageId, content, offset}`; id
/// `<messageId>:<characters so far>`) for each piece of a reply being generated. Reconnect
/// with `Last-Event-ID` to get exactly what was missed; a completions stream's event id
/// resumes that reply. A `: ping` comment goes out every 15 s. A key may hold a limited
/// number of streams open at once (64 by default, with the completions streams): over it,
/// 429 with `Retry-After`. The stream ends when the server shuts down; reconnect.
#[utoipa::path(get, path = "/conversations/{id}/events", tag = "conversations", operation_id = "conversations_events",
    params(("id" = uuid::Uuid, Path, description = "The conversation's id."),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id.")),
    security(("Api-Key" = [])),
    responses((status = 200, description = "The event stream.", content((super::openapi::ServerSentEvent = "text/event-stream"))), ReadErrors))]
async fn follow(
    State(state): State<AppState>,
    auth: Auth,
    Id(id): Id<ConversationId>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    state.store.get_conversation(auth.org, id).await?;
    let slot = state.streams.acquire(auth.key, state.limits.streams_per_key, StreamKind::Events)?;
    stream(state, auth.org, id, headers, slot).await
}

/// The events of conversation `id` of `org`, resuming after `Last-Event-ID` if given; also
/// what a widget visitor follows its own conversation with ([`super::widget`]). The caller
/// has checked that the conversation is the requester's, and holds the stream's `slot`.
pub(crate) async fn stream(
    state: AppState,
    org: OrgId,
    id: ConversationId,
    headers: HeaderMap,
    slot: StreamSlot,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let resume = parse_resume(&headers);
    // Validate a resume point now, so a bad one is a 404 rather than a silent restart.
    if let Some(Resume::After(m) | Resume::Inside(m, _)) = &resume {
        state
            .store
            .get_message(org, *m, Some(id))
            .await
            .map_err(|_| ApiError::NotFoundDetail("Invalid Last-Event-ID"))?;
    }
    let (tx, rx) = mpsc::channel(64);
    let live = state.store.events().subscribe();
    let follower = Follower {
        state: state.clone(),
        org,
        conversation: id,
        tx,
        tracked: HashMap::new(),
        sent: HashSet::new(),
        last: None,
    };
    tokio::spawn(follower.run(resume, live));
    let stream = hold_slot(tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok), slot);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("ping")))
}

/// One subscriber's state: how much of each reply in flight it has, and which complete
/// messages it was sent.
struct Follower {
    state: AppState,
    org: OrgId,
    conversation: ConversationId,
    tx: mpsc::Sender<Event>,
    tracked: HashMap<MessageId, u64>,
    sent: HashSet<MessageId>,
    /// The newest complete message sent: where a resynchronization starts.
    last: Option<Position>,
}

/// The client is gone.
struct Gone;

impl Follower {
    async fn run(
        mut self,
        resume: Option<Resume>,
        mut live: futures::stream::BoxStream<'static, Result<Envelope, parlor_core::events::Lagged>>,
    ) {
        if self.catch_up(resume).await.is_err() {
            return;
        }
        let shutdown = self.state.shutdown.clone();
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            let next = tokio::select! {
                e = live.next() => e,
                _ = tick.tick() => {
                    if self.fill_gaps().await.is_err() { return; }
                    continue;
                }
                _ = shutdown.cancelled() => return,
                _ = self.tx.closed() => return,
            };
            let result = match next {
                None => return,
                Some(Err(_lagged)) => self.resync().await,
                Some(Ok(env)) if env.conversation != self.conversation || env.org != self.org => Ok(()),
                Some(Ok(env)) => match env.event {
                    LiveEvent::Message { message } => self.message(&message).await,
                    LiveEvent::Delta { message, offset, content } => {
                        self.delta(message, offset, &content).await
                    }
                },
            };
            if result.is_err() {
                return;
            }
        }
    }

    async fn send(&self, e: Event) -> Result<(), Gone> {
        self.tx.send(e).await.map_err(|_| Gone)
    }

    async fn message(&mut self, m: &Message) -> Result<(), Gone> {
        if self.sent.contains(&m.id) {
            return Ok(());
        }
        if in_flight(m) {
            // A reply seen mid-way (catch-up): send what it has so far as a delta.
            let have = self.tracked.get(&m.id).copied().unwrap_or(0);
            self.send_tail(m.id, &m.content, have).await?;
            return Ok(());
        }
        // A reply finishing: the client gets any text it lacks before the message itself.
        if let Some(have) = self.tracked.remove(&m.id) {
            self.send_tail(m.id, &m.content, have).await?;
        }
        self.sent.insert(m.id);
        let pos = Position { created_at: m.created_at, id: m.id.0 };
        if self.last.is_none_or(|l| (l.created_at, l.id) < (pos.created_at, pos.id)) {
            self.last = Some(pos);
        }
        let data = serde_json::to_string(m).unwrap_or_default();
        self.send(Event::default().event("message").id(m.id.to_string()).data(data)).await
    }

    /// Sends `content` from character `from` on, as one delta, if there is any.
    async fn send_tail(&mut self, id: MessageId, content: &str, from: u64) -> Result<(), Gone> {
        let total = content.chars().count() as u64;
        if total > from {
            let tail: String = content.chars().skip(from as usize).collect();
            self.send_delta(id, from, &tail).await?;
        }
        let have = self.tracked.entry(id).or_insert(0);
        *have = (*have).max(total.max(from));
        Ok(())
    }

    async fn send_delta(&mut self, id: MessageId, offset: u64, content: &str) -> Result<(), Gone> {
        let end = offset + content.chars().count() as u64;
        self.tracked.insert(id, end);
        let data = json!({"messageId": id, "content": content, "offset": offset});
        self.send(Event::default().event("delta").id(format!("{id}:{end}")).data(data.to_string())).await
    }

    async fn delta(&mut self, id: MessageId, offset: u64, content: &str) -> Result<(), Gone> {
        if self.sent.contains(&id) {
            return Ok(());
        }
        let have = self.tracked.get(&id).copied().unwrap_or(0);
        let len = content.chars().count() as u64;
        if offset + len <= have {
            return Ok(()); // already sent
        }
        if offset > have {
            // A gap: what came before this piece was published before we subscribed. The
            // saved text usually covers it; otherwise the next tick or the finished message
            // will.
            self.fill_from_store(id).await?;
            let have = self.tracked.get(&id).copied().unwrap_or(0);
            if offset > have {
                return Ok(());
            }
        }
        let have = self.tracked.get(&id).copied().unwrap_or(0);
        let tail: String = content.chars().skip((have - offset) as usize).collect();
        self.send_delta(id, have, &tail).await
    }

    /// Sends what the store has of a reply beyond what the client has.
    async fn fill_from_store(&mut self, id: MessageId) -> Result<(), Gone> {
        if let Ok(m) = self.state.store.get_message(self.org, id, Some(self.conversation)).await {
            if in_flight(&m) {
                let have = self.tracked.get(&id).copied().unwrap_or(0);
                self.send_tail(id, &m.content, have).await?;
            } else {
                self.message(&m).await?;
            }
        }
        Ok(())
    }

    /// Replies whose pieces arrived with a gap: look at the store again.
    async fn fill_gaps(&mut self) -> Result<(), Gone> {
        let ids: Vec<MessageId> = self.tracked.keys().copied().collect();
        for id in ids {
            self.fill_from_store(id).await?;
        }
        Ok(())
    }

    /// Sends what happened since the resume point (or, without one, the replies in flight).
    async fn catch_up(&mut self, resume: Option<Resume>) -> Result<(), Gone> {
        let store = self.state.store.clone();
        let from = match resume {
            None => {
                let page = CursorRequest { cursor: None, page_size: 20 };
                if let Ok((page, _)) = store.list_messages(self.org, Some(self.conversation), page).await {
                    for m in page.items.iter().rev().filter(|m| in_flight(m)) {
                        self.message(m).await?;
                    }
                }
                return Ok(());
            }
            Some(Resume::After(id)) => {
                let Ok(m) = store.get_message(self.org, id, Some(self.conversation)).await else {
                    return Ok(());
                };
                self.sent.insert(m.id);
                self.last = Some(Position { created_at: m.created_at, id: m.id.0 });
                m
            }
            Some(Resume::Inside(id, have)) => {
                let Ok(m) = store.get_message(self.org, id, Some(self.conversation)).await else {
                    return Ok(());
                };
                self.tracked.insert(id, have);
                self.message(&m).await?;
                m
            }
        };
        self.messages_after(Position { created_at: from.created_at, id: from.id.0 }).await
    }

    /// Sends every message after `pos`, oldest first (complete ones whole, replies in flight
    /// as what they have so far).
    async fn messages_after(&mut self, pos: Position) -> Result<(), Gone> {
        let mut cursor = Some(Cursor { position: pos, reverse: true });
        while let Some(c) = cursor {
            let req = CursorRequest { cursor: Some(c), page_size: 100 };
            let Ok((page, _)) = self.state.store.list_messages(self.org, Some(self.conversation), req).await
            else {
                return Ok(());
            };
            for m in page.items.iter().rev() {
                self.message(m).await?;
            }
            cursor = page.previous;
        }
        Ok(())
    }

    /// After missing live events: everything after the newest message sent (or, before
    /// any, the replies in flight), and the replies being followed.
    async fn resync(&mut self) -> Result<(), Gone> {
        match self.last {
            Some(pos) => self.messages_after(pos).await?,
            None => self.catch_up(None).await?,
        }
        self.fill_gaps().await
    }
}
