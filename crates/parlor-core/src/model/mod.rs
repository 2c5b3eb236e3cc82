//! The resources as the API shows them. Each type serializes to exactly the contract's shape
//! (`../shared/API.md`): camelCase names, millisecond timestamps, every field always present.
//! Stores build these views directly, so a handler only wraps them in a response.

mod chatbot;
mod contact;
mod conversation;
mod knowledge;
mod org;
mod record;
mod visitor;
mod webhook;

pub use chatbot::*;
pub use contact::*;
pub use conversation::*;
pub use knowledge::*;
pub use org::*;
pub use record::*;
pub use visitor::*;
pub use webhook::*;

/// A JSON object a client gave, returned with its keys untouched.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;
