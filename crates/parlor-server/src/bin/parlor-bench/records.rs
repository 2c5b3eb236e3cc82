//! Records: the Excel export of `--records` records through the real `parlor serve` process,
//! beside openpyxl's write-only mode writing the same rows in the same run, and the records
//! page's query time at that size, with and without filters.
//!
//! The records are [`parlor_export::synthetic`]'s rows, which `bench/openpyxl_export.py`
//! reproduces exactly, bulk-loaded straight into the SQLite file (a thousand rows a
//! statement, with the folded filter columns the store writes) for one chatbot, two seconds
//! apart from 2026-01-01. Loading is not measured; the dataset is kept and reused by later
//! runs with the same `--records`. What differs from openpyxl's rows: the six scores are empty
//! in both (the server does not evaluate answers yet; the script runs with `--no-scores`), and
//! the conversation ids are the loaded conversations' rather than the generator's (ids of the
//! same length). The server writes newest first, the script oldest first.
//!
//! The export is downloaded over HTTP/1.0 (so the body ends with the connection, unchunked)
//! into a file; its peak memory is the server process's `VmHWM` (Linux), the most it was
//! resident at any moment since it started, read after the download. openpyxl's peak is its
//! process's `VmHWM`, polled while it runs. Both are run once: at a million rows openpyxl
//! takes minutes.

use crate::Args;
use crate::client::{self, Conn};
use crate::dataset::{BenchOrg, bench_org};
use crate::report::{Line, Stats, count};
use crate::startup::{Server, status_kib};
use anyhow::{Context, bail, ensure};
use parlor_core::id::ConversationId;
use parlor_core::input::NewConversation;
use parlor_core::model::fold_case;
use parlor_core::store::Store;
use parlor_export::synthetic;
use parlor_store_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{QueryBuilder, Sqlite};
use std::io::{BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Rows per insert statement: 17 bound columns a row stays under SQLite's 32,766 variables.
const BATCH: usize = 1000;
/// Conversations the records are spread over.
const CONVERSATIONS: usize = 100;
/// Bump when the loader or generator changes, so kept datasets are rebuilt.
const VERSION: u32 = 1;
/// The zone the server and openpyxl show "Created at" in.
const ZONE: &str = "Europe/Paris";
/// The filters' date range: every loaded record (2,000,000 s from 2026-01-01 is 23 days).
const ALL: &str = "startDate=2026-01-01&endDate=2026-12-31";

/// What a loaded dataset holds, kept beside it as `records.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    version: u32,
    records: usize,
    /// A key of the organization (a throwaway bench database, so kept in clear).
    api_key: String,
    chatbot: Uuid,
    load_seconds: f64,
}

pub(crate) async fn run(args: &Args, dir: &Path) -> anyhow::Result<Vec<Line>> {
    let exe = crate::startup::parlor_exe(args)?;
    let ds = dir.join(format!("records-{}", args.records));
    let meta = open_or_load(&ds, args.records).await?;
    let server =
        Server::start(&exe, &["--time-zone".as_ref(), ZONE.as_ref(), "--data-dir".as_ref(), ds.as_os_str()])?;
    let result = measure(args, dir, &server, &meta).await;
    server.stop();
    result
}

