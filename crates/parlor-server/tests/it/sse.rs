//! Reading Server-Sent Events incrementally from a response, as a browser's EventSource
//! does: one event at a time, with its id, name and JSON data.

use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct SseEvent {
    pub(crate) id: Option<String>,
    pub(crate) event: Option<String>,
    pub(crate) data: Value,
}

pub(crate) struct SseReader {
    resp: reqwest::Response,
    buf: String,
}

impl SseReader {
    pub(crate) fn new(resp: reqwest::Response) -> Self {
        SseReader { resp, buf: String::new() }
    }

    /// The next event with data (comments and pings skipped); `None` when the stream ends.
    /// Fails the test if nothing arrives within 10 s.
    pub(crate) async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if let Some(e) = parse_block(&block) {
                    return Some(e);
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.resp.chunk())
                .await
                .expect("an event within 10 s")
                .expect("stream read");
            match chunk {
                Some(bytes) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                None => return None,
            }
        }
    }
}

pub(crate) fn parse_block(block: &str) -> Option<SseEvent> {
    let mut id = None;
    let mut event = None;
    let mut data = String::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("id:") {
            id = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("event:") {
            event = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (!data.is_empty()).then(|| SseEvent { id, event, data: serde_json::from_str(&data).expect("JSON data") })
}
