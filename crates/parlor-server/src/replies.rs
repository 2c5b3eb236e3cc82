//! Bot replies: from a stored user message to a stored, cited answer.
//!
//! Generation runs on the server's task tracker, not on the request: a client that goes away
//! mid-reply loses nothing, and shutdown waits for replies in flight (up to its grace
//! period). The requesting client follows the reply through its own channel; the text
//! produced so far is saved every [`PROGRESS_EVERY`] so readers (and re-attaching clients)
//! see it, and the end is stored in one transaction with the reply's record.
//!
//! At shutdown a reply goes on until its grace period is over; then it stops and stores what
//! it produced, as a failed reply ([`EngineError::ShuttingDown`]). Engine latency and tokens
//! go to `/metrics` ([`crate::metrics::engine_reply`]).

use crate::app::AppState;
use crate::live;
use futures::StreamExt;
use parlor_core::clock;
use parlor_core::engine::{ChatTurn, Engine, EngineError, EngineEvent, GenerateRequest, Role, Usage};
use parlor_core::error::StoreResult;
use parlor_core::id::OrgId;
use parlor_core::input::{FinishedReply, NewMessage, NewRecord};
use parlor_core::knowledge::{CANDIDATES, Vocabulary, ranked_passages, rerank, retrieval_query};
use parlor_core::model::*;
use parlor_core::page::{Cursor, CursorRequest, Position};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

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

/// A reply that has started: its message as first stored, and the requester's events.
pub struct Reply {
    pub message: Message,
    pub events: mpsc::UnboundedReceiver<ReplyEvent>,
}

/// Starts the chatbot's reply to `question` (already stored) in its conversation.
pub async fn start(state: &AppState, org: OrgId, chatbot: Chatbot, question: Message) -> StoreResult<Reply> {
    let model_label = chatbot.model.clone().unwrap_or_else(|| "knowledge".into());
    let mut metadata = serde_json::Map::new();
    metadata.insert("model".into(), Value::String(model_label));
    metadata.insert("finishReason".into(), Value::Null);
    let message = state
        .store
        .begin_reply(
            org,
            NewMessage {
                conversation: question.conversation,
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
            },
        )
        .await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let job = Job {
        state: state.clone(),
        org,
        chatbot,
        question,
        message: message.clone(),
        tx,
        started: Instant::now(),
    };
    state.tasks.spawn(job.run());
    Ok(Reply { message, events: rx })
}

struct Job {
    state: AppState,
    org: OrgId,
    chatbot: Chatbot,
    question: Message,
    message: Message,
    tx: mpsc::UnboundedSender<ReplyEvent>,
    started: Instant,
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
    async fn run(self) {
        let outcome = self.generate().await;
        crate::metrics::engine_reply(self.engine_kind(), self.started.elapsed(), outcome.usage.as_ref());
        let message = match self.finish(&outcome).await {
            Ok(m) => {
                live::message(&self.state, self.org, &m).await;
                // Its webhook delivery (if any) was stored with it: send it now.
                self.state.webhooks.wake();
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
        let _ = self.tx.send(ReplyEvent::Done { message: Box::new(message), error: outcome.error });
    }

    async fn generate(&self) -> Outcome {
        let mut out = Outcome {
            content: String::new(),
            passages: vec![],
            cited: None,
            finish: FinishReason::Stop,
            usage: None,
            error: None,
        };
        let request = match self.request().await {
            Ok(r) => r,
            Err(e) => {
                out.finish = FinishReason::Error;
                out.error = Some(e);
                return out;
            }
        };
        out.passages = request.1.passages.clone();
        let stream = match request.0.generate(request.1).await {
            Ok(s) => s,
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
                        crate::metrics::engine_first_token(self.engine_kind(), self.started.elapsed());
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
                    let _ = self.tx.send(ReplyEvent::Delta(piece));
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

    /// The `engine` label of the engine metrics: the built-in engine or a configured provider.
    fn engine_kind(&self) -> &'static str {
        if self.chatbot.model.is_none() { "knowledge" } else { "provider" }
    }

    /// The engine and what it is asked: instructions, recent history, retrieved passages.
    async fn request(&self) -> Result<(Arc<dyn Engine>, GenerateRequest), EngineError> {
        let internal =
            |e: parlor_core::StoreError| EngineError::Unreachable(format!("the database failed: {e}"));
        let (engine, model): (Arc<dyn Engine>, String) = match &self.chatbot.model {
            None => (self.state.knowledge.clone(), String::new()),
            Some(m) => self.state.engines.resolve(m)?,
        };
        let store = &self.state.store;
        let history = if self.chatbot.history_messages > 0 {
            let page = CursorRequest {
                cursor: Some(Cursor {
                    position: Position { created_at: self.question.created_at, id: self.question.id.0 },
                    reverse: false,
                }),
                page_size: self.chatbot.history_messages as usize,
            };
            let (page, _) = store
                .list_messages(self.org, Some(self.question.conversation), page)
                .await
                .map_err(internal)?;
            page.items
                .into_iter()
                .rev()
                .filter(|m| !m.content.trim().is_empty())
                .map(|m| ChatTurn {
                    role: if m.kind == MessageType::Incoming { Role::User } else { Role::Assistant },
                    content: m.content,
                })
                .collect()
        } else {
            vec![]
        };
        let texts = store.passage_texts(self.org, self.chatbot.id).await.map_err(internal)?;
        let vocabulary = Vocabulary::from_texts(texts.iter().flat_map(|(t, x)| [t.as_str(), x.as_str()]));
        let query = retrieval_query(&self.question.content, &vocabulary);
        let hits = if query.is_empty() {
            vec![]
        } else {
            store
                .search_passages(
                    self.org,
                    self.chatbot.id,
                    &query,
                    self.question.query_metadata.as_ref(),
                    CANDIDATES,
                )
                .await
                .map_err(internal)?
        };
        let passages = ranked_passages(rerank(&self.question.content, hits));
        // External images as URLs, uploaded ones inline (the provider cannot reach Parlor).
        let image_urls = crate::uploads::image_urls(&self.state, self.org, &self.question.attachments).await;
        Ok((
            engine,
            GenerateRequest {
                model,
                instructions: self.chatbot.instructions.clone(),
                history,
                question: self.question.content.clone(),
                image_urls,
                passages,
                temperature: self.chatbot.temperature,
                fallback_message: self.chatbot.fallback_message.clone(),
            },
        ))
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
                chatbot: self.chatbot.id,
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
