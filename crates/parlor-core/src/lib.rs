//! Parlor's domain: what an organization owns, how lists are paged, and the two seams the rest
//! of the system plugs into: [`store::Store`] (one implementation per database) and
//! [`engine::Engine`] (the built-in knowledge engine or an LLM provider).
//!
//! This crate does no I/O and knows no backend, so it builds fast and every other crate can
//! depend on it without dragging in sqlx, axum or reqwest.

pub mod clock;
pub mod engine;
pub mod error;
pub mod events;
pub mod id;
pub mod input;
pub mod knowledge;
pub mod model;
pub mod page;
pub mod search;
pub mod store;

pub use error::StoreError;
pub use id::*;
