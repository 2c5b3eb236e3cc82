//! The one error type of the export, so the server can tell a failing record source (the
//! database) from a failing writer and from a client that went away.

/// Any error the caller's batch source may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an export did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The caller's batch source failed (typically the database); the file is incomplete.
    #[error("reading records for the export failed")]
    Source(#[source] BoxError),
    /// rust_xlsxwriter refused a value or failed to write (temp file or output I/O).
    #[error("writing the xlsx file failed")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// Writing or flushing the output failed.
    #[error("writing the export output failed")]
    Io(#[from] std::io::Error),
    /// The consumer of an [`ExportStream`](crate::ExportStream) went away (the client
    /// disconnected), so the export stopped early. Not a fault to report.
    #[error("the export was cancelled: its reader went away")]
    Cancelled,
    /// The writer panicked (rust_xlsxwriter panics on some temp-file write failures, such as
    /// a full disk). Caught, so the stream still ends with an error instead of just ending.
    #[error("the xlsx writer panicked: {0}")]
    Panicked(String),
}
