//! Bot replies: from a user's question to a stored, cited answer.
//!
//! Generation runs on the server's task tracker, not on the request: a client that goes away
//! mid-reply loses nothing, and shutdown waits for replies in flight (up to its grace
//! period). The requesting client follows the reply through its own channel; the text
//! produced so far is saved every [`PROGRESS_EVERY`] so readers (and re-attaching clients)
//! see it, and the end is stored in one transaction with the reply's record.
//!
//! A reply begins with one commit: the question and the reply's message together
//! ([`parlor_core::store::Store::begin_exchange`]), or the reply's message alone when the
//! question was stored earlier (background replies). What the engine is asked is prepared and
//! sent meanwhile ([`ask`]): the request upstream does not wait for the commit; its first
//! delta does, so nothing is shown to anyone before the question is stored. If the commit
//! fails, the request is dropped (which closes it) and nothing was stored.
//!
//! At shutdown a reply goes on until its grace period is over; then it stops and stores what
//! it produced, as a failed reply ([`EngineError::ShuttingDown`]). Engine latency and tokens
//! go to `/metrics` ([`crate::metrics::engine_reply`]).

mod ask;

use crate::app::AppState;
use crate::live;
use ask::Asked;
use futures::channel::mpsc;
use futures::future::OptionFuture;
use futures::{FutureExt, StreamExt};
use parlor_core::clock;
use parlor_core::clock::Timestamp;
use parlor_core::engine::{EngineError, EngineEvent, EngineStream, Usage};
use parlor_core::error::{StoreError, StoreResult};
use parlor_core::id::{ChatbotId, MessageId, OrgId};
use parlor_core::input::{FinishedReply, NewMessage, NewRecord};
use parlor_core::model::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How often the text of a reply in flight is saved.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// What the requesting client receives while its reply is generated.
#[derive(Debug)]
pub enum ReplyEvent {
    /// The next piece of text.
    Delta(String),
    /// The stored reply; `error` when generation failed (the message then has
    /// `finishReason: "error"` and whatever text was produced).
    Done { message: Box<Message>, error: Option<EngineError> },
}

/// What a reply answers.
pub enum Question {
    /// A question stored earlier (a background reply).
    Stored(Message),
    /// A question to store with the reply's message, in one transaction (completions).
    New(NewMessage),
}

/// A reply that has started: the question and the reply's message as first stored, and the
/// requester's events.
pub struct Reply {
    pub question: Message,
    pub message: Message,
    /// Unbounded (the reply never waits for its reader), and a list rather than tokio's blocks
    /// of 32 slots: an idle stream's channel holds no empty slots.
    pub events: mpsc::UnboundedReceiver<ReplyEvent>,
}

/// Starts the chatbot's reply to `question` in its conversation; returns once the question
/// and the reply's message are stored (the request to the engine is on its way by then).
/// An error means nothing was stored and no reply runs.
pub async fn start(state: &AppState, org: OrgId, chatbot: Chatbot, question: Question) -> StoreResult<Reply> {
    let (tx, events) = mpsc::unbounded();
    let (stored_tx, stored) = oneshot::channel();
    // On the tracker from the start: once handed over, the question is stored and answered
    // even if this request is dropped (its client went away) while it waits.
    // The beginning's state (the reads, the commit and the request, side by side) is several
    // KiB: boxed, it is freed once the reply runs, instead of sizing the task for its life.
    let task = Box::pin(begin(state.clone(), org, chatbot, question, tx, stored_tx))
        .then(|begun| OptionFuture::from(begun.map(|(job, asked)| job.run(asked))))
        .map(drop);
    state.tasks.spawn(task);
    let (question, message) =
        stored.await.map_err(|_| StoreError::Backend("the reply ended before it began".into()))??;
    Ok(Reply { question, message, events })
}

/// The reply's message as first stored: empty, no finish reason yet.
fn begun(chatbot: &Chatbot, conversation: parlor_core::id::ConversationId) -> NewMessage {
    let model_label = chatbot.model.clone().unwrap_or_else(|| "knowledge".into());
    let mut metadata = serde_json::Map::new();
    metadata.insert("model".into(), Value::String(model_label));
    metadata.insert("finishReason".into(), Value::Null);
    NewMessage {
        conversation,
        kind: MessageType::Outgoing,
        sender_type: SenderType::Bot,
        contact: None,
        sender: Some(Sender { id: Some(chatbot.id.0), name: chatbot.name.clone(), avatar: None }),
        content: String::new(),
        content_payload: None,
        query_metadata: None,
        attachments: vec![],
        canvas: None,
        metadata,
    }
}

