//! Text that would break the file or mislead Excel is made safe.

use crate::helpers::{export, open, options, part, record, sheet, text};
use calamine::Reader;
use chrono_tz::Tz;
use parlor_export::MAX_CELL_CHARS;

#[test]
fn xml_illegal_characters_are_removed() {
    let mut r = record(0);
    r.input_message = "a\u{0}b\u{1}c\u{8}d\u{B}e\u{C}f\u{1B}g\u{1F}h\u{FFFE}i\u{FFFF}j".to_owned();
    r.output_message = "keeps\ttab\nnewline\r\nand CR, \u{FFFD} é 😀".to_owned();
    r.kind = "\u{7}New".to_owned();

    let (bytes, _) = export(&[r.clone()], &options(Tz::UTC));
    let range = sheet(&bytes, "Records");

    assert_eq!(text(&range, 1, 1), "abcdefghij");
    assert_eq!(text(&range, 1, 5), r.output_message);
    assert_eq!(text(&range, 1, 3), "New");
    // No Excel `_xHHHH_` escapes of the removed characters were written either.
    let xml = part(&bytes, "xl/worksheets/sheet1.xml");
    assert!(!xml.contains("_x0000_") && !xml.contains("_x001B_") && !xml.contains("_xFFFF_"));
}

#[test]
fn long_text_is_cut_at_excels_limit_without_splitting_a_surrogate_pair() {
    let mut r = record(0);
    // The emoji (2 UTF-16 units) would straddle the limit: it goes whole.
    r.input_message = format!("{}😀tail", "x".repeat(MAX_CELL_CHARS - 1));
    // The emoji ends exactly on the limit: it stays.
    r.output_message = format!("{}😀tail", "y".repeat(MAX_CELL_CHARS - 2));
    // Far over the limit, and multi-byte.
    r.context = Some("é".repeat(100_000));
    r.condense_message = "z".repeat(MAX_CELL_CHARS);

    let range = sheet(&export(&[r], &options(Tz::UTC)).0, "Records");

    assert_eq!(text(&range, 1, 1), "x".repeat(MAX_CELL_CHARS - 1));
    assert_eq!(text(&range, 1, 5), format!("{}😀", "y".repeat(MAX_CELL_CHARS - 2)));
    assert_eq!(text(&range, 1, 5).encode_utf16().count(), MAX_CELL_CHARS);
    assert_eq!(text(&range, 1, 4), "é".repeat(MAX_CELL_CHARS));
    assert_eq!(text(&range, 1, 2), "z".repeat(MAX_CELL_CHARS));
}

#[test]
fn formula_like_text_stays_text() {
    let formulas = ["=1+1", "+SUM(A1:A2)", "-2+3", "@HYPERLINK(\"http://x\")", "=cmd|' /C calc'!A0"];
    let mut r = record(0);
    r.input_message = formulas[0].to_owned();
    r.condense_message = formulas[1].to_owned();
    r.output_message = formulas[2].to_owned();
    r.context = Some(formulas[3].to_owned());
    r.kind = formulas[4].to_owned();

    let (bytes, _) = export(&[r], &options(Tz::UTC));

    let range = sheet(&bytes, "Records");
    for (c, expected) in [(1, 0), (2, 1), (5, 2), (4, 3), (3, 4)] {
        assert_eq!(text(&range, 1, c), formulas[expected]);
    }
    let formulas_read = open(&bytes).worksheet_formula("Records").unwrap();
    assert!(formulas_read.used_cells().all(|(_, _, f)| f.is_empty()), "no formulas");
    let xml = part(&bytes, "xl/worksheets/sheet1.xml");
    assert!(!xml.contains("<f>"), "no formula elements");
    // Quote-prefixed, so editing such a cell in Excel keeps it text.
    assert!(part(&bytes, "xl/styles.xml").contains(r#"quotePrefix="1""#));
}
