//! The chat-completions wire format: what we send, and lenient types for what comes back.
//!
//! The response types accept what real OpenAI-compatible servers send, not only what OpenAI's
//! reference says: every field is optional (chunks without `id`, `object` or `created`;
//! `delta.content` null or absent; role-only chunks; a usage-only last chunk with empty
//! `choices`), `finish_reason` is any string (vLLM sends `"abort"`), and `content` may be a
//! string or an array of text parts. Unknown fields are ignored. Strict types (async-openai's)
//! reject such chunks, which is why this crate has its own (`CRATES.md`).

use parlor_core::engine::Usage;
use parlor_core::model::FinishReason;
use serde::{Deserialize, Serialize};

/// The request body of `POST /chat/completions`.
#[derive(Debug, Serialize)]
pub(crate) struct ChatRequest<'a> {
    pub(crate) model: &'a str,
    pub(crate) messages: Vec<ChatMessage>,
    pub(crate) temperature: f64,
    pub(crate) stream: bool,
    /// Asks for the usage-only last chunk; servers that do not know it ignore it.
    pub(crate) stream_options: StreamOptions,
}

#[derive(Debug, Serialize)]
pub(crate) struct StreamOptions {
    pub(crate) include_usage: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct ChatMessage {
    pub(crate) role: &'static str,
    pub(crate) content: MessageContent,
}

/// Plain text, or parts when the message carries images (the vision format).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ContentPart {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Debug, Serialize)]
pub(crate) struct ImageUrl {
    pub(crate) url: String,
}

/// One `data:` payload of the stream.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Chunk {
    pub(crate) choices: Option<Vec<ChunkChoice>>,
    pub(crate) usage: Option<WireUsage>,
    /// OpenAI and vLLM report a failure after the headers as an error payload in the stream.
    pub(crate) error: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ChunkChoice {
    /// Which of `n` answers; we ask for one and read only index 0.
    pub(crate) index: Option<u64>,
    pub(crate) delta: Option<Delta>,
    pub(crate) finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Delta {
    pub(crate) content: Option<Content>,
}

/// `content` as a string, or as an array of parts of which the text ones count.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Content {
    Text(String),
    Parts(Vec<TextPart>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TextPart {
    pub(crate) text: Option<String>,
}

impl Content {
    pub(crate) fn into_text(self) -> String {
        match self {
            Content::Text(s) => s,
            Content::Parts(parts) => parts.into_iter().filter_map(|p| p.text).collect(),
        }
    }
}

/// A whole (non-streaming) completion, for servers that ignore `stream: true`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Completion {
    pub(crate) choices: Option<Vec<CompletionChoice>>,
    pub(crate) usage: Option<WireUsage>,
    pub(crate) error: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CompletionChoice {
    pub(crate) index: Option<u64>,
    pub(crate) message: Option<Delta>,
    /// The legacy completions shape, which some servers still answer with.
    pub(crate) text: Option<String>,
    pub(crate) finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireUsage {
    pub(crate) prompt_tokens: Option<u64>,
    pub(crate) completion_tokens: Option<u64>,
    pub(crate) total_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        let prompt_tokens = u.prompt_tokens.unwrap_or(0);
        let completion_tokens = u.completion_tokens.unwrap_or(0);
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: u.total_tokens.unwrap_or(prompt_tokens.saturating_add(completion_tokens)),
        }
    }
}

/// Maps a provider's `finish_reason`. Only `length` (the token limit cut the reply) is kept
/// apart, because it tells the user the answer is incomplete. Everything else, `stop`,
/// `eos`, `tool_calls`, `function_call`, `content_filter`, vLLM's `abort` and values we do not
/// know, ends the reply as `Stop`: the text received is all there is, and Parlor's
/// `FinishReason` has no finer kinds. (`Error` is reserved for failures we detect ourselves.)
pub(crate) fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "length" => FinishReason::Length,
        "stop" => FinishReason::Stop,
        other => {
            tracing::debug!(finish_reason = other, "provider finish_reason mapped to stop");
            FinishReason::Stop
        }
    }
}

/// A readable message from an error payload: OpenAI's `{"error": {"message": …}}`, Ollama's
/// `{"error": "…"}`, or the JSON text itself.
pub(crate) fn error_message(error: &serde_json::Value) -> String {
    match error {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(o) => match o.get("message") {
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => error.to_string(),
        },
        other => other.to_string(),
    }
}
