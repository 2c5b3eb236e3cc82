//! The in-process measurements: the real application (`AppState::new` + `serve`) on a port of
//! this process's runtime, driven over real TCP by the client of [`crate::client`], each
//! beside its baseline in alternating rounds, so a burst of noise from the other users of
//! the machine falls on both sides alike.

use crate::Args;
use crate::client::{self, Conn, on_client_thread};
use crate::dataset::{BenchOrg, Dataset, bench_org};
use crate::report::{Line, Stats, count, ms, rate};
use anyhow::ensure;
use axum::body::Bytes;
use axum::http::header;
use parlor_core::clock;
use parlor_core::id::{ConversationId, OrgId};
use parlor_core::input::{ConversationPatch, NewConversation, NewMessage};
use parlor_core::model::{MessageType, SenderType};
use parlor_core::page::CursorRequest;
use parlor_core::store::Store;
use parlor_server::app::{AppState, serve};
use parlor_store_sqlite::SqliteStore;
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use uuid::Uuid;

/// The text of every created message: a typical chat message of 86 characters.
pub(crate) const TEXT: &str =
    "Hello, I ordered a blue jacket last week and it still has not arrived. Can you check?";

/// A server running on this process's runtime until [`Running::stop`].
struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// The real application on `store`, as `parlor serve` runs it.
    async fn app(store: Arc<dyn Store>) -> anyhow::Result<Running> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let state = AppState::new(store);
        let task = tokio::spawn(serve(listener, state, shutdown, Duration::from_secs(5)));
        Ok(Running { addr, stop, task })
    }

    /// A bare axum router answering `GET /static` with `body` as JSON: the cost of HTTP and
    /// axum alone, for comparison with a real handler.
    async fn bare(body: Bytes) -> anyhow::Result<Running> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let router = axum::Router::new().route(
            "/static",
            axum::routing::get(move || {
                let body = body.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            }),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Running { addr, stop, task })
    }

    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await??;
        Ok(())
    }
}

/// One measuring slice of each side per round.
fn slice(args: &Args) -> Duration {
    args.duration / args.rounds.max(1) as u32
}

/// Target 1: messages created per second over HTTP against the database's own single-row
/// commit rate, with `store.create_message` without HTTP in between to show where time goes.
pub(crate) async fn create(args: &Args, dir: &Path) -> anyhow::Result<Vec<Line>> {
    let dir = dir.join("create");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("parlor.db");
    let store = Arc::new(SqliteStore::open(&db).await?);
    let (org, key, convs) = setup_org(store.as_ref(), args.clients).await?;
    // The baseline: a pool set up as the store's write pool (the same connection settings,
    // one connection), committing one-row transactions into a table of its own.
    let raw = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .connect_with(parlor_store_sqlite::connect_options(&db))
        .await?;
    sqlx::query(
        "CREATE TABLE bench_raw (seq INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, body TEXT NOT NULL,
            created_at INTEGER NOT NULL)",
    )
    .execute(&raw)
    .await?;
    let server = Running::app(store.clone()).await?;
    let requests: Vec<Vec<u8>> = convs
        .iter()
        .map(|c| {
            let body = serde_json::json!({"conversation": c, "type": "incoming", "content": TEXT});
            client::post_json(server.addr, "/api/messages/", &key, &body.to_string())
        })
        .collect();
    let (slice, clients, addr) = (slice(args), args.clients, server.addr);
    let warm = slice.min(Duration::from_millis(500));
    raw_commits(&raw, clients, warm).await?;
    store_creates(store.clone(), org, &convs, clients, warm).await?;
    let reqs = requests.clone();
    on_client_thread(move || client::throughput(addr, clients, warm, reqs, 201)).await?;
    let (mut raw_r, mut store_r, mut http_r) = (vec![], vec![], vec![]);
    for round in 0..args.rounds {
        eprintln!("create: round {}/{}", round + 1, args.rounds);
        raw_r.push(raw_commits(&raw, clients, slice).await?);
        store_r.push(store_creates(store.clone(), org, &convs, clients, slice).await?);
        let reqs = requests.clone();
        http_r.push(on_client_thread(move || client::throughput(addr, clients, slice, reqs, 201)).await?);
    }
    server.stop().await?;
    raw.close().await;
    store.close().await;
    let (raw_m, store_m, http_m) = (Stats::of(&raw_r), Stats::of(&store_r), Stats::of(&http_r));
    Ok(vec![
        Line::ratio(
            format!("1. Messages created over HTTP, {clients} clients (`POST /api/messages/`)"),
            rate(&http_m, "msg/s"),
            format!("raw 1-row commits: {}", rate(&raw_m, "/s")),
            http_m.median / raw_m.median,
            0.5,
        ),
        Line::info(
            "   (diagnosis) `store.create_message`, no HTTP",
            rate(&store_m, "msg/s"),
            format!("raw 1-row commits: {}", rate(&raw_m, "/s")),
            format!("{:.2}×", store_m.median / raw_m.median),
        ),
    ])
}

