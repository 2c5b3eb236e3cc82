//! Limits that protect the server: rate limits per key and per IP (DRF's 429 with
//! `Retry-After`), the header read timeout and idle timeout for slow clients, and the body
//! idle timeout. Each test sets tight limits on its own app; the defaults stay off or
//! generous, so the rest of the suite is unaffected.

use crate::helpers::TestApp;
use parlor_server::app::Limits;
use parlor_testkit::db::TestDb;
use reqwest::{Method, StatusCode};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Asserts DRF's throttled response and returns its wait in seconds.
fn assert_throttled(r: &crate::helpers::Resp) -> u64 {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    let unit = if retry == 1 { "second" } else { "seconds" };
    assert_eq!(
        r.body["detail"],
        format!("Request was throttled. Expected available in {retry} {unit}."),
        "DRF's wording, with the same number as Retry-After"
    );
    retry
}

#[tokio::test]
async fn rate_limit_per_key() {
    let limits = Limits { rate_per_key: 2, ..Limits::default() };
    let app = TestApp::spawn_with_limits(TestDb::sqlite().await, limits).await;
    for _ in 0..2 {
        assert_eq!(app.get("/api/chatbots/").await.status, StatusCode::OK);
    }
    let r = app.get("/api/chatbots/").await;
    let retry = assert_throttled(&r);
    // Two a minute: the next one is free in about 30 s.
    assert!((1..=30).contains(&retry), "{retry}");
    // The same key under /api/v1/ shares the bucket; another key has its own.
    assert_throttled(&app.get("/api/v1/chatbots/").await);
    let other = app.other_org_key().await;
    let r = app.call_as(&format!("Token {other}"), Method::GET, "/api/chatbots/", None).await;
    assert_eq!(r.status, StatusCode::OK);
    // Operations routes are never throttled.
    assert_eq!(app.call_as("", Method::GET, "/healthz", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn rate_limit_per_ip() {
    let limits = Limits { rate_per_ip: 3, ..Limits::default() };
    let app = TestApp::spawn_with_limits(TestDb::sqlite().await, limits).await;
    let other = app.other_org_key().await;
    // Keys do not matter to this limit, nor does having one.
    assert_eq!(app.get("/api/chatbots/").await.status, StatusCode::OK);
    let r = app.call_as(&format!("Api-Key {other}"), Method::GET, "/api/chatbots/", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.call_as("", Method::GET, "/api/chatbots/", None).await.status, StatusCode::UNAUTHORIZED);
    assert_throttled(&app.call_as("", Method::GET, "/api/chatbots/", None).await);
    assert_throttled(&app.call_as(&format!("Api-Key {other}"), Method::GET, "/api/chatbots/", None).await);
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(app.call_as("", Method::GET, path, None).await.status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn limits_are_off_by_default() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    for _ in 0..50 {
        assert_eq!(app.get("/api/chatbots/").await.status, StatusCode::OK);
    }
}

/// Reads until the server closes the connection (or `limit` passes); returns what came and
/// whether it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    let limits = Limits { header_timeout: Duration::from_secs(1), ..Limits::default() };
    let app = TestApp::spawn_with_limits(TestDb::sqlite().await, limits).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    // A slowloris: a header line every 300 ms, never the blank line that ends the head.
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: parlor\r\n").await.unwrap();
    let mut cut_off = false;
    for i in 0..20 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if stream.write_all(format!("X-Slow-{i}: yes\r\n").as_bytes()).await.is_err() {
            cut_off = true;
            break;
        }
        let mut probe = [0u8; 1024];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
        {
            cut_off = true;
            break;
        }
    }
    assert!(cut_off, "a client trickling headers for 6 s must be cut off");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "cut off near the 1 s limit: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn idle_connections_are_closed_and_prompt_clients_are_served() {
    let limits = Limits { header_timeout: Duration::from_secs(1), ..Limits::default() };
    let app = TestApp::spawn_with_limits(TestDb::sqlite().await, limits).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: parlor\r\n\r\n").await.unwrap();
    // The request is answered, then the kept-alive connection is closed once idle too long.
    let (got, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(closed, "an idle kept-alive connection must be closed");
    // A connection that never sends anything is closed as well.
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    let (got, closed) = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(closed && !got.starts_with("HTTP/1.1 200"), "{got}");
}

#[tokio::test]
async fn slow_bodies_are_cut_off() {
    let limits = Limits { body_timeout: Duration::from_millis(500), ..Limits::default() };
    let app = TestApp::spawn_with_limits(TestDb::sqlite().await, limits).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/chatbots/ HTTP/1.1\r\nHost: parlor\r\nAuthorization: Api-Key {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":",
        app.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The rest of the body never comes.
    let (got, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("Request body was not received in time."), "{got}");
}