/// Stores the question and the reply's message while the engine is asked, and tells
/// [`start`] how storing went; `None` when it failed (nothing was stored).
async fn begin(
    state: AppState,
    org: OrgId,
    chatbot: Chatbot,
    question: Question,
    tx: mpsc::UnboundedSender<ReplyEvent>,
    stored_tx: oneshot::Sender<StoreResult<(Message, Message)>>,
) -> Option<(Job, Asking)> {
    let started = Instant::now();
    let new = matches!(question, Question::New(_));
    let store = &state.store;
    let both = async {
        match question {
            Question::Stored(q) => {
                let reply = begun(&chatbot, q.conversation);
                let asking = ask::ask(&state, org, &chatbot, Asked::stored(&q));
                let storing = async move { Ok((q, store.begin_reply(org, reply).await?)) };
                side_by_side(storing, asking).await
            }
            Question::New(q) if q.attachments.is_empty() => {
                let reply = begun(&chatbot, q.conversation);
                let asking = ask::ask(&state, org, &chatbot, Asked::unstored(&q, clock::now()));
                side_by_side(store.begin_exchange(org, q, reply), asking).await
            }
            // The images sent upstream are the attachments the store resolves: store first.
            Question::New(q) => {
                let reply = begun(&chatbot, q.conversation);
                let (q, m) = store.begin_exchange(org, q, reply).await?;
                let asked = ask::ask(&state, org, &chatbot, Asked::stored(&q)).await;
                Ok(((q, m), asked))
            }
        }
    };
    let ((question, message), asked) = match both.await {
        Ok(both) => both,
        Err(e) => {
            let _ = stored_tx.send(Err(e));
            return None;
        }
    };
    if new {
        live::message(&state, org, &question).await;
    }
    let asker = Asker { id: question.id, created_at: question.created_at, content: question.content.clone() };
    // The requester may be gone: the reply goes on all the same.
    let _ = stored_tx.send(Ok((question, message.clone())));
    let engine_kind = if chatbot.model.is_none() { "knowledge" } else { "provider" };
    let webhook = chatbot.webhook_url.is_some();
    let job =
        Job { state, org, chatbot: chatbot.id, engine_kind, webhook, question: asker, message, tx, started };
    Some((job, asked))
}

/// What the engine answered when asked: its stream and the passages it was given.
type Asking = Result<(Vec<PassageHit>, EngineStream), EngineError>;

/// Runs `storing` and `asking` side by side. If storing fails, asking is dropped at once
/// (closing a request it sent) and the store's error returned.
async fn side_by_side(
    storing: impl Future<Output = StoreResult<(Message, Message)>>,
    asking: impl Future<Output = Asking>,
) -> StoreResult<((Message, Message), Asking)> {
    futures::future::try_join(storing, async { Ok(asking.await) }).await
}

/// A reply under way: its question and message stored.
struct Job {
    state: AppState,
    org: OrgId,
    chatbot: ChatbotId,
    /// The `engine` label of the engine metrics: the built-in engine or a configured provider.
    engine_kind: &'static str,
    /// The chatbot had a webhook when the reply began: its delivery is written with the
    /// reply's end, and the worker woken for it. (One set mid-reply still gets the delivery,
    /// sent at the worker's next poll.)
    webhook: bool,
    question: Asker,
    message: Message,
    tx: mpsc::UnboundedSender<ReplyEvent>,
    /// When the engine was asked.
    started: Instant,
}

/// What the reply's record needs of its question.
struct Asker {
    id: MessageId,
    created_at: Timestamp,
    content: String,
}

/// What generation produced, however it ended.
struct Outcome {
    content: String,
    passages: Vec<PassageHit>,
    cited: Option<Vec<usize>>,
    finish: FinishReason,
    usage: Option<Usage>,
    error: Option<EngineError>,
}

impl Job {
    async fn run(self, asked: Asking) {
        let outcome = self.generate(asked).await;
        crate::metrics::engine_reply(self.engine_kind, self.started.elapsed(), outcome.usage.as_ref());
        let message = match self.finish(&outcome).await {
            Ok(m) => {
                live::message(&self.state, self.org, &m).await;
                // Its webhook delivery was stored with it: send it now. Not woken for
                // chatbots without a webhook: each wake costs the worker a write transaction.
                if self.webhook {
                    self.state.webhooks.wake();
                }
                m
            }
            Err(e) => {
                // The conversation was deleted mid-reply, or the database failed: tell the
                // client what was produced; nothing more can be stored.
                tracing::warn!(error = %e, message = %self.message.id, "could not store a finished reply");
                let mut m = self.message.clone();
                m.content = outcome.content.clone();
                m
            }
        };
        let _ = self.tx.unbounded_send(ReplyEvent::Done { message: Box::new(message), error: outcome.error });
    }