/// Commits one-row transactions (`BEGIN IMMEDIATE`, `INSERT`, `COMMIT`, as the store begins
/// its writes) from `clients` tasks for `duration`; returns commits per second.
async fn raw_commits(pool: &SqlitePool, clients: usize, duration: Duration) -> anyhow::Result<f64> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let pool = pool.clone();
        tasks.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                sqlx::query("INSERT INTO bench_raw (id, body, created_at) VALUES (?, ?, ?)")
                    .bind(Uuid::now_v7())
                    .bind(TEXT)
                    .bind(clock::now().micros())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                done += 1;
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

/// Calls `store.create_message` (an incoming message, as the HTTP side creates) from
/// `clients` tasks for `duration`; returns messages per second.
async fn store_creates(
    store: Arc<SqliteStore>,
    org: OrgId,
    convs: &[ConversationId],
    clients: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..clients {
        let (store, conv) = (store.clone(), convs[i % convs.len()]);
        tasks.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let input = NewMessage {
                    conversation: conv,
                    kind: MessageType::Incoming,
                    sender_type: SenderType::Contact,
                    contact: None,
                    sender: None,
                    content: TEXT.into(),
                    content_payload: None,
                    query_metadata: None,
                    attachments: vec![],
                    canvas: None,
                    metadata: Default::default(),
                };
                store.create_message(org, input).await?;
                done += 1;
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

/// An organization with a key and `n` conversations whose auto-reply is off, so creating
/// messages in them measures storing a message, not generating replies.
pub(crate) async fn setup_org(
    store: &dyn Store,
    n: usize,
) -> anyhow::Result<(OrgId, String, Vec<ConversationId>)> {
    let BenchOrg { org, key, web_chat, .. } = bench_org(store).await?;
    let mut convs = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let c =
            store.create_conversation(org, NewConversation { web_chat, contact: None, title: None }).await?;
        let patch = ConversationPatch { auto_reply_enabled: Some(false), ..Default::default() };
        store.update_conversation(org, c.id, patch).await?;
        convs.push(c.id);
    }
    Ok((org, key, convs))
}

/// Which of the read measurements to run over the large dataset.
pub(crate) struct Reads {
    pub(crate) page: bool,
    pub(crate) deep: bool,
    pub(crate) keyword: bool,
}

/// Targets 2 to 4, on the large dataset behind one running server.
pub(crate) async fn reads(args: &Args, ds: &Dataset, which: Reads) -> anyhow::Result<Vec<Line>> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&ds.db()).await?);
    let server = Running::app(store.clone()).await?;
    let mut lines = vec![];
    if which.page {
        lines.extend(page(args, ds, server.addr, store.clone()).await?);
    }
    if which.deep {
        lines.push(deep(args, ds, server.addr).await?);
    }
    if which.keyword {
        lines.push(keyword(args, ds, server.addr).await?);
    }
    server.stop().await?;
    store.close().await;
    Ok(lines)
}

/// Target 2: one page of a conversation's messages (20) read per second, against a bare
/// axum handler answering the same bytes.
async fn page(
    args: &Args,
    ds: &Dataset,
    addr: SocketAddr,
    store: Arc<dyn Store>,
) -> anyhow::Result<Vec<Line>> {
    let key = ds.meta.api_key.clone();
    let path = format!("/api/messages/?conversation={}", ds.meta.conversation);
    let real = client::get(addr, &path, &key);
    let first = real.clone();
    let body = on_client_thread(move || async move {
        let mut conn = Conn::connect(addr).await?;
        ensure!(conn.call(&first).await? == 200, "{}", String::from_utf8_lossy(conn.body()));
        Ok(conn.body().to_vec())
    })
    .await?;
    let page: serde_json::Value = serde_json::from_slice(&body)?;
    let n = page["results"].as_array().map_or(0, Vec::len);
    ensure!(n == 20, "expected a page of 20 messages, got {n}");
    let size = body.len();
    let bare = Running::bare(Bytes::from(body)).await?;
    let fixed = client::get(bare.addr, "/static", &key);
    let (slice, clients, bare_addr) = (slice(args), args.clients, bare.addr);
    let (org, conv) = (OrgId(ds.meta.org), ConversationId(ds.meta.conversation));
    let (mut real_r, mut bare_r, mut store_r) = (vec![], vec![], vec![]);
    for round in 0..=args.rounds {
        eprintln!("read: round {round}/{} (0 warms up)", args.rounds);
        let d = if round == 0 { slice.min(Duration::from_millis(500)) } else { slice };
        let r = real.clone();
        let a = on_client_thread(move || client::throughput(addr, clients, d, vec![r], 200)).await?;
        let f = fixed.clone();
        let b = on_client_thread(move || client::throughput(bare_addr, clients, d, vec![f], 200)).await?;
        let c = store_reads(store.clone(), org, conv, clients, d).await?;
        if round > 0 {
            real_r.push(a);
            bare_r.push(b);
            store_r.push(c);
        }
    }
    bare.stop().await?;
    let (real_m, bare_m, store_m) = (Stats::of(&real_r), Stats::of(&bare_r), Stats::of(&store_r));
    let baseline = format!("bare axum, same {} bytes: {}", count(size as f64), rate(&bare_m, "/s"));
    Ok(vec![
        Line::ratio(
            format!("2. Pages of 20 messages read, {clients} clients (`GET /api/messages/?conversation=`)"),
            rate(&real_m, "pages/s"),
            baseline.clone(),
            real_m.median / bare_m.median,
            0.5,
        ),
        Line::info(
            "   (diagnosis) `store.list_messages`, no HTTP, no key lookup",
            rate(&store_m, "pages/s"),
            baseline,
            format!("{:.2}×", store_m.median / bare_m.median),
        ),
    ])
}

