//! The seam between a conversation and what writes the bot's reply.
//!
//! Both engines get the same request: the chatbot's instructions, the recent history, the
//! question and the passages retrieved from the chatbot's knowledge. They answer with a
//! stream of events: text pieces, then one `Done`. The caller (the reply service of the
//! server) owns storage and fan-out, so an engine only produces text.

use crate::model::{FinishReason, PassageHit};
use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::Serialize;

/// Who said a turn of the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// One earlier message of the conversation, oldest first.
#[derive(Clone, Debug)]
pub struct ChatTurn {
    pub role: Role,
    pub content: String,
}

/// What an engine is asked to answer.
#[derive(Clone, Debug)]
pub struct GenerateRequest {
    /// The model name within its provider (`llama3` of `local/llama3`); empty for the
    /// knowledge engine.
    pub model: String,
    pub instructions: String,
    pub history: Vec<ChatTurn>,
    pub question: String,
    /// URLs (or `data:` URLs) of images attached to the question.
    pub image_urls: Vec<String>,
    /// Passages retrieved for the question, best first.
    pub passages: Vec<PassageHit>,
    pub temperature: f64,
    /// What to answer when nothing in the knowledge fits.
    pub fallback_message: String,
}

/// Token counts, as providers report them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// What an engine's stream yields.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineEvent {
    /// The next piece of the reply.
    Delta(String),
    /// Which of the request's passages (indexes) the reply drew on; sent at most once,
    /// before `Done`. Without it, all passages count as cited.
    Cited(Vec<usize>),
    /// The reply is complete.
    Done { finish: FinishReason, usage: Option<Usage> },
}

/// Why generation failed. `code` goes to clients in the stream's error event.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    #[error("the model provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the model provider answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the model provider sent a malformed response: {0}")]
    Malformed(String),
    #[error("the model provider stopped responding")]
    Timeout,
    #[error("the connection to the model provider was cut mid-reply")]
    Cut,
    #[error("the chatbot's model is not configured: {0}")]
    NotConfigured(String),
    /// Not the engine's fault: the server stopped, and its grace period ran out before the
    /// reply was complete. What was produced is kept.
    #[error("the server shut down before the reply was complete")]
    ShuttingDown,
}

impl EngineError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Unreachable(_) => "provider_unreachable",
            EngineError::Status { .. } => "provider_error",
            EngineError::Malformed(_) => "provider_malformed",
            EngineError::Timeout => "provider_timeout",
            EngineError::Cut => "provider_cut",
            EngineError::NotConfigured(_) => "model_not_configured",
            EngineError::ShuttingDown => "server_shutdown",
        }
    }
}

/// A stream of engine events; an `Err` ends it.
pub type EngineStream = BoxStream<'static, Result<EngineEvent, EngineError>>;

/// Something that writes replies.
#[async_trait]
pub trait Engine: Send + Sync {
    /// Starts a reply. An error here means nothing was generated.
    async fn generate(&self, req: GenerateRequest) -> Result<EngineStream, EngineError>;
}
