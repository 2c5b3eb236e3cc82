//! The built-in knowledge engine: answers from the chatbot's own documents, offline,
//! deterministically and fast, with no language model.
//!
//! The database does the retrieval with its own full-text index (SQLite FTS5, PostgreSQL
//! `tsvector`); this module does what happens around it:
//!
//! 1. [`split_passages`] cuts each document into the passages the store indexes, each
//!    beside its document's title.
//! 2. [`retrieval_query`] turns the question into a [`Query`](crate::search::Query) for that
//!    index: stopwords out, stems as prefix terms, typos corrected against the chatbot's
//!    [`Vocabulary`], synonyms the documents use, CJK runs as phrases.
//! 3. [`rerank`] scores the database's candidates in [0, 1] (coverage of the question,
//!    title match, database rank) and [`ranked_passages`] hands them to the engine.
//! 4. [`KnowledgeEngine`] writes the reply from the best passage (an FAQ entry's content
//!    when its title matches), cites it, or answers the fallback message.
//!
//! The reply service glues these together:
//!
//! ```text
//! let query = retrieval_query(&question, &vocabulary);
//! let hits = store.search_passages(chatbot, &query, CANDIDATES).await?;   // the store's part
//! let passages = ranked_passages(rerank(&question, hits));
//! engine.generate(GenerateRequest { passages, .. }).await
//! ```
//!
//! [`eval`] measures the whole pipeline against a plain BM25 baseline on any backend.

mod answer;
mod demo;
mod engine;
pub mod eval;
mod passages;
mod query;
mod rerank;
mod synonyms;
mod text;
mod vocabulary;

pub use answer::{ANSWER_THRESHOLD, Answer, compose_answer};
pub use demo::{demo_documents, parse_documents};
pub use engine::KnowledgeEngine;
pub use passages::{MAX_PASSAGE_CHARS, split_passages};
pub use query::retrieval_query;
pub use rerank::{ScoredPassage, ranked_passages, rerank};
pub use vocabulary::Vocabulary;

/// How many candidate passages to ask the database for. Enough for the right one to be
/// among them when BM25 ranks it a few places down (which is what re-ranking fixes), few
/// enough that re-ranking stays well under a millisecond.
pub const CANDIDATES: usize = 20;
