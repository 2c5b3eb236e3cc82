//! The load generator: a minimal HTTP/1.1 keep-alive client over tokio's `TcpStream`.
//!
//! Hand-rolled on purpose. The client shares the machine's cores with the server it
//! measures, so every cycle it spends is one the server loses; a bare writer of prepared
//! request bytes and reader of `Content-Length` bodies costs far less than a general client,
//! and it costs the same for both sides of every comparison. It needs nothing beyond cargo,
//! unlike `wrk`. It runs on its own single-threaded runtime (see [`on_client_thread`]), so
//! the runtime under test keeps all its worker threads to itself.

use anyhow::{Context, bail};
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A GET request, ready to write.
pub(crate) fn get(addr: SocketAddr, path: &str, key: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Api-Key {key}\r\n\r\n").into_bytes()
}

/// A POST of a JSON body, ready to write.
pub(crate) fn post_json(addr: SocketAddr, path: &str, key: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Api-Key {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One keep-alive connection.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    body_start: usize,
}

impl Conn {
    pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        // Requests are one small write each; Nagle would hold them back waiting for an ACK.
        stream.set_nodelay(true)?;
        Ok(Conn { stream, buf: Vec::with_capacity(64 * 1024), body_start: 0 })
    }

    /// Sends one request and reads its whole response; returns the status.
    pub(crate) async fn call(&mut self, request: &[u8]) -> anyhow::Result<u16> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.read_more().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).context("response head is not UTF-8")?;
        let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).context("no status code")?;
        let mut length = None;
        for line in head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else { continue };
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<usize>().context("bad Content-Length")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked responses are not supported by the bench client");
            }
        }
        let total = head_end + length.unwrap_or(0);
        while self.buf.len() < total {
            self.read_more().await?;
        }
        self.body_start = head_end;
        Ok(status)
    }

    /// The body of the last response.
    pub(crate) fn body(&self) -> &[u8] {
        &self.buf[self.body_start..]
    }

    async fn read_more(&mut self) -> anyhow::Result<()> {
        self.buf.reserve(16 * 1024);
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }
}

/// Runs `f` on a fresh single-threaded runtime on a blocking thread, so load generation never
/// takes a worker of the runtime being measured.
pub(crate) async fn on_client_thread<F, Fut, T>(f: F) -> anyhow::Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<T>>,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(f())
    })
    .await?
}

/// Requests per second that `clients` connections sustain for `duration`, each sending the
/// next of `requests` (client `i` starts at `i`) as soon as the previous one is answered.
/// Every answer must have status `expect`.
pub(crate) async fn throughput(
    addr: SocketAddr,
    clients: usize,
    duration: Duration,
    requests: Vec<Vec<u8>>,
    expect: u16,
) -> anyhow::Result<f64> {
    throughput_over(vec![addr], clients, duration, requests, expect).await
}

/// [`throughput`] with the connections spread over several servers: client `i` talks to
/// `addrs[i % addrs.len()]`. (A request's `Host` header names one of them; Parlor does not
/// check it.)
pub(crate) async fn throughput_over(
    addrs: Vec<SocketAddr>,
    clients: usize,
    duration: Duration,
    requests: Vec<Vec<u8>>,
    expect: u16,
) -> anyhow::Result<f64> {
    let requests = std::sync::Arc::new(requests);
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..clients {
        let (requests, addr) = (requests.clone(), addrs[i % addrs.len()]);
        tasks.spawn(async move {
            let mut conn = Conn::connect(addr).await?;
            let mut done = 0u64;
            let mut next = i;
            while Instant::now() < deadline {
                let status = conn.call(&requests[next % requests.len()]).await?;
                if status != expect {
                    bail!("expected {expect}, got {status}: {}", String::from_utf8_lossy(conn.body()));
                }
                done += 1;
                next += clients;
            }
            anyhow::Ok(done)
        });
    }
    let mut total = 0;
    while let Some(r) = tasks.join_next().await {
        total += r??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Latencies of `request` sent one after another on one connection for `duration`.
pub(crate) async fn latencies(
    conn: &mut Conn,
    request: &[u8],
    expect: u16,
    duration: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let deadline = Instant::now() + duration;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        let t = Instant::now();
        let status = conn.call(request).await?;
        out.push(t.elapsed());
        if status != expect {
            bail!("expected {expect}, got {status}: {}", String::from_utf8_lossy(conn.body()));
        }
    }
    Ok(out)
}