async fn measure(args: &Args, dir: &Path, server: &Server, meta: &Meta) -> anyhow::Result<Vec<Line>> {
    let mut lines = vec![];
    let n = count(meta.records as f64);

    // The export first, on a server that has done nothing else, so its peak memory is the
    // export's own: each read connection's SQLite page cache (up to 16 MiB, up to 8
    // connections) fills as queries scan the table, and the page queries below would leave
    // several caches full before the export started.
    let idle = status_kib(server.pid(), "VmRSS").unwrap_or(0);
    let path = format!("/api/chatbots/{}/records/export-excel/?{ALL}", meta.chatbot);
    let out = dir.join("records-export.xlsx");
    let (addr, key, out2) = (server.addr, meta.api_key.clone(), out.clone());
    eprintln!("records: exporting {n} records through the server");
    let export = tokio::task::spawn_blocking(move || download(addr, &path, &key, &out2)).await??;
    let peak = status_kib(server.pid(), "VmHWM").context("reading the server's VmHWM (Linux only)")?;
    let _ = std::fs::remove_file(&out);

    let base = format!("/api/chatbots/{}/records/", meta.chatbot);
    // A page behind 80% of the records: page numbers are offsets, so this one costs more.
    let deep = (meta.records * 4 / 5 / 20).max(1);
    // Records are 2 s apart from 2026-01-01T00:00Z: 43,200 a day; 2026-01-10 in Paris runs
    // from 2026-01-09T23:00Z, 1,800 records earlier than the UTC day.
    let day = meta.records.saturating_sub(9 * 43_200 - 1_800).min(43_200);
    let pages = [
        (format!("all {n} records, first page"), format!("{base}?{ALL}")),
        (
            format!("one day ({} records), first page", count(day as f64)),
            format!("{base}?startDate=2026-01-10&endDate=2026-01-10"),
        ),
        (format!("all {n}, `userMessage=refund`"), format!("{base}?{ALL}&userMessage=refund")),
        (format!("all {n}, `botMessage=Two-Factor`"), format!("{base}?{ALL}&botMessage=Two-Factor")),
        (format!("all {n}, `userMessage=zzz` (no match)"), format!("{base}?{ALL}&userMessage=zzz")),
        (
            format!("all {n}, page {} (offset {})", count(deep as f64), count(((deep - 1) * 20) as f64)),
            format!("{base}?{ALL}&page={deep}"),
        ),
    ];
    let mut conn = Conn::connect(server.addr).await?;
    for (label, path) in pages {
        let request = client::get(server.addr, &path, &meta.api_key);
        // One warm-up, then the samples.
        ensure!(conn.call(&request).await? == 200, "{path}: {}", String::from_utf8_lossy(conn.body()));
        let mut samples = vec![];
        for _ in 0..args.rounds.max(3) {
            let t = Instant::now();
            let status = conn.call(&request).await?;
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
            ensure!(status == 200, "{path}: {status}");
        }
        let s = Stats::of(&samples);
        lines.push(Line::info(
            &format!("Records page (`GET …/records/`), {label}"),
            format!("{:.1} ms ({:.1}–{:.1})", s.median, s.low, s.high),
            String::new(),
            String::new(),
        ));
    }
    drop(conn);
    let peak_after_pages = status_kib(server.pid(), "VmHWM").unwrap_or(0);

    let python = run_openpyxl(args, dir, meta.records);
    let export_s = export.total.as_secs_f64();
    let measured = format!(
        "{export_s:.1} s (first byte after {:.1} s), {} bytes",
        export.first_byte.as_secs_f64(),
        count(export.bytes as f64)
    );
    match &python {
        Ok(py) => {
            let py_s = py.wall.as_secs_f64();
            lines.push(Line::ratio(
                format!(
                    "Export of {n} records over HTTP (`GET …/records/export-excel/`), vs openpyxl write-only"
                ),
                measured,
                format!("openpyxl: {py_s:.1} s, {} bytes", count(py.bytes as f64)),
                py_s / export_s,
                10.0,
            ));
        }
        Err(e) => lines.push(Line::info(
            &format!("Export of {n} records over HTTP (`GET …/records/export-excel/`)"),
            measured,
            format!("openpyxl not run: {e:#}"),
            String::new(),
        )),
    }
    let mib = |kib: u64| kib as f64 / 1024.0;
    lines.push(Line::below(
        format!(
            "Server peak memory (VmHWM) over the export of {n} records (idle before: {:.1} MiB)",
            mib(idle)
        ),
        format!("{:.1} MiB", mib(peak)),
        mib(peak),
        64.0,
        "MiB",
    ));
    lines.push(Line::info(
        "(diagnosis) Server peak memory (VmHWM) after the page queries too: more read connections' page caches",
        format!("{:.1} MiB", mib(peak_after_pages)),
        String::new(),
        String::new(),
    ));
    if let Ok(py) = &python {
        lines.push(Line::info(
            "(comparison) openpyxl's peak memory (VmHWM), same rows",
            format!("{:.1} MiB", mib(py.peak_kib)),
            String::new(),
            String::new(),
        ));
    }
    Ok(lines)
}

/// A finished download.
struct Download {
    first_byte: Duration,
    total: Duration,
    bytes: u64,
}

/// GETs `path` over HTTP/1.0 and writes the body to `out`; checks it is a whole zip.
fn download(addr: SocketAddr, path: &str, key: &str, out: &Path) -> anyhow::Result<Download> {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Api-Key {key}\r\n\r\n")?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut head = Vec::new();
    let (first_byte, body_start) = loop {
        let n = s.read(&mut buf)?;
        ensure!(n > 0, "the connection closed before the response head");
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break (started.elapsed(), i + 4);
        }
    };
    let text = String::from_utf8_lossy(&head[..body_start]).to_string();
    ensure!(text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"), "export: {text}");
    let mut file = BufWriter::new(std::fs::File::create(out)?);
    file.write_all(&head[body_start..])?;
    let mut bytes = (head.len() - body_start) as u64;
    let mut tail = head[body_start..].to_vec();
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])?;
        bytes += n as u64;
        tail.extend_from_slice(&buf[..n]);
        let keep = tail.len().saturating_sub(64);
        tail.drain(..keep);
    }
    file.flush()?;
    let total = started.elapsed();
    // A zip ends with its end-of-central-directory record (22 bytes, no comment): a download
    // cut short does not.
    ensure!(
        tail.len() >= 22 && tail[tail.len() - 22..].starts_with(b"PK\x05\x06"),
        "the export is not a whole zip"
    );
    Ok(Download { first_byte, total, bytes })
}

