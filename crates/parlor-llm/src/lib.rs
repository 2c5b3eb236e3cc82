//! Parlor's client for OpenAI-compatible chat-completions servers (OpenAI, vLLM, Ollama,
//! llama.cpp, LM Studio, …), as a [`parlor_core::engine::Engine`].
//!
//! - [`Providers`] is the registry the server builds from the `[providers.NAME]` tables of
//!   its config file and asks to [`Providers::resolve`] a chatbot's `"provider/model"`.
//! - [`LlmEngine`] is one provider: it posts the chatbot's grounded prompt with
//!   `stream: true` and turns the server-sent events into `Delta`s and one `Done`. Over
//!   HTTP/1.1 by default; with `http2 = true`, over HTTP/2, every reply in flight on one
//!   connection ([`ProviderConfig::http2`]).
//!
//! The wire types are lenient on purpose (see `wire`): real compatible servers send chunks
//! that strict OpenAI types reject. Every network wait is bounded by the provider's timeouts,
//! and every failure is one of [`parlor_core::engine::EngineError`]'s variants.

mod config;
mod engine;
mod prompt;
mod providers;
mod stream;
mod wire;

pub use config::{ApiKey, ConfigError, DEFAULT_TIMEOUT, ProviderConfig, ProviderKind};
pub use engine::LlmEngine;
pub use providers::Providers;
