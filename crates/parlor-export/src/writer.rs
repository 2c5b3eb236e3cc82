//! The blocking writer: pulls record batches from the caller and writes them, row by row, to
//! constant-memory worksheets, then zips the workbook into the output.
//!
//! Constant-memory sheets flush each row to a temporary file as soon as the next row starts,
//! so memory holds one row (plus the batch the caller hands over) however many records there
//! are. The price is that rows must come in order and cannot be revisited, which suits an
//! export. The zip is only assembled at the end, so the first output byte comes after the
//! last row is written.

use crate::layout::{COLUMN_HEADERS, COLUMN_KINDS, ColumnKind, col, position, sheet_name};
use crate::text::{clean_cell_text, looks_like_formula};
use crate::{BoxError, ExportError, ExportOptions};
use parlor_core::model::Record;
use rust_xlsxwriter::{DocProperties, Format, FormatAlign, Workbook, Worksheet};
use std::io::Write;

/// Writes every record the caller hands over to an `.xlsx` file in `out`, and returns how
/// many records were written.
///
/// `next_batch` is called until it returns `Ok(None)` or an empty batch; records are written
/// in the order given, so it should page through them with a keyset (e.g. newest first, as
/// the records list). It is called on the writer's thread: from async code, run this on
/// `spawn_blocking` and bridge with `Handle::block_on` (or use [`stream_records`]).
///
/// On error nothing usable has been written to `out` (the zip is only assembled at the end,
/// unless saving itself fails midway); the temporary files are removed either way.
///
/// [`stream_records`]: crate::stream_records
pub fn write_records<W, F, E>(out: W, opts: &ExportOptions, next_batch: F) -> Result<u64, ExportError>
where
    W: Write + Send,
    F: FnMut() -> Result<Option<Vec<Record>>, E>,
    E: Into<BoxError>,
{
    write_records_until(out, opts, next_batch, || false)
}

/// [`write_records`], stopping with [`ExportError::Cancelled`] when `cancelled()` turns true
/// (checked between batches), so an export whose reader left stops reading the database.
pub(crate) fn write_records_until<W, F, E>(
    mut out: W,
    opts: &ExportOptions,
    mut next_batch: F,
    cancelled: impl Fn() -> bool,
) -> Result<u64, ExportError>
where
    W: Write + Send,
    F: FnMut() -> Result<Option<Vec<Record>>, E>,
    E: Into<BoxError>,
{
    let mut book = Book::new(opts)?;
    loop {
        if cancelled() {
            return Err(ExportError::Cancelled);
        }
        let batch = next_batch().map_err(|e| ExportError::Source(e.into()))?;
        let Some(batch) = batch.filter(|b| !b.is_empty()) else { break };
        for record in &batch {
            book.write_record(record)?;
        }
    }
    let written = book.records;
    book.save(&mut out)?;
    out.flush()?;
    Ok(written)
}

/// The cell formats, made once: rust_xlsxwriter looks each up by value per cell.
struct Formats {
    header: Format,
    /// Per column kind: the plain text format and its quote-prefixed twin.
    id: [Format; 2],
    long_text: [Format; 2],
    label: [Format; 2],
    number: Format,
    date_time: Format,
}

impl Formats {
    fn new() -> Self {
        // Top alignment, so a row whose answer wraps over many lines still reads across.
        let base = Format::new().set_align(FormatAlign::Top);
        let pair = |f: Format| [f.clone(), f.set_quote_prefix()];
        Self {
            header: Format::new().set_bold().set_align(FormatAlign::VerticalCenter),
            id: pair(base.clone()),
            long_text: pair(base.clone().set_text_wrap()),
            label: pair(base.clone()),
            number: base.clone().set_num_format("0.000"),
            // ISO order sorts and filters the same in every locale.
            date_time: base.set_num_format("yyyy-mm-dd hh:mm:ss"),
        }
    }

