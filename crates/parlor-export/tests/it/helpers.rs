//! Record builders and readers shared by the tests.

use calamine::{Data, Range, Reader, Xlsx};
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use parlor_core::clock::Timestamp;
use parlor_core::model::Record;
use parlor_core::{ContactId, ConversationId, MessageId};
use parlor_export::{BoxError, ExportOptions, write_records};
use std::io::{Cursor, Read};

/// A fixed export time, so two exports of the same records give the same bytes.
pub(crate) fn generated_at() -> Timestamp {
    Timestamp::from_micros(1_767_225_600_000_000).unwrap() // 2026-01-01T00:00:00Z
}

pub(crate) fn options(time_zone: Tz) -> ExportOptions {
    ExportOptions::new(time_zone, "Test bot", generated_at())
}

/// The `i`th of a set of varied records: every optional field both set and null somewhere,
/// timestamps with milliseconds, on both sides of a daylight-saving change.
pub(crate) fn record(i: u32) -> Record {
    let score = |k: u32| (!i.is_multiple_of(3)).then(|| f64::from((i * 37 + k * 11) % 1000) / 1000.0);
    let created_ms = 1_767_225_600_000_i64 + i64::from(i) * 9_876_543_217; // ~114 days apart
    Record {
        id: MessageId::new(),
        input_message: format!("Question {i}: how do I reset my password?"),
        condense_message: if i.is_multiple_of(2) { format!("Question {i}") } else { String::new() },
        output_message: format!("Answer {i}:\nGo to Settings, then Security.\tDone."),
        context: (i % 4 != 1).then(|| format!("Passage {i} & <more> \"quoted\" _x0041_ text")),
        faithfulness_score: score(1),
        answer_relevancy_score: score(2),
        context_precision_score: score(3),
        answer_correctness_score: score(4),
        answer_similarity_score: score(5),
        context_recall_score: score(6),
        display_faithfulness_score: None,
        display_answer_relevancy_score: None,
        display_context_precision_score: None,
        display_answer_correctness_score: None,
        display_answer_similarity_score: None,
        display_context_recall_score: None,
        reply_time: (i % 5 != 4).then(|| format!("{}.{:03}", i % 7, i % 1000)),
        created_at: Timestamp(DateTime::<Utc>::from_timestamp_millis(created_ms).unwrap()),
        error: None,
        conversation: ConversationId::new(),
        contact: (i % 2 == 1).then(ContactId::new),
        user_message_id: MessageId::new(),
        bot_message_id: MessageId::new(),
        finish_reason: Some("stop".to_owned()),
        kind: if i.is_multiple_of(3) { "New" } else { "Follow" }.to_owned(),
    }
}

pub(crate) fn records(range: std::ops::Range<u32>) -> Vec<Record> {
    range.map(record).collect()
}

/// A batch source over `records`, `batch` at a time.
pub(crate) fn batches(
    records: Vec<Record>,
    batch: usize,
) -> impl FnMut() -> Result<Option<Vec<Record>>, BoxError> + Send + 'static {
    let mut rest = records.into_iter();
    move || Ok(Some(rest.by_ref().take(batch).collect()))
}

/// Writes `records` into memory with `opts`; returns the bytes and the reported row count.
pub(crate) fn export(records: &[Record], opts: &ExportOptions) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let rows = write_records(&mut out, opts, batches(records.to_vec(), 3)).unwrap();
    (out, rows)
}

pub(crate) fn open(bytes: &[u8]) -> Xlsx<Cursor<Vec<u8>>> {
    Xlsx::new(Cursor::new(bytes.to_vec())).unwrap()
}

pub(crate) fn sheet(bytes: &[u8], name: &str) -> Range<Data> {
    open(bytes).worksheet_range(name).unwrap()
}

/// The cell at `(row, col)`, `Empty` where nothing was written.
pub(crate) fn cell(range: &Range<Data>, row: usize, col: usize) -> Data {
    range.get((row, col)).cloned().unwrap_or(Data::Empty)
}

/// A text cell's text; an empty cell reads as "".
pub(crate) fn text(range: &Range<Data>, row: usize, col: usize) -> String {
    match cell(range, row, col) {
        Data::String(s) => s,
        Data::Empty => String::new(),
        other => panic!("({row}, {col}) is not text: {other:?}"),
    }
}

/// A date-time cell's wall-clock time (to the millisecond, as Excel stores it).
pub(crate) fn date_time(range: &Range<Data>, row: usize, col: usize) -> NaiveDateTime {
    match cell(range, row, col) {
        Data::DateTime(d) if d.is_datetime() => d.as_datetime().unwrap(),
        other => panic!("({row}, {col}) is not a date-time: {other:?}"),
    }
}

/// A raw part of the xlsx zip, for what calamine does not report.
pub(crate) fn part(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut s = String::new();
    zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
    s
}

/// Asserts that `range` row `row` shows `r`, every column, "Created at" in `tz`.
pub(crate) fn assert_row(range: &Range<Data>, row: usize, r: &Record, tz: Tz) {
    let opt_text = |s: &Option<String>| s.clone().unwrap_or_default();
    assert_eq!(text(range, row, 0), r.id.to_string(), "ID");
    assert_eq!(text(range, row, 1), r.input_message, "Input");
    assert_eq!(text(range, row, 2), r.condense_message, "Condensed input");
    assert_eq!(text(range, row, 3), r.kind, "Type");
    assert_eq!(text(range, row, 4), opt_text(&r.context), "Reference");
    assert_eq!(text(range, row, 5), r.output_message, "Output");
    let scores = [
        r.faithfulness_score,
        r.answer_relevancy_score,
        r.context_precision_score,
        r.answer_correctness_score,
        r.answer_similarity_score,
        r.context_recall_score,
    ];
    for (k, score) in scores.into_iter().enumerate() {
        let expected = score.map_or(Data::Empty, Data::Float);
        assert_eq!(cell(range, row, 6 + k), expected, "score {k}");
    }
    let reply = r.reply_time.as_deref().map(|t| Data::Float(t.parse().unwrap()));
    assert_eq!(cell(range, row, 12), reply.unwrap_or(Data::Empty), "Reply time");
    assert_eq!(date_time(range, row, 13), r.created_at.0.with_timezone(&tz).naive_local(), "Created at");
    assert_eq!(text(range, row, 14), r.conversation.to_string(), "Conversation");
    assert_eq!(text(range, row, 15), r.contact.map(|c| c.to_string()).unwrap_or_default(), "Contact");
}
