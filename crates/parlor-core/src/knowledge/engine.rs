//! [`KnowledgeEngine`]: the built-in [`Engine`], answering from retrieved passages without a
//! model. It is what a chatbot with no `model` uses, and what the demo chatbot runs on.

use super::answer::{ANSWER_THRESHOLD, compose_answer};
use crate::engine::{Engine, EngineError, EngineEvent, EngineStream, GenerateRequest};
use crate::model::FinishReason;
use async_trait::async_trait;
use futures::StreamExt;

/// Answers with the best passage of the request (already re-ranked by
/// [`rerank`](super::rerank), best first, `rank` the normalized score), or with the
/// chatbot's fallback message when none scores at least the threshold. The same request
/// always gives the same events.
#[derive(Clone, Copy, Debug)]
pub struct KnowledgeEngine {
    threshold: f64,
}

impl KnowledgeEngine {
    /// An engine answering from passages scoring at least `threshold` (in [0, 1]).
    pub fn new(threshold: f64) -> Self {
        KnowledgeEngine { threshold }
    }

    pub fn threshold(&self) -> f64 {
        self.threshold
    }
}

impl Default for KnowledgeEngine {
    fn default() -> Self {
        KnowledgeEngine::new(ANSWER_THRESHOLD)
    }
}

#[async_trait]
impl Engine for KnowledgeEngine {
    async fn generate(&self, req: GenerateRequest) -> Result<EngineStream, EngineError> {
        let answer = compose_answer(&req.question, &req.passages, self.threshold, &req.fallback_message);
        let events: Vec<Result<EngineEvent, EngineError>> = word_pieces(&answer.text)
            .into_iter()
            .map(|piece| Ok(EngineEvent::Delta(piece.to_string())))
            .chain([
                Ok(EngineEvent::Cited(answer.cited)),
                Ok(EngineEvent::Done { finish: FinishReason::Stop, usage: None }),
            ])
            .collect();
        Ok(futures::stream::iter(events).boxed())
    }
}

/// `text` in word-sized pieces, each word with the whitespace before it, so the pieces
/// joined give `text` back exactly and a client sees the reply appear word by word.
pub(crate) fn word_pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, ch) in text.char_indices() {
        if ch.is_whitespace() {
            if in_word {
                pieces.push(&text[start..i]);
                start = i;
                in_word = false;
            }
        } else {
            in_word = true;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::rerank::tests::hit;

    fn request(question: &str, passages: Vec<crate::model::PassageHit>) -> GenerateRequest {
        GenerateRequest {
            model: String::new(),
            instructions: String::new(),
            history: Vec::new(),
            question: question.into(),
            image_urls: Vec::new(),
            passages,
            temperature: 0.0,
            fallback_message: "I can't help with that.".into(),
        }
    }

    fn collect(engine: &KnowledgeEngine, req: GenerateRequest) -> Vec<EngineEvent> {
        futures::executor::block_on(async {
            let stream = engine.generate(req).await.unwrap();
            stream.map(|e| e.unwrap()).collect::<Vec<_>>().await
        })
    }

    #[test]
    fn pieces_join_back() {
        let text = "Hello  world,\nnew line ";
        assert_eq!(word_pieces(text), ["Hello", "  world,", "\nnew", " line", " "]);
        assert_eq!(word_pieces(text).concat(), text);
        assert!(word_pieces("").is_empty());
    }

    #[test]
    fn streams_the_answer_then_citations_then_done() {
        let engine = KnowledgeEngine::default();
        let passages =
            vec![hit("How do I reset my password?", "Click Forgot password on the sign-in page.", 0.9)];
        let events = collect(&engine, request("how do I reset my password", passages));
        let (last, rest) = events.split_last().unwrap();
        assert_eq!(*last, EngineEvent::Done { finish: FinishReason::Stop, usage: None });
        assert_eq!(rest.last(), Some(&EngineEvent::Cited(vec![0])));
        let text: String = rest
            .iter()
            .filter_map(|e| if let EngineEvent::Delta(d) = e { Some(d.as_str()) } else { None })
            .collect();
        assert_eq!(text, "Click Forgot password on the sign-in page.");
        let again =
            vec![hit("How do I reset my password?", "Click Forgot password on the sign-in page.", 0.9)];
        assert_eq!(events, collect(&engine, request("how do I reset my password", again)), "deterministic");
    }

    #[test]
    fn answers_the_fallback_without_citations() {
        let events =
            collect(&KnowledgeEngine::default(), request("weather tomorrow", vec![hit("A", "b", 0.1)]));
        assert_eq!(events[events.len() - 2], EngineEvent::Cited(vec![]));
        let text: String = events
            .iter()
            .filter_map(|e| if let EngineEvent::Delta(d) = e { Some(d.as_str()) } else { None })
            .collect();
        assert_eq!(text, "I can't help with that.");
    }
}