    fn text(&self, column: u16, quote: bool) -> &Format {
        let pair = match COLUMN_KINDS[usize::from(column)].0 {
            ColumnKind::LongText => &self.long_text,
            ColumnKind::Label => &self.label,
            ColumnKind::Id | ColumnKind::Number | ColumnKind::DateTime => &self.id,
        };
        &pair[usize::from(quote)]
    }
}

/// The workbook being written: finished sheets plus the current one.
struct Book<'o> {
    opts: &'o ExportOptions,
    workbook: Workbook,
    formats: Formats,
    /// The sheet being filled and its index (from 0).
    sheet: Worksheet,
    sheet_index: u64,
    /// Records written so far, all sheets.
    records: u64,
    /// A generous estimate of the uncompressed XML written so far, to decide on ZIP64.
    xml_bytes: u64,
}

/// Upper bound of the XML around one row's 16 cells (`<row …>`, `<c r="XFD1048576" s="99"
/// t="inlineStr"><is><t xml:space="preserve">…</t></is></c>`, numbers with 17 digits).
const ROW_XML_OVERHEAD: u64 = 16 * 80 + 64;

impl<'o> Book<'o> {
    fn new(opts: &'o ExportOptions) -> Result<Self, ExportError> {
        let mut workbook = Workbook::new();
        if let Some(dir) = &opts.temp_dir {
            workbook.set_tempdir(dir)?;
        }
        let name = clean_cell_text(&opts.chatbot_name).into_owned();
        workbook.set_properties(
            &DocProperties::new()
                .set_title(format!("{name} records"))
                .set_subject(format!("Question/answer records of {name}"))
                .set_comment(format!("Times are in {}.", opts.time_zone.name()))
                .set_creation_datetime(&opts.generated_at.0),
        );
        let formats = Formats::new();
        let sheet = new_sheet(&mut workbook, &formats, 0)?;
        Ok(Self { opts, workbook, formats, sheet, sheet_index: 0, records: 0, xml_bytes: 0 })
    }

    fn write_record(&mut self, r: &Record) -> Result<(), ExportError> {
        let (sheet_index, row) = position(self.records, self.opts.max_rows_per_sheet);
        if sheet_index != self.sheet_index {
            // Over 4 billion sheets of a million rows cannot happen; saturate rather than fail.
            let index = u32::try_from(sheet_index).unwrap_or(u32::MAX);
            let next = new_sheet(&mut self.workbook, &self.formats, index)?;
            let full = std::mem::replace(&mut self.sheet, next);
            self.finish_sheet(full, self.opts.max_rows_per_sheet - 1)?;
            self.sheet_index = sheet_index;
        }

        let mut bytes = ROW_XML_OVERHEAD;
        let id = r.id.to_string();
        let conversation = r.conversation.to_string();
        let contact = r.contact.map(|c| c.to_string()).unwrap_or_default();
        let texts: [(u16, &str); 8] = [
            (col::ID, &id),
            (col::INPUT, &r.input_message),
            (col::CONDENSED, &r.condense_message),
            (col::TYPE, &r.kind),
            (col::REFERENCE, r.context.as_deref().unwrap_or_default()),
            (col::OUTPUT, &r.output_message),
            (col::CONVERSATION, &conversation),
            (col::CONTACT, &contact),
        ];
        for (column, text) in texts {
            bytes += self.write_text(row, column, text)?;
        }

        let scores = [
            r.faithfulness_score,
            r.answer_relevancy_score,
            r.context_precision_score,
            r.answer_correctness_score,
            r.answer_similarity_score,
            r.context_recall_score,
        ];
        for (offset, score) in (0..).zip(scores) {
            // Excel has no NaN or infinity; such a score is left empty, like a null one.
            if let Some(score) = score.filter(|s| s.is_finite()) {
                self.sheet.write_number_with_format(
                    row,
                    col::FIRST_SCORE + offset,
                    score,
                    &self.formats.number,
                )?;
            }
        }

        if let Some(reply_time) = r.reply_time.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            match reply_time.parse::<f64>() {
                Ok(seconds) if seconds.is_finite() => {
                    self.sheet.write_number_with_format(
                        row,
                        col::REPLY_TIME,
                        seconds,
                        &self.formats.number,
                    )?;
                }
                // Not a number: keep what was stored rather than lose it or fail the export.
                _ => bytes += self.write_text(row, col::REPLY_TIME, reply_time)?,
            }
        }

