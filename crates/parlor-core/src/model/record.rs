//! Question/answer records: one per bot reply to a user message, and the case folding their
//! text filters compare with.

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

/// A reply time in milliseconds as the API shows it: seconds with three decimals, `"1.234"`.
pub fn reply_time_text(ms: i64) -> String {
    let ms = ms.max(0);
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The text a record's `userMessage`/`botMessage` filters are matched in: lowercased one
/// character at a time, with the Greek final sigma as an ordinary sigma.
///
/// Both stores keep this folding of each record's input and output beside the text and look
/// for the folded filter in it as a plain substring, so matching is the same on both
/// databases whatever their collation: SQLite's `lower()` and `LIKE` fold ASCII only, and
/// PostgreSQL's follow the database's locale. Folding character by character (unlike
/// `str::to_lowercase`, which lowercases a final `Σ` as `ς` by context) maps a substring of
/// a text to a substring of the text's folding, so a filter never misses text it is part of.
pub fn fold_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        for l in c.to_lowercase() {
            out.push(if l == 'ς' { 'σ' } else { l });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fold_case;

    #[test]
    fn reply_time_is_seconds_with_three_decimals() {
        assert_eq!(super::reply_time_text(1234), "1.234");
        assert_eq!(super::reply_time_text(5), "0.005");
        assert_eq!(super::reply_time_text(60_000), "60.000");
    }

    #[test]
    fn folds_beyond_ascii_and_keeps_substrings() {
        assert_eq!(fold_case("Crème BRÛLÉE"), "crème brûlée");
        assert_eq!(fold_case("ΟΔΟΣ"), "οδοσ");
        assert_eq!(fold_case("Straße"), "straße");
        assert_eq!(fold_case("ПРИВЕТ мир"), "привет мир");
        // A substring's folding is a substring of the text's folding, final sigma included.
        assert!(fold_case("ΟΔΟΣ ΕΝΑ").contains(&fold_case("ΟΣ Ε")));
        assert!(fold_case("ΟΔΟΣ").contains(&fold_case("Σ")));
    }
}
