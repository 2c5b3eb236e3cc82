//! Knowledge documents and the passages retrieval works on.

use super::JsonObject;
use crate::clock::Timestamp;
use crate::id::{ChatbotId, DocumentId, PassageId};
use serde::Serialize;
use utoipa::ToSchema;

/// A knowledge document of a chatbot. An FAQ entry is a document whose title is the question.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub id: DocumentId,
    pub chatbot: ChatbotId,
    pub title: String,
    pub content: String,
    #[schema(value_type = Object)]
    pub metadata: JsonObject,
    pub characters_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A passage found by retrieval, with the backend's full-text score.
#[derive(Clone, Debug)]
pub struct PassageHit {
    pub id: PassageId,
    pub document: DocumentId,
    pub document_title: String,
    pub document_size: i64,
    pub document_created_at: Timestamp,
    /// The passage's position in its document (0 is the first).
    pub position: i64,
    pub text: String,
    pub updated_at: Timestamp,
    /// The backend's relevance (higher is better); comparable only within one search.
    pub rank: f64,
}
