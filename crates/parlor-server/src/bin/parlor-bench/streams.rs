//! The completions targets: the time to first delta Parlor adds over its upstream's own, and
//! how many streams one instance holds open at what memory each.
//!
//! Both run the real `parlor serve` process (the binary beside the bench) with a provider
//! pointing at the bench's fake upstream ([`crate::upstream`]), itself a child process. The
//! bench process is only the client, on its own thread ([`on_client_thread`]).
//!
//! - **Time to first delta**: a streaming request straight to the upstream and the same
//!   question through `POST /api/chatbots/{id}/completions/` (`isStreaming: true`, in one
//!   existing conversation), alternating in rounds on one keep-alive connection each, one
//!   request at a time. Each sample runs from writing the request to reading the first delta's
//!   text; the response is then read to its end before the next request. Parlor's figure
//!   includes everything it does before the first delta: the key, storing the question, the
//!   bot message begun, history and knowledge lookups, and its own request upstream.
//! - **Open streams**: N streaming completions against an upstream that sends one delta and
//!   then stalls (keeping the connection alive), each held open by the client once its first
//!   delta arrived; `VmRSS` of `parlor serve` before and after, in four steps. Once with the
//!   provider on HTTP/2 (`http2 = true`: every reply shares one upstream connection, so a
//!   stream is one socket in Parlor, its client's) and once on HTTP/1.1 (the default: a
//!   connection per reply, two sockets a stream), as `--upstream` says. N is capped by the
//!   open-file limit (`ulimit -n`), which the child inherits.

use crate::client::{self, Conn, on_client_thread};
use crate::report::{Line, Stats, count, ms};
use crate::startup::{free_port, healthz, resident_bytes};
use crate::upstream::FIRST_DELTA;
use crate::{Args, UpstreamHttp};
use anyhow::{Context, bail, ensure};
use futures::{StreamExt, TryStreamExt};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The question asked in every request.
const QUESTION: &str = "Hi there, is anyone around?";

