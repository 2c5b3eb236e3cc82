//! The async wrapper streams the same file, ends with an error when the export fails, and
//! stops reading records when its reader goes away.

use crate::helpers::{batches, export, options, records};
use chrono_tz::Tz;
use futures::StreamExt;
use parlor_export::{BoxError, ExportError, stream_records, write_records};
use std::sync::mpsc;
use std::time::Duration;

#[tokio::test]
async fn stream_yields_the_same_bytes_as_the_blocking_writer() {
    // Enough text that does not compress away for several 64 KiB chunks.
    let mut input = records(0..300);
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for r in &mut input {
        r.output_message = (0..2000)
            .map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                char::from(b'a' + (seed >> 59) as u8 % 26)
            })
            .collect();
    }
    let (expected, _) = export(&input, &options(Tz::UTC));

    let mut stream = stream_records(options(Tz::UTC), batches(input, 7));
    let mut got = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.unwrap());
        chunks += 1;
    }

    assert!(chunks > 1, "the file came in chunks");
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "same bytes");
}

#[tokio::test]
async fn a_failing_source_ends_the_stream_with_an_error() {
    let mut good = batches(records(0..10), 4);
    let mut calls = 0;
    let source = move || {
        calls += 1;
        if calls <= 2 { good() } else { Err::<_, BoxError>("database went away".into()) }
    };

    let items: Vec<_> = stream_records(options(Tz::UTC), source).collect().await;

    let last = items.last().unwrap().as_ref().unwrap_err();
    let cause = last.get_ref().and_then(|e| e.downcast_ref::<ExportError>());
    assert!(
        matches!(cause, Some(ExportError::Source(e)) if e.to_string() == "database went away"),
        "{last:?}"
    );
    assert!(items[..items.len() - 1].iter().all(Result::is_ok));
}

#[test]
fn a_failing_source_fails_the_blocking_writer() {
    let result = write_records(Vec::new(), &options(Tz::UTC), || Err::<Option<_>, BoxError>("boom".into()));

    assert!(matches!(result, Err(ExportError::Source(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_stops_reading_records() {
    let (called_tx, called_rx) = mpsc::channel::<u32>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let mut calls = 0;
    let source = move || {
        calls += 1;
        let _ = called_tx.send(calls);
        if calls == 2 {
            // Hold the writer here until the test has dropped the stream.
            let _ = go_rx.recv();
        }
        Ok::<_, BoxError>(Some(records(0..2)))
    };

    let stream = stream_records(options(Tz::UTC), source);
    let wait = Duration::from_secs(10);
    assert_eq!(called_rx.recv_timeout(wait), Ok(1));
    assert_eq!(called_rx.recv_timeout(wait), Ok(2));
    drop(stream);
    go_tx.send(()).unwrap();

    // No third call: the writer stopped and dropped the source (and with it the sender).
    assert_eq!(called_rx.recv_timeout(wait), Err(mpsc::RecvTimeoutError::Disconnected));
}
