//! The sheet layout: the columns API.md fixes for the export, their widths, and how data rows
//! are spread over sheets of at most Excel's row limit. Kept apart from the writer so the
//! arithmetic can be tested at the real limit without writing a million rows.

/// Rows in an Excel sheet, header included (2^20). A sheet holds `EXCEL_MAX_ROWS - 1`
/// records below its header; the next record starts a new sheet.
pub const EXCEL_MAX_ROWS: u32 = 1_048_576;

/// The column headers, in API.md's order (endpoint 9).
pub const COLUMN_HEADERS: [&str; 16] = [
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
];

/// Column indexes, named so the writer cannot drift from [`COLUMN_HEADERS`].
pub(crate) mod col {
    pub(crate) const ID: u16 = 0;
    pub(crate) const INPUT: u16 = 1;
    pub(crate) const CONDENSED: u16 = 2;
    pub(crate) const TYPE: u16 = 3;
    pub(crate) const REFERENCE: u16 = 4;
    pub(crate) const OUTPUT: u16 = 5;
    /// The six scores take columns `FIRST_SCORE..FIRST_SCORE + 6`.
    pub(crate) const FIRST_SCORE: u16 = 6;
    pub(crate) const REPLY_TIME: u16 = 12;
    pub(crate) const CREATED_AT: u16 = 13;
    pub(crate) const CONVERSATION: u16 = 14;
    pub(crate) const CONTACT: u16 = 15;
    pub(crate) const LAST: u16 = CONTACT;
}

/// What a column holds, which decides its width and cell format.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ColumnKind {
    /// A UUID: wide enough for 36 characters, no wrap.
    Id,
    /// Free text that may be long: wrapped, so a row shows more than one line of it.
    LongText,
    /// A short label (New/Follow).
    Label,
    /// A score or a duration.
    Number,
    /// A date-time.
    DateTime,
}

/// Each column's kind and width (in Excel character units), index for index with
/// [`COLUMN_HEADERS`].
pub(crate) const COLUMN_KINDS: [(ColumnKind, f64); 16] = {
    use ColumnKind::*;
    [
        (Id, 38.0),
        (LongText, 50.0),
        (LongText, 40.0),
        (Label, 9.0),
        (LongText, 60.0),
        (LongText, 60.0),
        (Number, 13.0),
        (Number, 13.0),
        (Number, 13.0),
        (Number, 13.0),
        (Number, 13.0),
        (Number, 13.0),
        (Number, 13.0),
        (DateTime, 20.0),
        (Id, 38.0),
        (Id, 38.0),
    ]
};

/// The name of the `index`th sheet (from 0): "Records", "Records 2", "Records 3", ...
pub fn sheet_name(index: u32) -> String {
    match index {
        0 => "Records".to_owned(),
        n => format!("Records {}", u64::from(n) + 1),
    }
}

/// Where the `index`th record (from 0) goes: its sheet (from 0) and its row in that sheet
/// (from 0; row 0 is the header), for sheets of `max_rows` rows, header included.
pub(crate) fn position(index: u64, max_rows: u32) -> (u64, u32) {
    let per_sheet = u64::from(max_rows.max(2) - 1);
    // The remainder is below `per_sheet`, itself below u32::MAX, so the cast is lossless.
    (index / per_sheet, (index % per_sheet) as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_limit_boundaries() {
        let last_on_first = u64::from(EXCEL_MAX_ROWS) - 2; // 1,048,575 records: 0..=1,048,574
        assert_eq!(position(0, EXCEL_MAX_ROWS), (0, 1));
        assert_eq!(position(last_on_first, EXCEL_MAX_ROWS), (0, EXCEL_MAX_ROWS - 1));
        assert_eq!(EXCEL_MAX_ROWS - 1, 1_048_575); // rust_xlsxwriter's last row index
        assert_eq!(position(last_on_first + 1, EXCEL_MAX_ROWS), (1, 1));
        assert_eq!(position(2 * last_on_first + 1, EXCEL_MAX_ROWS), (1, EXCEL_MAX_ROWS - 1));
        assert_eq!(position(2 * last_on_first + 2, EXCEL_MAX_ROWS), (2, 1));
    }

    #[test]
    fn small_sheets() {
        // Two rows a sheet: a header and one record each.
        assert_eq!(position(0, 2), (0, 1));
        assert_eq!(position(1, 2), (1, 1));
        assert_eq!(position(3, 4), (1, 1));
    }

    #[test]
    fn names_and_kinds_line_up() {
        assert_eq!(sheet_name(0), "Records");
        assert_eq!(sheet_name(1), "Records 2");
        assert_eq!(COLUMN_HEADERS[usize::from(col::CREATED_AT)], "Created at");
        assert_eq!(COLUMN_HEADERS[usize::from(col::REPLY_TIME)], "Reply time (s)");
        assert_eq!(COLUMN_HEADERS[usize::from(col::FIRST_SCORE)], "Faithfulness");
        assert_eq!(COLUMN_HEADERS[usize::from(col::FIRST_SCORE) + 5], "Context recall");
        assert_eq!(usize::from(col::LAST) + 1, COLUMN_HEADERS.len());
        assert_eq!(COLUMN_KINDS[usize::from(col::CREATED_AT)].0, ColumnKind::DateTime);
        assert_eq!(COLUMN_KINDS[usize::from(col::TYPE)].0, ColumnKind::Label);
    }
}
