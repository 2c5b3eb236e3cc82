//! Question/answer records: one per bot reply to a user message.

use crate::clock::Timestamp;
use crate::id::{ContactId, ConversationId, MessageId};
use serde::Serialize;
use utoipa::ToSchema;

/// A chatbot's answered question, in the original platform's field names.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The bot reply's id.
    pub id: MessageId,
    pub input_message: String,
    pub condense_message: String,
    pub output_message: String,
    pub context: Option<String>,
    pub faithfulness_score: Option<f64>,
    pub answer_relevancy_score: Option<f64>,
    pub context_precision_score: Option<f64>,
    pub answer_correctness_score: Option<f64>,
    pub answer_similarity_score: Option<f64>,
    pub context_recall_score: Option<f64>,
    pub display_faithfulness_score: Option<String>,
    pub display_answer_relevancy_score: Option<String>,
    pub display_context_precision_score: Option<String>,
    pub display_answer_correctness_score: Option<String>,
    pub display_answer_similarity_score: Option<String>,
    pub display_context_recall_score: Option<String>,
    /// Seconds from question to complete answer, `"1.234"`.
    pub reply_time: Option<String>,
    pub created_at: Timestamp,
    pub error: Option<String>,
    pub conversation: ConversationId,
    pub contact: Option<ContactId>,
    pub user_message_id: MessageId,
    pub bot_message_id: MessageId,
    pub finish_reason: Option<String>,
    /// `"New"` for the first question of its conversation, else `"Follow"`.
    #[serde(rename = "type")]
    pub kind: String,
}
