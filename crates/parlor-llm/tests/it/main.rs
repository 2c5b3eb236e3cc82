//! parlor-llm's tests: the real client driven against `parlor_testkit::fake_llm`, a local
//! server speaking the real chat-completions stream. One binary (per STYLE), one module per
//! concern; the helpers here build requests and collect what a reply stream yields.

mod config;
mod faults;
mod http2;
mod request;
mod stream;

use futures::StreamExt;
use parlor_core::clock;
use parlor_core::engine::{ChatTurn, Engine, EngineError, EngineEvent, GenerateRequest, Role, Usage};
use parlor_core::model::{FinishReason, PassageHit};
use parlor_core::{DocumentId, PassageId};
use parlor_llm::{LlmEngine, ProviderConfig};
use parlor_testkit::fake_llm::FakeLlm;
use std::time::Duration;

/// The provider timeout in tests: long enough for a loaded 2-core machine, short enough
/// that the timeout tests run in well under a second each.
const TIMEOUT: Duration = Duration::from_millis(400);

/// No test may take longer than this, whatever the client does.
const TEST_LIMIT: Duration = Duration::from_secs(10);

fn engine_at(base_url: &str) -> LlmEngine {
    let config = ProviderConfig::openai(base_url).expect("base url").with_timeout(TIMEOUT);
    LlmEngine::new("fake", config).expect("engine")
}

fn engine(fake: &FakeLlm) -> LlmEngine {
    engine_at(&fake.base_url())
}

fn passage(title: &str, text: &str) -> PassageHit {
    PassageHit {
        id: PassageId::new(),
        document: DocumentId::new(),
        document_title: title.to_owned(),
        document_size: text.len() as i64,
        document_created_at: clock::now(),
        position: 0,
        text: text.to_owned(),
        updated_at: clock::now(),
        rank: 1.0,
    }
}

fn request() -> GenerateRequest {
    GenerateRequest {
        model: "llama3".to_owned(),
        instructions: "You are Parlor's helpful assistant.".to_owned(),
        history: vec![
            ChatTurn { role: Role::User, content: "Hi".to_owned() },
            ChatTurn { role: Role::Assistant, content: "Hello! How can I help?".to_owned() },
        ],
        question: "How do I reset my password?".to_owned(),
        image_urls: vec![],
        passages: vec![
            passage("Account help", "Use the Forgot password link on the sign-in page."),
            passage("FAQ", "Passwords must be 12 characters long."),
        ],
        temperature: 0.3,
        fallback_message: "Sorry, I don't know.".to_owned(),
    }
}

/// Everything a reply stream yielded, checked for the stream's promise: deltas, then
/// exactly one terminal item (`Done` or an error), then nothing.
#[derive(Debug, PartialEq)]
struct Outcome {
    deltas: Vec<String>,
    end: Result<(FinishReason, Option<Usage>), EngineError>,
}

impl Outcome {
    fn text(&self) -> String {
        self.deltas.concat()
    }
}

/// Generates and collects the whole reply; `Err` when `generate` itself failed.
async fn run(engine: &LlmEngine, req: GenerateRequest) -> Result<Outcome, EngineError> {
    tokio::time::timeout(TEST_LIMIT, async {
        let mut stream = engine.generate(req).await?;
        let mut deltas = Vec::new();
        let mut end = None;
        while let Some(item) = stream.next().await {
            assert!(end.is_none(), "item after the end: {item:?}");
            match item {
                Ok(EngineEvent::Delta(d)) => {
                    assert!(!d.is_empty(), "empty delta");
                    deltas.push(d);
                }
                Ok(EngineEvent::Done { finish, usage }) => end = Some(Ok((finish, usage))),
                Ok(EngineEvent::Cited(_)) => panic!("the LLM engine does not send Cited"),
                Err(e) => end = Some(Err(e)),
            }
        }
        Ok(Outcome { deltas, end: end.expect("the stream ended without Done or an error") })
    })
    .await
    .expect("the reply took longer than the test limit")
}

fn usage(prompt: u64, completion: u64) -> Option<Usage> {
    Some(Usage { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion })
}
