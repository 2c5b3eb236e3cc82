//! What a reply's engine is asked, and asking it: the chatbot's instructions, the
//! conversation's recent history, the passages retrieved from its knowledge, and the request
//! sent, up to the engine's stream.
//!
//! None of it needs the question's row, only its text, so [`super::start`] runs it while the
//! question is being stored: the history is then bounded by the moment the request arrived
//! instead of by the question's position.

use crate::app::AppState;
use parlor_core::clock::Timestamp;
use parlor_core::engine::{ChatTurn, Engine, EngineError, EngineStream, GenerateRequest, Role};
use parlor_core::id::{ConversationId, OrgId};
use parlor_core::knowledge::{CANDIDATES, Vocabulary, ranked_passages, rerank, retrieval_query};
use parlor_core::model::*;
use parlor_core::page::{Cursor, CursorRequest, Position};
use std::sync::Arc;

/// The question as the engine needs it.
pub(super) struct Asked {
    conversation: ConversationId,
    content: String,
    query_metadata: Option<JsonObject>,
    /// Resolved attachments (images go to the model).
    attachments: Vec<Attachment>,
    /// The history is the conversation's messages strictly before this position.
    before: Position,
}

impl Asked {
    /// A stored question: its history is what came before it.
    pub(super) fn stored(question: &Message) -> Self {
        Asked {
            conversation: question.conversation,
            content: question.content.clone(),
            query_metadata: question.query_metadata.clone(),
            attachments: question.attachments.clone(),
            before: Position { created_at: question.created_at, id: question.id.0 },
        }
    }

    /// A question about to be stored (without attachments: those are resolved by the store).
    /// Its history is what was stamped before `now`, taken before the question goes to the
    /// store, which stamps it later under its write lock: the question is never its own
    /// history, even when the store commits it before the history is read.
    pub(super) fn unstored(question: &parlor_core::input::NewMessage, now: Timestamp) -> Self {
        Asked {
            conversation: question.conversation,
            content: question.content.clone(),
            query_metadata: question.query_metadata.clone(),
            attachments: vec![],
            before: Position { created_at: now, id: uuid::Uuid::nil() },
        }
    }
}

/// Sends the request: the engine's stream, with the passages it was given (for citations).
/// An error means nothing was generated. Past a shutdown's grace period nothing is asked.
pub(super) async fn ask(
    state: &AppState,
    org: OrgId,
    chatbot: &Chatbot,
    asked: Asked,
) -> Result<(Vec<PassageHit>, EngineStream), EngineError> {
    tokio::select! {
        asking = ask_now(state, org, chatbot, asked) => asking,
        _ = state.grace_over.cancelled() => Err(EngineError::ShuttingDown),
    }
}

async fn ask_now(
    state: &AppState,
    org: OrgId,
    chatbot: &Chatbot,
    asked: Asked,
) -> Result<(Vec<PassageHit>, EngineStream), EngineError> {
    let (engine, model): (Arc<dyn Engine>, String) = match &chatbot.model {
        None => (state.knowledge.clone(), String::new()),
        Some(m) => state.engines.resolve(m)?,
    };
    // Two reads, each on a connection of its own, side by side.
    let (history, passages) =
        tokio::try_join!(history(state, org, chatbot, &asked), passages(state, org, chatbot, &asked))?;
    // External images as URLs, uploaded ones inline (the provider cannot reach Parlor).
    let image_urls = crate::uploads::image_urls(state, org, &asked.attachments).await;
    let request = GenerateRequest {
        model,
        instructions: chatbot.instructions.clone(),
        history,
        question: asked.content,
        image_urls,
        passages: passages.clone(),
        temperature: chatbot.temperature,
        fallback_message: chatbot.fallback_message.clone(),
    };
    Ok((passages, engine.generate(request).await?))
}

fn internal(e: parlor_core::StoreError) -> EngineError {
    EngineError::Unreachable(format!("the database failed: {e}"))
}

/// The conversation's last `historyMessages` messages before the question, oldest first,
/// blank ones (a reply begun, an attachment alone) left out.
async fn history(
    state: &AppState,
    org: OrgId,
    chatbot: &Chatbot,
    asked: &Asked,
) -> Result<Vec<ChatTurn>, EngineError> {
    if chatbot.history_messages <= 0 {
        return Ok(vec![]);
    }
    let page = CursorRequest {
        cursor: Some(Cursor { position: asked.before, reverse: false }),
        page_size: chatbot.history_messages as usize,
    };
    let (page, _) = state.store.list_messages(org, Some(asked.conversation), page).await.map_err(internal)?;
    Ok(page
        .items
        .into_iter()
        .rev()
        .filter(|m| !m.content.trim().is_empty())
        .map(|m| ChatTurn {
            role: if m.kind == MessageType::Incoming { Role::User } else { Role::Assistant },
            content: m.content,
        })
        .collect())
}

/// The chatbot's passages for the question, best first. A chatbot without passages has
/// nothing to search.
async fn passages(
    state: &AppState,
    org: OrgId,
    chatbot: &Chatbot,
    asked: &Asked,
) -> Result<Vec<PassageHit>, EngineError> {
    let store = &state.store;
    let texts = store.passage_texts(org, chatbot.id).await.map_err(internal)?;
    if texts.is_empty() {
        return Ok(vec![]);
    }
    let vocabulary = Vocabulary::from_texts(texts.iter().flat_map(|(t, x)| [t.as_str(), x.as_str()]));
    let query = retrieval_query(&asked.content, &vocabulary);
    if query.is_empty() {
        return Ok(vec![]);
    }
    let hits = store
        .search_passages(org, chatbot.id, &query, asked.query_metadata.as_ref(), CANDIDATES)
        .await
        .map_err(internal)?;
    Ok(ranked_passages(rerank(&asked.content, hits)))
}
