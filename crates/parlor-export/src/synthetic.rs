//! Synthetic records for benchmarks: the `i`th record of a deterministic generator
//! (SplitMix64 seeded with the row number, a fixed word list) that `bench/openpyxl_export.py`
//! reproduces exactly, so the Rust exporter, the server's export and openpyxl write the same
//! rows. Used by the `export_bench` example and `parlor-bench`; not part of the export itself.

use crate::BoxError;
use chrono::{DateTime, Utc};
use parlor_core::clock::Timestamp;
use parlor_core::model::Record;

/// 2026-01-01T00:00:00Z in milliseconds: the first record's time.
pub const BASE_MS: i64 = 1_767_225_600_000;

const WORDS: [&str; 64] = [
    "account",
    "password",
    "reset",
    "settings",
    "security",
    "email",
    "billing",
    "invoice",
    "plan",
    "upgrade",
    "cancel",
    "refund",
    "order",
    "shipping",
    "delivery",
    "address",
    "payment",
    "card",
    "login",
    "two-factor",
    "code",
    "verify",
    "profile",
    "update",
    "notification",
    "mobile",
    "app",
    "browser",
    "error",
    "message",
    "support",
    "ticket",
    "agent",
    "chat",
    "history",
    "export",
    "report",
    "team",
    "member",
    "invite",
    "role",
    "permission",
    "admin",
    "workspace",
    "project",
    "document",
    "upload",
    "file",
    "limit",
    "storage",
    "quota",
    "trial",
    "discount",
    "coupon",
    "language",
    "time zone",
    "calendar",
    "integration",
    "webhook",
    "API",
    "key",
    "token",
    "usage",
    "dashboard",
];

/// SplitMix64: tiny, fast, and easy to reproduce bit for bit in Python.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// A version-7-shaped UUID string.
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-7{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    /// A sentence of `lo..=hi` words, capitalized, ending with `end`.
    fn sentence(&mut self, lo: u64, hi: u64, end: &str) -> String {
        let n = self.range(lo, hi);
        let words: Vec<&str> = (0..n).map(|_| WORDS[(self.next() % 64) as usize]).collect();
        let text = words.join(" ");
        let mut chars = text.chars();
        let first = chars.next().map(|c| c.to_ascii_uppercase()).into_iter();
        first.chain(chars).collect::<String>() + end
    }

    /// A score in [0, 1] with three decimals, or null one time in five.
    fn score(&mut self) -> Option<f64> {
        let v = self.next();
        (!v.is_multiple_of(5)).then(|| ((v >> 11) % 1001) as f64 / 1000.0)
    }
}

/// The `i`th synthetic record.
pub fn record(i: u64) -> Result<Record, BoxError> {
    let mut rng = Rng(i);
    let id = rng.uuid();
    let conversation = rng.uuid();
    let contact = if rng.next().is_multiple_of(4) { None } else { Some(rng.uuid()) };
    let input = rng.sentence(8, 20, "?");
    let condensed = if rng.next().is_multiple_of(3) { rng.sentence(6, 12, "?") } else { input.clone() };
    let kind = if rng.next().is_multiple_of(5) { "New" } else { "Follow" };
    let context = if rng.next().is_multiple_of(10) {
        None
    } else {
        let n = rng.range(2, 4);
        Some((0..n).map(|_| rng.sentence(15, 30, ".")).collect::<Vec<_>>().join("\n\n"))
    };
    let n = rng.range(2, 5);
    let output = (0..n).map(|_| rng.sentence(8, 20, ".")).collect::<Vec<_>>().join(" ");
    let scores: Vec<Option<f64>> = (0..6).map(|_| rng.score()).collect();
    let reply_ms = rng.range(300, 20_299);
    let created_ms = BASE_MS + i64::try_from(i * 2000 + rng.next() % 1000)?;
    let message_id = id.parse()?;
    Ok(Record {
        id: message_id,
        input_message: input,
        condense_message: condensed,
        output_message: output,
        context,
        faithfulness_score: scores[0],
        answer_relevancy_score: scores[1],
        context_precision_score: scores[2],
        answer_correctness_score: scores[3],
        answer_similarity_score: scores[4],
        context_recall_score: scores[5],
        display_faithfulness_score: None,
        display_answer_relevancy_score: None,
        display_context_precision_score: None,
        display_answer_correctness_score: None,
        display_answer_similarity_score: None,
        display_context_recall_score: None,
        reply_time: Some(format!("{}.{:03}", reply_ms / 1000, reply_ms % 1000)),
        created_at: Timestamp(DateTime::<Utc>::from_timestamp_millis(created_ms).ok_or("time out of range")?),
        error: None,
        conversation: conversation.parse()?,
        contact: contact.map(|c| c.parse()).transpose()?,
        user_message_id: message_id,
        bot_message_id: message_id,
        finish_reason: Some("stop".to_owned()),
        kind: kind.to_owned(),
    })
}
