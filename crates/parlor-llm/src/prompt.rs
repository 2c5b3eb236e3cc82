//! Turns a [`GenerateRequest`] into chat messages.
//!
//! One system message carries the chatbot's instructions and the retrieved passages, numbered
//! and titled so the model can ground its answer and the user can be told which document
//! said what; then the history, oldest first; then the question, with its images as parts.

use crate::wire::{ChatMessage, ContentPart, ImageUrl, MessageContent};
use parlor_core::engine::{GenerateRequest, Role};
use std::fmt::Write as _;

pub(crate) fn messages(req: &GenerateRequest) -> Vec<ChatMessage> {
    let mut out = Vec::with_capacity(req.history.len() + 2);
    out.push(ChatMessage { role: "system", content: MessageContent::Text(system_prompt(req)) });
    for turn in &req.history {
        let role = match turn.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        out.push(ChatMessage { role, content: MessageContent::Text(turn.content.clone()) });
    }
    let content = if req.image_urls.is_empty() {
        MessageContent::Text(req.question.clone())
    } else {
        let mut parts = Vec::with_capacity(req.image_urls.len() + 1);
        parts.push(ContentPart::Text { text: req.question.clone() });
        parts.extend(
            req.image_urls
                .iter()
                .map(|url| ContentPart::ImageUrl { image_url: ImageUrl { url: url.clone() } }),
        );
        MessageContent::Parts(parts)
    };
    out.push(ChatMessage { role: "user", content });
    out
}

/// The instructions, then the grounding: the passages best first as `[n] Title` blocks, with
/// the rule to answer from them and to say so when they do not hold the answer (using the
/// chatbot's fallback message as the wording, when it has one).
pub(crate) fn system_prompt(req: &GenerateRequest) -> String {
    let mut s = String::new();
    let instructions = req.instructions.trim();
    if !instructions.is_empty() {
        s.push_str(instructions);
        s.push_str("\n\n");
    }
    let fallback = req.fallback_message.trim();
    if req.passages.is_empty() {
        s.push_str(
            "No passages from the knowledge base matched this question. If you cannot answer \
             from the conversation itself, say that you do not know rather than guessing.",
        );
    } else {
        s.push_str(
            "Answer the user's question using the numbered passages from the knowledge base \
             below. Base your answer on them, and if they do not contain the answer, say so \
             plainly instead of making one up.",
        );
    }
    if !fallback.is_empty() {
        // `write!` to a String cannot fail.
        let _ = write!(s, " When you cannot answer, reply with: \"{fallback}\"");
    }
    for (i, p) in req.passages.iter().enumerate() {
        let _ = write!(s, "\n\n[{}] {}\n{}", i + 1, p.document_title.trim(), p.text.trim());
    }
    s
}