    async fn generate(&self, asked: Asking) -> Outcome {
        let mut out = Outcome {
            content: String::new(),
            passages: vec![],
            cited: None,
            finish: FinishReason::Stop,
            usage: None,
            error: None,
        };
        let stream = match asked {
            Ok((passages, stream)) => {
                out.passages = passages;
                stream
            }
            Err(e) => {
                out.finish = FinishReason::Error;
                out.error = Some(e);
                return out;
            }
        };
        tokio::pin!(stream);
        let mut last_save = Instant::now();
        let mut saved_len = 0;
        let mut offset = 0u64;
        loop {
            let event = tokio::select! {
                e = stream.next() => e,
                // Shutdown's grace period is over: keep what was produced, end here.
                _ = self.state.grace_over.cancelled() => {
                    out.finish = FinishReason::Error;
                    out.error = Some(EngineError::ShuttingDown);
                    return out;
                }
            };
            let Some(event) = event else { break };
            match event {
                Ok(EngineEvent::Delta(piece)) => {
                    if offset == 0 && !piece.is_empty() {
                        crate::metrics::engine_first_token(self.engine_kind, self.started.elapsed());
                    }
                    out.content.push_str(&piece);
                    live::delta(
                        &self.state,
                        self.org,
                        self.message.conversation,
                        self.message.id,
                        offset,
                        &piece,
                    )
                    .await;
                    offset += piece.chars().count() as u64;
                    let _ = self.tx.unbounded_send(ReplyEvent::Delta(piece));
                    if last_save.elapsed() >= PROGRESS_EVERY && out.content.len() != saved_len {
                        last_save = Instant::now();
                        saved_len = out.content.len();
                        if let Err(e) = self
                            .state
                            .store
                            .save_reply_progress(self.org, self.message.id, &out.content)
                            .await
                        {
                            tracing::warn!(error = %e, "could not save reply progress");
                        }
                    }
                }
                Ok(EngineEvent::Cited(indexes)) => out.cited = Some(indexes),
                Ok(EngineEvent::Done { finish, usage }) => {
                    out.finish = finish;
                    out.usage = usage;
                    return out;
                }
                Err(e) => {
                    out.finish = FinishReason::Error;
                    out.error = Some(e);
                    return out;
                }
            }
        }
        // An engine stream that ends without `Done` was cut.
        out.finish = FinishReason::Error;
        out.error = Some(EngineError::Cut);
        out
    }

    /// Stores the end of the reply with its citations and record.
    async fn finish(&self, o: &Outcome) -> StoreResult<Message> {
        let cited: Vec<&PassageHit> = match &o.cited {
            Some(idx) => idx.iter().filter_map(|&i| o.passages.get(i)).collect(),
            None if o.error.is_none() => o.passages.iter().collect(),
            None => vec![],
        };
        let mut citations: Vec<Citation> = Vec::new();
        for p in &cited {
            if !citations.iter().any(|c| c.id == p.document) {
                citations.push(Citation {
                    id: p.document,
                    filename: p.document_title.clone(),
                    file: None,
                    file_type: "text".into(),
                    size: p.document_size,
                    status: "done".into(),
                    created_at: p.document_created_at,
                });
            }
        }
        let citation_nodes = cited
            .iter()
            .map(|p| CitationNode {
                chatbot_text_node: TextNode {
                    id: p.id,
                    characters_count: p.text.chars().count() as i64,
                    hits_count: 1,
                    text: p.text.clone(),
                    updated_at: p.updated_at,
                    filename: p.document_title.clone(),
                },
                score: p.rank,
                display_score: format!("{:.2}", p.rank),
            })
            .collect();
        let latency = self.started.elapsed().as_millis() as i64;
        let mut metadata = self.message.metadata.clone();
        metadata.insert("finishReason".into(), json!(o.finish.as_str()));
        metadata.insert("usage".into(), o.usage.map_or(Value::Null, |u| json!(u)));
        metadata.insert("latencyMs".into(), json!(latency));
        if let Some(e) = &o.error {
            metadata.insert("error".into(), json!({"detail": e.to_string(), "code": e.code()}));
        }
        let context = (!cited.is_empty())
            .then(|| cited.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\n\n"));
        let reply = FinishedReply {
            message: self.message.id,
            content: o.content.clone(),
            citations,
            citation_nodes,
            metadata,
            record: NewRecord {
                chatbot: self.chatbot,
                user_message: self.question.id,
                input_message: self.question.content.clone(),
                condense_message: self.question.content.clone(),
                context,
                reply_time_ms: (clock::now().0 - self.question.created_at.0).num_milliseconds().max(latency),
                error: o.error.as_ref().map(|e| e.to_string()),
                finish_reason: o.finish.as_str().into(),
            },
        };
        self.state.store.finish_reply(self.org, reply).await
    }
}