/// One run of the openpyxl script.
struct Python {
    wall: Duration,
    peak_kib: u64,
    bytes: u64,
}

/// Runs `bench/openpyxl_export.py` on the same rows, polling its peak memory.
fn run_openpyxl(args: &Args, dir: &Path, records: usize) -> anyhow::Result<Python> {
    let script = &args.openpyxl_script;
    ensure!(script.exists(), "no script at {} (see --openpyxl-script)", script.display());
    let out = dir.join("records-openpyxl.xlsx");
    eprintln!("records: openpyxl writing the same {} rows (minutes at a million)", count(records as f64));
    let started = Instant::now();
    let mut child = Command::new(&args.python)
        .arg(script)
        .arg(records.to_string())
        .arg(&out)
        .arg("--no-scores")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("spawning {}", args.python.display()))?;
    let mut peak_kib = 0;
    let status = loop {
        if let Some(kib) = status_kib(child.id(), "VmHWM") {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let wall = started.elapsed();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        bail!("{} exited with {status}: {}", args.python.display(), err.lines().last().unwrap_or(""));
    }
    let bytes = std::fs::metadata(&out)?.len();
    let _ = std::fs::remove_file(&out);
    Ok(Python { wall, peak_kib, bytes })
}

/// Opens the dataset in `dir` when it has `records` records, else builds it there.
async fn open_or_load(dir: &Path, records: usize) -> anyhow::Result<Meta> {
    let meta_path = dir.join("records.json");
    if let Ok(text) = std::fs::read_to_string(&meta_path)
        && let Ok(meta) = serde_json::from_str::<Meta>(&text)
        && meta.version == VERSION
        && meta.records == records
    {
        eprintln!("reusing the dataset of {records} records in {}", dir.display());
        return Ok(meta);
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    eprintln!("loading {records} records into {} (once; later runs reuse it)", dir.display());
    let started = Instant::now();
    let mut meta = load(&dir.join("parlor.db"), records).await?;
    meta.load_seconds = started.elapsed().as_secs_f64();
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta)?)?;
    eprintln!("loaded in {:.0} s", meta.load_seconds);
    Ok(meta)
}

async fn load(db: &Path, records: usize) -> anyhow::Result<Meta> {
    let store = SqliteStore::open(db).await?;
    let BenchOrg { org, key: api_key, bot, web_chat } = bench_org(&store).await?;
    let mut convs: Vec<ConversationId> = Vec::with_capacity(CONVERSATIONS);
    for _ in 0..CONVERSATIONS {
        let input = NewConversation { web_chat, contact: None, title: None };
        convs.push(store.create_conversation(org, input).await?.id);
    }
    store.close().await;

    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(parlor_store_sqlite::connect_options(db))
        .await?;
    for first in (0..records).step_by(BATCH) {
        let rows = (first..(first + BATCH).min(records))
            .map(|i| synthetic::record(i as u64).map(|r| (i, r)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("generating records: {e}"))?;
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO records (id, org_id, chatbot_id, conversation_id, contact_id, user_message_id, input_message,
                condense_message, output_message, context, reply_time_ms, error, finish_reason, kind, created_at,
                input_folded, output_folded) ",
        );
        q.push_values(rows, |mut b, (i, r)| {
            let reply_ms = r
                .reply_time
                .as_deref()
                .and_then(|t| t.parse::<f64>().ok())
                .map_or(0, |s| (s * 1000.0).round() as i64);
            b.push_bind(r.id.0)
                .push_bind(org.0)
                .push_bind(bot.id.0)
                .push_bind(convs[i % CONVERSATIONS].0)
                .push_bind(r.contact.map(|c| c.0))
                .push_bind(r.user_message_id.0)
                .push_bind(r.input_message.clone())
                .push_bind(r.condense_message)
                .push_bind(r.output_message.clone())
                .push_bind(r.context)
                .push_bind(reply_ms)
                .push_bind(None::<String>)
                .push_bind("stop")
                .push_bind(r.kind)
                .push_bind(r.created_at.micros())
                .push_bind(fold_case(&r.input_message))
                .push_bind(fold_case(&r.output_message));
        });
        q.build().execute(&pool).await?;
        if first % 100_000 == 0 && first > 0 {
            eprintln!("  {} records", count(first as f64));
        }
    }
    pool.close().await;
    Ok(Meta { version: VERSION, records, api_key, chatbot: bot.id.0, load_seconds: 0.0 })
}
