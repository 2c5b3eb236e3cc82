//! Every record comes back, every column, under a bold, frozen, filtered header.

use crate::helpers::{
    assert_row, cell, date_time, export, open, options, part, record, records, sheet, text,
};
use calamine::{Data, Reader};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use parlor_core::clock::Timestamp;
use parlor_export::COLUMN_HEADERS;

#[test]
fn rows_read_back_equal_to_the_records() {
    let input = records(0..25);
    let (bytes, rows) = export(&input, &options(Tz::UTC));

    assert_eq!(rows, 25);
    let range = sheet(&bytes, "Records");
    assert_eq!(range.height(), 26);
    for (i, r) in input.iter().enumerate() {
        assert_row(&range, i + 1, r, Tz::UTC);
    }
}

#[test]
fn header_is_bold_frozen_and_filtered() {
    let (bytes, _) = export(&records(0..3), &options(Tz::UTC));

    let range = sheet(&bytes, "Records");
    let headers: Vec<String> = (0..16).map(|c| text(&range, 0, c)).collect();
    assert_eq!(headers, COLUMN_HEADERS);
    assert_eq!(
        headers,
        [
            "ID",
            "Input",
            "Condensed input",
            "Type",
            "Reference",
            "Output",
            "Faithfulness",
            "Answer relevancy",
            "Context precision",
            "Answer correctness",
            "Answer similarity",
            "Context recall",
            "Reply time (s)",
            "Created at",
            "Conversation",
            "Contact",
        ]
    );

    let styles = open(&bytes).worksheet_style("Records").unwrap();
    for c in 0..16 {
        let font = styles.get((0, c)).and_then(|s| s.font.as_ref());
        assert!(font.is_some_and(|f| f.is_bold()), "header {c} is bold");
    }
    let data_font = styles.get((1, 1)).and_then(|s| s.font.as_ref());
    assert!(!data_font.is_some_and(|f| f.is_bold()), "data is not bold");
    // Long text wraps; the date cell has a date-time format.
    for c in [1, 4, 5] {
        let wrap = styles.get((1, c)).and_then(|s| s.alignment.as_ref()).is_some_and(|a| a.wrap_text);
        assert!(wrap, "column {c} wraps");
    }
    let date_format = styles.get((1, 13)).and_then(|s| s.number_format.as_ref()).unwrap();
    assert_eq!(date_format.format_code, "yyyy-mm-dd hh:mm:ss");

    let xml = part(&bytes, "xl/worksheets/sheet1.xml");
    assert!(
        xml.contains(r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#),
        "{xml}"
    );
    assert!(xml.contains(r#"<autoFilter ref="A1:P4"/>"#), "{xml}");
    assert!(xml.contains(r#"<col min="2" max="2" width="50.7109375" style="#), "column widths: {xml}");
}

#[test]
fn created_at_is_a_date_in_the_configured_zone() {
    let at = |s: &str| Timestamp(s.parse::<DateTime<Utc>>().unwrap());
    let mut winter = record(0);
    winter.created_at = at("2026-01-15T12:00:00.250Z");
    let mut summer = record(1);
    summer.created_at = at("2026-07-15T23:30:00Z");
    let input = [winter, summer];

    let utc = sheet(&export(&input, &options(Tz::UTC)).0, "Records");
    let paris = sheet(&export(&input, &options(Tz::Europe__Paris)).0, "Records");

    let naive = |s: &str| s.parse::<chrono::NaiveDateTime>().unwrap();
    assert_eq!(date_time(&utc, 1, 13), naive("2026-01-15T12:00:00.250"));
    assert_eq!(date_time(&paris, 1, 13), naive("2026-01-15T13:00:00.250"));
    assert_eq!(date_time(&utc, 2, 13), naive("2026-07-15T23:30:00"));
    assert_eq!(date_time(&paris, 2, 13), naive("2026-07-16T01:30:00")); // summer time, next day
}

#[test]
fn empty_export_is_a_header_only_sheet() {
    let (bytes, rows) = export(&[], &options(Tz::UTC));

    assert_eq!(rows, 0);
    let book = open(&bytes);
    assert_eq!(book.sheet_names(), ["Records"]);
    let range = sheet(&bytes, "Records");
    assert_eq!(range.height(), 1);
    assert_eq!(text(&range, 0, 0), "ID");
    assert_eq!(cell(&range, 0, 15), Data::String("Contact".into()));
    assert!(part(&bytes, "xl/worksheets/sheet1.xml").contains(r#"<autoFilter ref="A1:P1"/>"#));
}

#[test]
fn non_numeric_reply_time_and_odd_scores_do_not_fail_the_export() {
    let mut r = record(1);
    r.reply_time = Some("about 2 s".to_owned());
    r.faithfulness_score = Some(f64::NAN);
    r.answer_relevancy_score = Some(f64::INFINITY);

    let range = sheet(&export(&[r], &options(Tz::UTC)).0, "Records");

    assert_eq!(text(&range, 1, 12), "about 2 s");
    assert_eq!(cell(&range, 1, 6), Data::Empty);
    assert_eq!(cell(&range, 1, 7), Data::Empty);
}

#[test]
fn document_properties_name_the_chatbot_and_zone() {
    let (bytes, _) = export(&records(0..1), &options(Tz::Europe__Paris));

    let core = part(&bytes, "docProps/core.xml");
    assert!(core.contains("<dc:title>Test bot records</dc:title>"), "{core}");
    assert!(core.contains("Times are in Europe/Paris."), "{core}");
    assert!(core.contains("2026-01-01T00:00:00Z"), "{core}");
}
