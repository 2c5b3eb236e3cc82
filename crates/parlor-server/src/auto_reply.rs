//! Background replies: an incoming message posted with `POST /messages/` is answered by its
//! conversation's chatbot when `autoReplyEnabled`, off the request (the 201 comes at once).
//!
//! Questions wait in a queue in the database, per conversation; a runner answers a
//! conversation's queue oldest first, one reply at a time, with the same reply service as
//! completions ([`crate::replies`]). There is at most one runner per conversation in this
//! process (the map below) and, across instances sharing a PostgreSQL database, one holding
//! the conversation's lock ([`parlor_core::store::Store::try_lock_conversation`]), so two
//! replies of one conversation never overlap and never come out of order. Questions still
//! queued at shutdown are answered after the next start ([`resume`]).

use crate::app::AppState;
use crate::replies::{self, ReplyEvent};
use futures::StreamExt;
use parlor_core::error::StoreResult;
use parlor_core::id::{ConversationId, MessageId, OrgId};
use parlor_core::model::{Message, MessageType};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The conversations this process runs a runner for. The flag says a question came while
/// the runner was finishing, so it looks at its queue once more before it stops.
#[derive(Default)]
pub struct Runners {
    running: Mutex<HashMap<ConversationId, bool>>,
}

/// After `message` (just stored) is created: queues it for a reply when it is an incoming
/// message on a conversation with a chatbot and auto-reply on, and makes sure a runner
/// answers it. An outgoing message triggers nothing.
pub async fn on_message(state: &AppState, org: OrgId, message: &Message) -> StoreResult<()> {
    if message.kind != MessageType::Incoming {
        return Ok(());
    }
    if state.store.queue_auto_reply(org, message.id).await? {
        kick(state, org, message.conversation);
    }
    Ok(())
}

/// Starts runners for the questions left queued by an earlier run (a restart, a crash).
pub async fn resume(state: AppState) {
    match state.store.auto_reply_backlog().await {
        Ok(backlog) => {
            for (org, conversation) in backlog {
                kick(&state, org, conversation);
            }
        }
        Err(e) => tracing::warn!(error = %e, "background replies: could not read the queue"),
    }
}

/// Ensures a runner looks at the conversation's queue.
fn kick(state: &AppState, org: OrgId, conversation: ConversationId) {
    if state.shutdown.is_cancelled() {
        // The queue stays in the database; the next start answers it.
        return;
    }
    let mut running = state.auto_replies.running.lock().unwrap_or_else(|p| p.into_inner());
    match running.get_mut(&conversation) {
        Some(again) => *again = true,
        None => {
            running.insert(conversation, false);
            state.tasks.spawn(run(state.clone(), org, conversation));
        }
    }
}

/// A conversation's runner: answers its queue until it is empty, then stops.
async fn run(state: AppState, org: OrgId, conversation: ConversationId) {
    loop {
        if lock(&state, conversation).await {
            answer_queue(&state, org, conversation).await;
            if let Err(e) = state.store.unlock_conversation(conversation).await {
                tracing::warn!(error = %e, %conversation, "background replies: could not unlock");
            }
        }
        let mut running = state.auto_replies.running.lock().unwrap_or_else(|p| p.into_inner());
        match running.get_mut(&conversation) {
            Some(again) if *again && !state.shutdown.is_cancelled() => *again = false,
            _ => {
                running.remove(&conversation);
                return;
            }
        }
    }
}

/// Waits for the conversation's lock (another instance may be answering it); `false` when
/// the server shuts down first.
async fn lock(state: &AppState, conversation: ConversationId) -> bool {
    let mut wait = Duration::from_millis(10);
    loop {
        match state.store.try_lock_conversation(conversation).await {
            Ok(true) => return true,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, %conversation, "background replies: could not lock"),
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.shutdown.cancelled() => return false,
        }
        wait = (wait * 2).min(Duration::from_millis(500));
    }
}

/// Answers the queued questions oldest first, each reply complete before the next begins.
async fn answer_queue(state: &AppState, org: OrgId, conversation: ConversationId) {
    let mut last: Option<MessageId> = None;
    while !state.shutdown.is_cancelled() {
        let question = match state.store.next_auto_reply(org, conversation).await {
            Ok(Some(q)) => q,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, %conversation, "background replies: could not read the queue");
                return;
            }
        };
        if last == Some(question.id) {
            // Its reply was not stored (the database failed): stop rather than loop; the
            // next message or start tries again.
            tracing::warn!(%conversation, question = %question.id, "background replies: a reply was not stored");
            return;
        }
        last = Some(question.id);
        if let Err(e) = answer(state, org, question).await {
            tracing::warn!(error = %e, %conversation, "background replies: could not start a reply");
            return;
        }
    }
}

/// Generates one reply and waits for it to be stored. A failed generation is stored too
/// (finishReason `error`) and delivered like any reply.
async fn answer(state: &AppState, org: OrgId, question: Message) -> StoreResult<()> {
    let conversation = state.store.get_conversation(org, question.conversation).await?;
    let Some(chatbot) = conversation.chatbot else { return Ok(()) };
    let chatbot = state.store.get_chatbot(org, chatbot).await?;
    let mut reply = replies::start(state, org, chatbot, replies::Question::Stored(question)).await?;
    while let Some(event) = reply.events.next().await {
        if let ReplyEvent::Done { .. } = event {
            break;
        }
    }
    Ok(())
}