        // Excel date-times are wall-clock times without a zone: show the configured zone's.
        let local = r.created_at.0.with_timezone(&self.opts.time_zone).naive_local();
        self.sheet.write_datetime_with_format(row, col::CREATED_AT, local, &self.formats.date_time)?;

        self.records += 1;
        self.xml_bytes = self.xml_bytes.saturating_add(bytes);
        Ok(())
    }

    /// Writes one text cell, cleaned and cut to fit, as a string (never a formula); returns an
    /// upper bound of its XML size. Empty text leaves the cell empty.
    fn write_text(&mut self, row: u32, column: u16, text: &str) -> Result<u64, ExportError> {
        let text = clean_cell_text(text);
        if text.is_empty() {
            return Ok(0);
        }
        let format = self.formats.text(column, looks_like_formula(&text));
        // XML escaping can grow text: `&amp;`, `&lt;`, `&gt;`, and `_x005F_` before anything
        // that reads like Excel's own `_xHHHH_` escapes.
        let growth: u64 = text
            .bytes()
            .map(|b| match b {
                b'&' => 4,
                b'<' | b'>' => 3,
                b'_' => 6,
                _ => 0,
            })
            .sum();
        let len = text.len() as u64 + growth;
        self.sheet.write_string_with_format(row, column, text.into_owned(), format)?;
        Ok(len)
    }

    /// Puts the autofilter over the sheet's used rows and hands the sheet to the workbook.
    fn finish_sheet(&mut self, mut sheet: Worksheet, last_row: u32) -> Result<(), ExportError> {
        sheet.autofilter(0, 0, last_row, col::LAST)?;
        self.workbook.push_worksheet(sheet);
        Ok(())
    }

    /// Finishes the last sheet and zips the workbook into `out`.
    fn save<W: Write + Send>(mut self, out: W) -> Result<(), ExportError> {
        let last_row = match self.records {
            0 => 0,
            n => position(n - 1, self.opts.max_rows_per_sheet).1,
        };
        let sheet = std::mem::replace(&mut self.sheet, Worksheet::new());
        self.finish_sheet(sheet, last_row)?;
        let zip64 = self.xml_bytes >= self.opts.zip64_threshold;
        self.workbook.use_zip_large_file(zip64);
        self.workbook.set_zip_compression_level(self.opts.compression_level.clamp(1, 9));
        tracing::debug!(records = self.records, xml_bytes = self.xml_bytes, zip64, "saving xlsx export");
        self.workbook.save_to_writer(out)?;
        Ok(())
    }
}

/// A new constant-memory sheet with its name, column widths, and the bold frozen header row.
fn new_sheet(workbook: &mut Workbook, formats: &Formats, index: u32) -> Result<Worksheet, ExportError> {
    let mut sheet = workbook.new_worksheet_with_constant_memory()?;
    sheet.set_name(sheet_name(index))?;
    for (column, (kind, width)) in (0..).zip(COLUMN_KINDS) {
        sheet.set_column_width(column, width)?;
        if kind == ColumnKind::LongText {
            // Cells typed in later wrap like the written ones.
            sheet.set_column_format(column, &formats.long_text[0])?;
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    for (column, header) in (0..).zip(COLUMN_HEADERS) {
        sheet.write_string_with_format(0, column, header, &formats.header)?;
    }
    Ok(sheet)
}
