//! Parlor's record export: a chatbot's question/answer [`Record`]s as an `.xlsx` file.
//!
//! The file is written in constant memory: rows are pulled from the caller in batches (the
//! server reads them from the database in keyset batches), each row goes straight to a
//! temporary file, and the finished workbook is zipped into any [`std::io::Write`]. A million
//! records therefore never sit in memory at once.
//!
//! Two ways in:
//! - [`write_records`]: blocking, for a file or a buffer (tests, the benchmark, the CLI);
//! - [`stream_records`]: runs the same writer on `spawn_blocking` and hands the bytes out as a
//!   [`futures::Stream`] through a bounded channel, so an HTTP response can send the file
//!   while it is produced and memory stays flat.
//!
//! [`export_filename`] and [`content_disposition`] name the download.
//!
//! [`Record`]: parlor_core::model::Record

mod error;
mod filename;
mod layout;
mod stream;
#[doc(hidden)]
pub mod synthetic;
mod text;
mod writer;

pub use error::{BoxError, ExportError};
pub use filename::{content_disposition, export_filename};
pub use layout::{COLUMN_HEADERS, EXCEL_MAX_ROWS, sheet_name};
pub use stream::{ExportStream, stream_records};
pub use text::MAX_CELL_CHARS;
pub use writer::write_records;

use chrono_tz::Tz;
use parlor_core::clock::Timestamp;
use std::path::PathBuf;

/// The uncompressed size above which the zip is written with ZIP64 records.
///
/// A zip without ZIP64 cannot hold a part of 4 GiB or more, and a sheet of long records can
/// pass that (a million rows of 4 KiB of text). ZIP64 is only switched on when needed,
/// because a few old readers do not understand it. The margin covers the estimate's slack.
const ZIP64_THRESHOLD: u64 = 3 << 30;

/// The default deflate level; see [`ExportOptions::compression_level`].
///
/// Deflate is over half of the writer's time at zlib's usual level 6. Level 3 cut the
/// benchmark's CPU time by about a third for a file about 10% larger (records of a few
/// hundred characters), a fair trade for a server that streams the file out.
pub const DEFAULT_COMPRESSION_LEVEL: u8 = 3;

/// How an export is written. Build it with [`ExportOptions::new`]; the public fields may be
/// changed after.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// The zone "Created at" is shown in. Excel date-times carry no zone, so the instant is
    /// converted to this zone's wall-clock time and the zone is named in the column header.
    pub time_zone: Tz,
    /// The chatbot whose records these are; it titles the workbook's document properties.
    pub chatbot_name: String,
    /// The moment the export was made, stored as the workbook's creation time. Passed in
    /// (rather than read from the clock) so the same input gives the same bytes.
    pub generated_at: Timestamp,
    /// Where the per-sheet temporary files go; the system temp dir when `None`. Rows are
    /// parked there until the zip is written, so it should be on disk, not in memory
    /// (a `tmpfs` `/tmp` would undo the constant-memory design).
    pub temp_dir: Option<PathBuf>,
    /// The zip's deflate level, 1 (fastest) to 9 (smallest); out-of-range values are clamped.
    /// Compression is most of the writer's time, so this trades file size for speed.
    pub compression_level: u8,
    /// Rows a sheet holds, header included. Always Excel's limit outside tests.
    max_rows_per_sheet: u32,
    /// Estimated uncompressed bytes above which ZIP64 is used.
    zip64_threshold: u64,
}

impl ExportOptions {
    /// Options for one export, with Excel's own sheet size and the system temp dir.
    pub fn new(time_zone: Tz, chatbot_name: impl Into<String>, generated_at: Timestamp) -> Self {
        Self {
            time_zone,
            chatbot_name: chatbot_name.into(),
            generated_at,
            temp_dir: None,
            compression_level: DEFAULT_COMPRESSION_LEVEL,
            max_rows_per_sheet: EXCEL_MAX_ROWS,
            zip64_threshold: ZIP64_THRESHOLD,
        }
    }

    /// Caps the rows per sheet (header included) below Excel's limit, so tests can exercise
    /// the rollover to a next sheet without writing a million rows. Clamped to
    /// `2..=`[`EXCEL_MAX_ROWS`]: a sheet holds at least its header and one record.
    #[doc(hidden)]
    pub fn with_max_rows_per_sheet(mut self, rows: u32) -> Self {
        self.max_rows_per_sheet = rows.clamp(2, EXCEL_MAX_ROWS);
        self
    }

    /// Lowers the size at which ZIP64 is switched on, so tests can check that such files read
    /// back without writing 3 GiB.
    #[doc(hidden)]
    pub fn with_zip64_threshold(mut self, bytes: u64) -> Self {
        self.zip64_threshold = bytes;
        self
    }
}
