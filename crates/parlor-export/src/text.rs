//! Making arbitrary user and model text fit an Excel cell.
//!
//! rust_xlsxwriter rejects a string longer than Excel's cell limit (the whole export would
//! fail on one long answer), and it escapes control characters as `_xHHHH_` instead of
//! dropping them, which Excel shows as literal garbage. So text is cleaned here first:
//! characters XML 1.0 forbids are removed and the rest is cut to the limit.

use std::borrow::Cow;

/// Excel's limit on the characters in a cell, counted as UTF-16 code units, as Excel does.
pub const MAX_CELL_CHARS: usize = 32_767;

/// True for the characters XML 1.0 does not allow in a document: C0 controls other than tab,
/// line feed and carriage return, and the non-characters U+FFFE and U+FFFF. (Lone surrogates,
/// the remaining forbidden code points, cannot occur in a Rust string.)
fn is_xml_illegal(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// A byte-level pre-check for [`is_xml_illegal`], so the common clean string is scanned once
/// without decoding: a forbidden control is a single byte below 0x20, and U+FFFE/U+FFFF are
/// encoded `EF BF BE`/`EF BF BF`, so their lead byte 0xEF is a cheap (over-)approximation.
fn may_contain_illegal(s: &str) -> bool {
    s.bytes().any(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0xEF)
}

/// `s` without XML-illegal characters, cut to at most [`MAX_CELL_CHARS`] UTF-16 code units
/// without splitting a surrogate pair (a character outside the BMP counts two and is kept
/// whole or dropped whole). Borrows when nothing needs changing, the usual case.
pub(crate) fn clean_cell_text(s: &str) -> Cow<'_, str> {
    let dirty = may_contain_illegal(s) && s.chars().any(is_xml_illegal);
    // A char takes at least as many UTF-8 bytes as UTF-16 units, so a string of at most
    // MAX_CELL_CHARS bytes cannot be too long: only longer ones are counted.
    let fits = s.len() <= MAX_CELL_CHARS || s.encode_utf16().count() <= MAX_CELL_CHARS;
    if !dirty && fits {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(MAX_CELL_CHARS * 3));
    let mut units = 0;
    for c in s.chars().filter(|&c| !is_xml_illegal(c)) {
        units += c.len_utf16();
        if units > MAX_CELL_CHARS {
            break;
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// True when Excel would take the text for a formula if it were typed in: it starts with
/// `=`, `+`, `-` or `@`. Such text is still written as a string cell (never a formula), and
/// additionally marked with Excel's quote prefix so that editing the cell keeps it text.
pub(crate) fn looks_like_formula(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(clean_cell_text("plain\ttext\r\n é ✓ 😀"), Cow::Borrowed(_)));
    }

    #[test]
    fn removes_forbidden_characters_only() {
        let s = "a\u{0}b\u{8}c\u{B}d\u{C}e\u{1F}f\u{FFFE}g\u{FFFF}h\t\n\r\u{7F}\u{FFFD}\u{EFFF}";
        assert_eq!(clean_cell_text(s), "abcdefgh\t\n\r\u{7F}\u{FFFD}\u{EFFF}");
    }

    #[test]
    fn cuts_at_the_limit_in_utf16_units() {
        let s = "x".repeat(MAX_CELL_CHARS + 10);
        assert_eq!(clean_cell_text(&s).len(), MAX_CELL_CHARS);
        let exact = "é".repeat(MAX_CELL_CHARS);
        assert!(matches!(clean_cell_text(&exact), Cow::Borrowed(_)));
    }

    #[test]
    fn never_splits_a_surrogate_pair() {
        // 32,766 units, then an emoji (2 units) that would end at 32,768: dropped whole.
        let s = format!("{}😀tail", "x".repeat(MAX_CELL_CHARS - 1));
        let cut = clean_cell_text(&s);
        assert_eq!(cut.encode_utf16().count(), MAX_CELL_CHARS - 1);
        assert!(!cut.contains('😀'));
        // Ending exactly on the limit: kept.
        let s = format!("{}😀tail", "x".repeat(MAX_CELL_CHARS - 2));
        assert!(clean_cell_text(&s).ends_with('😀'));
    }

    #[test]
    fn formula_prefixes() {
        for s in ["=1+1", "+1", "-1", "@SUM(A1)"] {
            assert!(looks_like_formula(s), "{s}");
        }
        for s in ["", "1=1", " =1", "text"] {
            assert!(!looks_like_formula(s), "{s}");
        }
    }
}
