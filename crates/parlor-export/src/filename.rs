//! The download's name: the chatbot and the date range, made safe for a
//! `Content-Disposition` header.
//!
//! A chatbot name is user input: it may hold quotes, slashes, control characters or
//! non-ASCII letters. The plain `filename="…"` parameter only carries ASCII reliably, so it
//! gets a sanitized ASCII fallback; browsers that read RFC 6266's `filename*` get the full
//! UTF-8 name, percent-encoded.

use chrono::NaiveDate;
use std::fmt::Write as _;

/// Characters a name keeps at most, so a long chatbot name cannot make an unwieldy file name.
const MAX_NAME_CHARS: usize = 80;

/// The export's ASCII file name, e.g. `Support_Bot_records_2026-01-01_to_2026-01-31.xlsx`
/// (one date when the range is one day). Quotes, slashes, backslashes, control characters,
/// characters Windows forbids in file names, and non-ASCII characters become `_`;
/// whitespace runs become one `_`. Safe inside a quoted `filename="…"` parameter.
pub fn export_filename(chatbot_name: &str, start_date: NaiveDate, end_date: NaiveDate) -> String {
    let name = sanitize(chatbot_name, |c| c.is_ascii() && !c.is_ascii_control());
    build(&name, start_date, end_date)
}

/// A full `Content-Disposition` header value for the export: `attachment`, the ASCII name
/// of [`export_filename`], and, when the chatbot name is not plain ASCII, the UTF-8 name as
/// `filename*` (RFC 6266/8187), which browsers prefer.
pub fn content_disposition(chatbot_name: &str, start_date: NaiveDate, end_date: NaiveDate) -> String {
    let ascii = export_filename(chatbot_name, start_date, end_date);
    let unicode = build(&sanitize(chatbot_name, |c| !c.is_control()), start_date, end_date);
    let mut value = format!("attachment; filename=\"{ascii}\"");
    if unicode != ascii {
        value.push_str("; filename*=UTF-8''");
        for byte in unicode.bytes() {
            // RFC 8187 attr-char: letters, digits and a few marks go as they are.
            if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
                value.push(char::from(byte));
            } else {
                // Writing to a String cannot fail.
                let _ = write!(value, "%{byte:02X}");
            }
        }
    }
    value
}

fn build(name: &str, start: NaiveDate, end: NaiveDate) -> String {
    let name = if name.is_empty() { "chatbot" } else { name };
    if start == end {
        format!("{name}_records_{start}.xlsx")
    } else {
        format!("{name}_records_{start}_to_{end}.xlsx")
    }
}

/// `name` with every character `keep` rejects, and every character unsafe in a file name or a
/// quoted header parameter, replaced by `_`; whitespace runs become one `_`; no `_`, `.`
/// runs at the ends (a leading dot hides a file on Unix); at most [`MAX_NAME_CHARS`] chars.
fn sanitize(name: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().take(MAX_NAME_CHARS) {
        let safe = keep(c) && !matches!(c, '"' | '\\' | '/' | ':' | '*' | '?' | '<' | '>' | '|' | '%' | ';');
        let c = if c.is_whitespace() || !safe { '_' } else { c };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out.trim_matches(|c| c == '_' || c == '.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn names_the_chatbot_and_the_dates() {
        assert_eq!(
            export_filename("Support Bot", d("2026-01-01"), d("2026-01-31")),
            "Support_Bot_records_2026-01-01_to_2026-01-31.xlsx"
        );
        assert_eq!(export_filename("Bot", d("2026-01-01"), d("2026-01-01")), "Bot_records_2026-01-01.xlsx");
    }

    #[test]
    fn sanitizes_hostile_names() {
        let name = export_filename("  ../\"evil\"\r\n; x=\\y  ", d("2026-01-01"), d("2026-01-02"));
        assert_eq!(name, "evil_x=_y_records_2026-01-01_to_2026-01-02.xlsx");
        assert_eq!(
            export_filename("\u{7}//", d("2026-01-01"), d("2026-01-01")),
            "chatbot_records_2026-01-01.xlsx"
        );
        let long = export_filename(&"a".repeat(500), d("2026-01-01"), d("2026-01-01"));
        assert!(long.len() < 120);
    }

    #[test]
    fn non_ascii_gets_a_fallback_and_a_utf8_name() {
        let (a, b) = (d("2026-03-01"), d("2026-03-02"));
        assert_eq!(export_filename("Café Bot ✓", a, b), "Caf_Bot_records_2026-03-01_to_2026-03-02.xlsx");
        assert_eq!(
            content_disposition("Café Bot", a, b),
            "attachment; filename=\"Caf_Bot_records_2026-03-01_to_2026-03-02.xlsx\"; \
             filename*=UTF-8''Caf%C3%A9_Bot_records_2026-03-01_to_2026-03-02.xlsx"
        );
        assert_eq!(content_disposition("Bot", a, a), "attachment; filename=\"Bot_records_2026-03-01.xlsx\"");
    }
}