/// `parlor serve` and the fake upstream, killed when dropped.
struct Stack {
    upstream: Child,
    parlor: Child,
    upstream_addr: SocketAddr,
    addr: SocketAddr,
    key: String,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for child in [&mut self.parlor, &mut self.upstream] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Stack {
    /// Starts the upstream, then Parlor on a fresh data dir with a provider `bench` on it.
    fn start(parlor: &Path, dir: &Path, upstream_http: UpstreamHttp) -> anyhow::Result<Stack> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        let mut upstream = Command::new(std::env::current_exe()?)
            .arg("--fake-upstream")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawning the fake upstream")?;
        let mut line = String::new();
        let out = upstream.stdout.take().context("upstream stdout")?;
        std::io::BufReader::new(out).read_line(&mut line)?;
        let upstream_addr: SocketAddr = line.trim().parse().context("the upstream's address")?;
        let config = dir.join("parlor.toml");
        // A long timeout: the stalled streams must stay open as long as the bench holds them.
        let http2 = upstream_http == UpstreamHttp::Http2;
        std::fs::write(
            &config,
            format!(
                "[providers.bench]\nkind = \"openai\"\nbase_url = \"http://{upstream_addr}/v1\"\ntimeout_s = 3600\nhttp2 = {http2}\n"
            ),
        )?;
        let addr = free_port()?;
        let data = dir.join("data");
        let child = Command::new(parlor)
            .arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(&config)
            // Every stream of the bench is one key's: the per-key cap (64 by default) would
            // refuse all but the first few.
            .arg("--max-streams-per-key")
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {}", parlor.display()))?;
        let mut stack = Stack { upstream, parlor: child, upstream_addr, addr, key: String::new() };
        let started = Instant::now();
        while !healthz(addr) {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("`parlor serve` did not answer /healthz within 30 s");
            }
            if let Some(status) = stack.parlor.try_wait()? {
                bail!("`parlor serve` exited early: {status}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        stack.key = std::fs::read_to_string(data.join("admin-key"))?.trim().to_string();
        Ok(stack)
    }

    fn pid(&self) -> u32 {
        self.parlor.id()
    }
}

/// The `parlor` binary: `--parlor`, or the one beside this binary.
fn parlor_exe(args: &Args) -> anyhow::Result<PathBuf> {
    let exe = match &args.parlor {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("parlor"),
    };
    ensure!(exe.exists(), "no `parlor` binary at {} (build it, or name it with --parlor)", exe.display());
    Ok(exe)
}

/// Makes a chatbot on `model` and returns its id.
async fn chatbot(conn: &mut Conn, addr: SocketAddr, key: &str, model: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({"name": "Bench", "model": model, "instructions": "Be brief."});
    let status = conn.call(&client::post_json(addr, "/api/chatbots/", key, &body.to_string())).await?;
    ensure!(status == 201, "creating a chatbot: {status} {}", String::from_utf8_lossy(conn.body()));
    let bot: serde_json::Value = serde_json::from_slice(conn.body())?;
    Ok(bot["id"].as_str().context("chatbot id")?.to_string())
}

/// A streaming completions request; `conversation` `None` makes a new conversation.
fn completions(addr: SocketAddr, key: &str, bot: &str, conversation: Option<&str>) -> Vec<u8> {
    let body = serde_json::json!({"conversation": conversation, "message": {"content": QUESTION}, "isStreaming": true});
    client::post_json(addr, &format!("/api/chatbots/{bot}/completions/"), key, &body.to_string())
}

/// A streaming request straight to the upstream, as Parlor's provider client sends it.
fn direct(upstream: SocketAddr, model: &str) -> Vec<u8> {
    let body = serde_json::json!({"model": model, "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}]});
    let body = body.to_string();
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {upstream}\r\nContent-Type: application/json\r\n\
         Accept: text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends `request` and reads its chunked response to the end; returns the time until the
/// first delta's text arrived.
async fn timed(stream: &mut TcpStream, buf: &mut Vec<u8>, request: &[u8]) -> anyhow::Result<Duration> {
    buf.clear();
    let started = Instant::now();
    stream.write_all(request).await?;
    let mut first = None;
    loop {
        if first.is_none() && find(buf, FIRST_DELTA.as_bytes()) {
            first = Some(started.elapsed());
        }
        // The last chunk of a chunked body (the head ends in a blank line after a header, never
        // after a bare `0`).
        if buf.ends_with(b"\r\n0\r\n\r\n") {
            break;
        }
        buf.reserve(16 * 1024);
        if stream.read_buf(buf).await? == 0 {
            bail!("connection closed mid-response: {}", String::from_utf8_lossy(buf));
        }
    }
    ensure!(buf.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(buf));
    first.context("no delta in the response")
}

fn find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Target 6: time to first delta through Parlor against straight to the upstream.
pub(crate) async fn ttfd(args: &Args, dir: &Path) -> anyhow::Result<Vec<Line>> {
    let exe = parlor_exe(args)?;
    let dir = dir.join("ttfd");
    let stack = tokio::task::spawn_blocking(move || Stack::start(&exe, &dir, UpstreamHttp::Http1)).await??;
    let (addr, upstream, key) = (stack.addr, stack.upstream_addr, stack.key.clone());
    let (rounds, slice) = (args.rounds.max(1), args.duration / args.rounds.max(1) as u32);
    let (via, straight) = on_client_thread(move || async move {
        let mut conn = Conn::connect(addr).await?;
        let bot = chatbot(&mut conn, addr, &key, "bench/instant").await?;
        // The conversation every measured question goes to (made by a first question).
        let first = serde_json::json!({"message": {"content": QUESTION}});
        let path = format!("/api/chatbots/{bot}/completions/");
        let status = conn.call(&client::post_json(addr, &path, &key, &first.to_string())).await?;
        ensure!(status == 200, "first completion: {status} {}", String::from_utf8_lossy(conn.body()));
        let conversation: serde_json::Value = serde_json::from_slice(conn.body())?;
        let conversation = conversation["conversationId"].as_str().context("conversationId")?.to_string();
        let via_req = completions(addr, &key, &bot, Some(&conversation));
        let direct_req = direct(upstream, "instant");
        let mut via_conn = TcpStream::connect(addr).await?;
        let mut direct_conn = TcpStream::connect(upstream).await?;
        via_conn.set_nodelay(true)?;
        direct_conn.set_nodelay(true)?;
        let mut buf = Vec::with_capacity(64 * 1024);
        // Warm both paths (connection pools, caches, the allocator).
        for _ in 0..50 {
            timed(&mut via_conn, &mut buf, &via_req).await?;
            timed(&mut direct_conn, &mut buf, &direct_req).await?;
        }
        let (mut via, mut straight) = (vec![], vec![]);
        for round in 0..rounds {
            eprintln!("ttfd: round {}/{rounds}", round + 1);
            let until = Instant::now() + slice;
            while Instant::now() < until {
                straight.push(timed(&mut direct_conn, &mut buf, &direct_req).await?);
            }
            let until = Instant::now() + slice;
            while Instant::now() < until {
                via.push(timed(&mut via_conn, &mut buf, &via_req).await?);
            }
        }
        anyhow::Ok((via, straight))
    })
    .await?;
    drop(stack);
    let (v, d) = (Stats::of_durations(&via), Stats::of_durations(&straight));
    let added = (v.median - d.median) * 1000.0;
    Ok(vec![
        Line::info(
            "6. Time to first delta, streaming completions through Parlor (existing conversation)",
            format!("{} ({} requests)", ms(&v), count(via.len() as f64)),
            format!("upstream direct: {} ({} requests)", ms(&d), count(straight.len() as f64)),
            String::new(),
        ),
        Line::below(
            "6. Time to first delta added by Parlor (difference of medians)".into(),
            format!("{added:.2} ms"),
            added,
            1.0,
            "ms",
        ),
    ])
}

/// The soft open-file limit of this process (inherited by `parlor serve`).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Open file descriptors of a process.
fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Opens one stream and returns it once its first delta arrived.
async fn open_one(addr: SocketAddr, request: std::sync::Arc<Vec<u8>>) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    stream.write_all(&request).await?;
    let mut buf = Vec::with_capacity(4096);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !find(&buf, FIRST_DELTA.as_bytes()) {
        ensure!(Instant::now() < deadline, "no first delta within 120 s");
        if stream.read_buf(&mut buf).await? == 0 {
            bail!("closed before the first delta: {}", String::from_utf8_lossy(&buf));
        }
    }
    ensure!(buf.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf));
    Ok(stream)
}

/// Target 7: open streams held by one instance, and its memory per stream, with the provider
/// on each protocol `--upstream` names.
pub(crate) async fn streams(args: &Args, dir: &Path) -> anyhow::Result<Vec<Line>> {
    let mut lines = Vec::new();
    for &upstream_http in &args.upstream {
        lines.extend(streams_over(args, dir, upstream_http).await?);
    }
    Ok(lines)
}

async fn streams_over(args: &Args, dir: &Path, upstream_http: UpstreamHttp) -> anyhow::Result<Vec<Line>> {
    let exe = parlor_exe(args)?;
    let limit = open_file_limit().unwrap_or(1024);
    // A stream is its client's socket in Parlor, plus its own upstream connection over
    // HTTP/1.1 (over HTTP/2 all share one); Parlor has a few dozen of its own besides.
    let per_stream = match upstream_http {
        UpstreamHttp::Http2 => 1,
        UpstreamHttp::Http1 => 2,
    };
    let cap = limit.saturating_sub(100) / per_stream;
    let n = args.streams.min(cap);
    if n < args.streams {
        eprintln!(
            "streams: {} asked, {n} possible with an open-file limit of {limit} ({per_stream} per stream in \
             Parlor over {}); raise it with `ulimit -n` (at most the hard limit, `ulimit -Hn`)",
            args.streams,
            upstream_http.label()
        );
    }
    ensure!(n > 0, "no streams possible with an open-file limit of {limit}");
    let dir = dir.join("streams");
    let stack = tokio::task::spawn_blocking(move || Stack::start(&exe, &dir, upstream_http)).await??;
    let (addr, key, pid) = (stack.addr, stack.key.clone(), stack.pid());
    let steps = 4;
    let samples = on_client_thread(move || async move {
        let mut conn = Conn::connect(addr).await?;
        let instant = chatbot(&mut conn, addr, &key, "bench/instant").await?;
        let stall = chatbot(&mut conn, addr, &key, "bench/stall").await?;
        // Warm the pools and the allocator with complete replies, then let it settle.
        let warm = completions(addr, &key, &instant, None);
        let mut s = TcpStream::connect(addr).await?;
        let mut buf = Vec::new();
        for _ in 0..200 {
            timed(&mut s, &mut buf, &warm).await?;
        }
        drop(s);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut samples =
            vec![(0usize, resident_bytes(pid).context("VmRSS")?, open_fds(pid), Duration::ZERO)];
        let request = std::sync::Arc::new(completions(addr, &key, &stall, None));
        let mut held: Vec<TcpStream> = Vec::with_capacity(n);
        for step in 1..=steps {
            let target = n * step / steps;
            let started = Instant::now();
            let opened: Vec<TcpStream> = futures::stream::iter(held.len()..target)
                .map(|_| open_one(addr, request.clone()))
                .buffer_unordered(256)
                .try_collect()
                .await?;
            held.extend(opened);
            let took = started.elapsed();
            tokio::time::sleep(Duration::from_secs(2)).await;
            let rss = resident_bytes(pid).context("VmRSS")?;
            eprintln!(
                "streams ({}): {} open, RSS {:.1} MiB, opened in {took:.1?}",
                upstream_http.label(),
                held.len(),
                rss as f64 / 1048576.0
            );
            samples.push((held.len(), rss, open_fds(pid), took));
        }
        // Still open at the end: none ended by Parlor (pings may have come meanwhile).
        let mut scratch = vec![0u8; 16 * 1024];
        for s in &held {
            loop {
                match s.try_read(&mut scratch) {
                    Ok(0) => bail!("Parlor closed a held stream"),
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        anyhow::Ok(samples)
    })
    .await?;
    drop(stack);
    let (n0, rss0, _, _) = samples[0];
    let &(n1, rss1, fds1, _) = samples.last().context("samples")?;
    let opening: Duration = samples.iter().map(|s| s.3).sum();
    let per = (rss1 as f64 - rss0 as f64) / (n1 - n0) as f64 / 1024.0;
    let (nh, rssh, _, _) = samples[samples.len() / 2];
    let marginal = (rss1 as f64 - rssh as f64) / (n1 - nh).max(1) as f64 / 1024.0;
    let mib = |b: u64| b as f64 / 1048576.0;
    Ok(vec![
        Line::at_least(
            format!(
                "7. Streaming completions held open at once by one instance (provider over {}, stalled after the first delta)",
                upstream_http.label()
            ),
            format!(
                "{} open ({} asked; open-file limit {limit}){}, opened in {:.1} s",
                count(n1 as f64),
                count(args.streams as f64),
                fds1.map_or(String::new(), |f| format!(", {} fds in Parlor", count(f as f64))),
                opening.as_secs_f64()
            ),
            n1 as f64,
            10_000.0,
            "streams",
        ),
        Line::below(
            format!(
                "7. Memory per open stream, provider over {} (`VmRSS` of `parlor serve`, after − before, ÷ streams)",
                upstream_http.label()
            ),
            format!(
                "{per:.1} KiB ({:.1} → {:.1} MiB; {marginal:.1} KiB each over the second half)",
                mib(rss0),
                mib(rss1)
            ),
            per,
            32.0,
            "KiB",
        ),
    ])
}
