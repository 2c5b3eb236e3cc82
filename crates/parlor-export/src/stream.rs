//! The async face of the export: the blocking writer runs on `spawn_blocking`, and the bytes
//! it produces come out as a [`Stream`] through a bounded channel, for an HTTP response body.
//!
//! The channel holds at most [`CHANNEL_CHUNKS`] chunks of [`CHUNK_SIZE`] bytes, so a slow
//! client slows the writer down (back-pressure) instead of letting the file pile up in memory.
//! A client that goes away closes the channel; the writer notices at its next batch or chunk
//! and stops.

use crate::writer::write_records_until;
use crate::{BoxError, ExportError, ExportOptions};
use bytes::Bytes;
use futures::Stream;
use parlor_core::model::Record;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Bytes per chunk handed to the stream: big enough that per-chunk overhead vanishes, small
/// enough to keep the pipe moving.
const CHUNK_SIZE: usize = 64 * 1024;

/// Chunks the channel holds before the writer waits for the reader.
const CHANNEL_CHUNKS: usize = 4;

/// Starts an export on tokio's blocking pool and returns its bytes as a stream.
///
/// `next_batch` runs on the blocking thread (see [`write_records`](crate::write_records)
/// for its contract); a database reader can bridge back to async with
/// `tokio::runtime::Handle::block_on`. Must be called within a tokio runtime.
///
/// The stream yields the `.xlsx` file in chunks and then ends. If the export fails, the
/// stream's last item is an `Err` wrapping the [`ExportError`] (get it back with
/// [`std::io::Error::get_ref`] and `downcast_ref`), so an HTTP body aborts instead of
/// ending as if complete. As the zip is assembled after the last row, a failure while
/// reading records comes before any byte: a handler that awaits the first item before
/// sending headers can still answer with an error status.
pub fn stream_records<F, E>(opts: ExportOptions, next_batch: F) -> ExportStream
where
    F: FnMut() -> Result<Option<Vec<Record>>, E> + Send + 'static,
    E: Into<BoxError>,
{
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter { tx: tx.clone(), buf: Vec::with_capacity(CHUNK_SIZE) };
        // Whatever goes wrong, including a panic inside rust_xlsxwriter, the stream must end
        // with an error rather than look like a complete (but truncated) file.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            write_records_until(writer, &opts, next_batch, || tx.is_closed())
        }))
        .unwrap_or_else(|panic| Err(ExportError::Panicked(panic_message(panic.as_ref()))));
        match outcome {
            Ok(records) => tracing::debug!(records, "xlsx export streamed"),
            // The reader left: nobody to tell, nothing went wrong on our side.
            Err(_) if tx.is_closed() => tracing::debug!("xlsx export cancelled: reader went away"),
            Err(err) => {
                tracing::warn!(error = %err, "xlsx export failed");
                // Fails only if the reader left meanwhile, when there is no one to tell.
                let _ = tx.blocking_send(Err(io::Error::other(err)));
            }
        }
    });
    ExportStream { rx }
}

/// The bytes of an export in progress, as produced; see [`stream_records`]. Dropping it
/// cancels the export.
#[derive(Debug)]
pub struct ExportStream {
    rx: mpsc::Receiver<io::Result<Bytes>>,
}

impl Stream for ExportStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// A [`Write`] that collects bytes into chunks and sends each full one down the channel,
/// blocking while the channel is full. Only used on a blocking thread: `blocking_send`
/// panics in async context.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send_buffered(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_SIZE));
        self.tx
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the export's reader went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK_SIZE - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK_SIZE {
            self.send_buffered()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffered()
    }
}

/// The text of a caught panic, when it has one.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}