/// Calls `store.list_messages` for the first page of `conv` from `clients` tasks for
/// `duration`; returns pages per second.
async fn store_reads(
    store: Arc<dyn Store>,
    org: OrgId,
    conv: ConversationId,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let store = store.clone();
        tasks.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let page = CursorRequest { cursor: None, page_size: 20 };
                store.list_messages(org, Some(conv), page).await?;
                done += 1;
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

/// Alternates `requests` on one connection, a slice each per round; their latencies, in
/// the order of `requests`.
async fn alternate(
    args: &Args,
    addr: SocketAddr,
    requests: Vec<Vec<u8>>,
    what: &'static str,
) -> anyhow::Result<Vec<Vec<Duration>>> {
    let (rounds, slice) = (args.rounds, slice(args));
    on_client_thread(move || async move {
        let mut conn = Conn::connect(addr).await?;
        for r in &requests {
            client::latencies(&mut conn, r, 200, slice.min(Duration::from_millis(300))).await?;
        }
        let mut out = vec![vec![]; requests.len()];
        for round in 0..rounds {
            eprintln!("{what}: round {}/{rounds}", round + 1);
            for (r, l) in requests.iter().zip(&mut out) {
                l.extend(client::latencies(&mut conn, r, 200, slice).await?);
            }
        }
        Ok(out)
    })
    .await
}

/// Target 3: the organization's first page of messages against a page 90% deep into its
/// history (a cursor past 900,000 newer messages of 1,000,000), one request at a time.
async fn deep(args: &Args, ds: &Dataset, addr: SocketAddr) -> anyhow::Result<Line> {
    let key = &ds.meta.api_key;
    let first = client::get(addr, "/api/messages/", key);
    let deep = client::get(addr, &format!("/api/messages/?cursor={}", ds.meta.deep_cursor()?), key);
    let l = alternate(args, addr, vec![first, deep], "deep").await?;
    let (f, d) = (Stats::of_durations(&l[0]), Stats::of_durations(&l[1]));
    Ok(Line::ratio_at_most(
        format!(
            "3. Page behind {} newer messages (`GET /api/messages/?cursor=`)",
            count(ds.meta.deep_newer() as f64)
        ),
        ms(&d),
        format!("first page: {}", ms(&f)),
        d.median / f.median,
        1.2,
    ))
}

/// Target 4: a keyword search over every message of the organization, one at a time.
async fn keyword(args: &Args, ds: &Dataset, addr: SocketAddr) -> anyhow::Result<Line> {
    let word = parlor_core::search::normalize(&args.keyword);
    ensure!(!word.is_empty() && !word.contains(' '), "--keyword takes one word");
    let (hits, conversations) = crate::dataset::sqlite::keyword_share(&ds.db(), &word).await?;
    let key = &ds.meta.api_key;
    let req = client::get(addr, &format!("/api/conversations/?keyword={word}"), key);
    let l = alternate(args, addr, vec![req], "keyword").await?;
    let s = Stats::of_durations(&l[0]);
    Ok(Line::below(
        format!(
            "4. `GET /api/conversations/?keyword={word}` over {} messages ({word}: in {} messages, {} conversations)",
            count(ds.meta.messages as f64),
            count(hits as f64),
            count(conversations as f64),
        ),
        ms(&s),
        s.median * 1000.0,
        20.0,
        "ms",
    ))
}
