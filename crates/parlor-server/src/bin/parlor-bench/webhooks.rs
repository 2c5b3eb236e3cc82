//! Background replies delivered by webhook, end to end: an incoming message posted over HTTP,
//! answered by the built-in knowledge engine in the background, and POSTed to a receiver (a
//! bare axum route in this process that answers 200 at once).
//!
//! Two figures. Replies delivered per second: `--clients` clients, each on its own
//! conversation (replies of one conversation take turns), each posting its next message
//! when the webhook of the previous one arrived. And the delay delivery adds over
//! generation, from one client at a time: the time from the reply being stored (its outbox
//! row's `created_at`, written in the transaction that stores the reply) to the receiver
//! getting it, both read from the same clock in this one process, in microseconds.

use crate::Args;
use crate::client::{self, Conn, on_client_thread};
use crate::report::{Line, Stats, ms, rate};
use anyhow::{Context, bail};
use axum::body::Bytes;
use parlor_core::clock;
use parlor_core::id::ConversationId;
use parlor_core::input::{NewChatbot, NewConversation, NewDocument};
use parlor_core::knowledge::demo_documents;
use parlor_core::store::Store;
use parlor_server::app::{AppState, serve};
use parlor_server::keys;
use parlor_store_sqlite::SqliteStore;
use sqlx::sqlite::SqlitePoolOptions;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Questions the demo knowledge answers, asked in turn.
const QUESTIONS: [&str; 4] = [
    "how do I export records?",
    "how do I receive webhooks?",
    "how do I create an API key?",
    "how do I add knowledge to a chatbot?",
];

/// A webhook as the receiver got it.
struct Received {
    at: Instant,
    /// [`clock::now`] in microseconds, to compare with the stored outbox row.
    wall_us: i64,
    message: Uuid,
}

pub(crate) async fn run(args: &Args, dir: &Path) -> anyhow::Result<Vec<Line>> {
    let dir = dir.join("webhooks");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("parlor.db");
    let store = Arc::new(SqliteStore::open(&db).await?);
    let clients = args.clients.max(1);

    // The receiver: routes each webhook to the client waiting on its conversation.
    let hook_listener = TcpListener::bind("127.0.0.1:0").await?;
    let hook_url = format!("http://{}/hook", hook_listener.local_addr()?);
    let org = store.create_org("bench").await?;
    let key = keys::generate();
    store.create_api_key(org.id, "bench", &keys::hash(&key), &keys::display_prefix(&key)).await?;
    let bot = store
        .create_chatbot(
            org.id,
            NewChatbot {
                webhook_url: Some(hook_url.clone()),
                webhook_secret: Some(parlor_server::webhooks::new_secret()),
                ..NewChatbot::named("Guide")
            },
        )
        .await?;
    for (title, content) in demo_documents() {
        store
            .create_document(org.id, bot.id, NewDocument { title, content, metadata: Default::default() })
            .await?;
    }
    let mut routes = HashMap::new();
    let mut waiting = Vec::new();
    for _ in 0..=clients {
        let c = store
            .create_conversation(
                org.id,
                NewConversation { web_chat: bot.api_web_chat_id, contact: None, title: None },
            )
            .await?;
        let (tx, rx) = mpsc::unbounded_channel::<Received>();
        routes.insert(c.id, tx);
        waiting.push((c.id, rx));
    }
    let routes = Arc::new(routes);
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: Bytes| {
            let routes = routes.clone();
            async move {
                let (at, wall_us) = (Instant::now(), clock::now().micros());
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let conv = v["conversation"].as_str().and_then(|s| s.parse::<ConversationId>().ok());
                let message = v["id"].as_str().and_then(|s| s.parse::<Uuid>().ok());
                if let (Some(tx), Some(message)) = (conv.and_then(|c| routes.get(&c)), message) {
                    let _ = tx.send(Received { at, wall_us, message });
                }
                "ok"
            }
        }),
    );
    let hook = tokio::spawn(async move { axum::serve(hook_listener, receiver).await });

    // The server, as `parlor serve` runs it: default webhook settings, except that the
    // receiver is on this machine (`--webhook-allow-local-network`).
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let hooks = parlor_server::webhooks::WebhookConfig { allow_local_network: true, ..Default::default() };
    let server = tokio::spawn(serve(
        listener,
        AppState { webhooks: parlor_server::webhooks::Webhooks::new(hooks), ..AppState::new(store.clone()) },
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(10),
    ));

    // One client per conversation: its requests, and where its webhooks arrive.
    let mut sessions: Vec<Session> = waiting
        .into_iter()
        .map(|(c, rx)| Session {
            requests: QUESTIONS
                .iter()
                .map(|q| {
                    let body = serde_json::json!({"conversation": c, "content": q});
                    client::post_json(addr, "/api/messages/", &key, &body.to_string())
                })
                .collect(),
            hooks: rx,
        })
        .collect();

    // Latency and delay: one client, alone.
    let alone = sessions.pop().context("no session")?;
    let span = args.duration.max(Duration::from_millis(500));
    let alone = on_client_thread(move || drive(addr, alone, Duration::from_millis(300))).await?.0;
    let (alone, latencies, received) = on_client_thread(move || drive(addr, alone, span)).await?;
    drop(alone);

    // Throughput: all the others at once, in rounds.
    let slice = args.duration / args.rounds.max(1) as u32;
    let mut rates = vec![];
    let mut loaded = vec![];
    for round in 0..args.rounds.max(1) {
        eprintln!("webhooks: round {}/{}", round + 1, args.rounds);
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for s in sessions.drain(..) {
            tasks.spawn(on_client_thread(move || drive(addr, s, slice)));
        }
        let mut done = 0;
        while let Some(r) = tasks.join_next().await {
            let (s, _, got) = r??;
            done += got.len();
            loaded.extend(got);
            sessions.push(s);
        }
        rates.push(done as f64 / start.elapsed().as_secs_f64());
    }

    let _ = stop.send(());
    server.await??;
    hook.abort();
    let stored = outbox_times(&db).await?;
    store.close().await;
    let delays = |got: &[Received]| -> Vec<f64> {
        got.iter().filter_map(|r| stored.get(&r.message).map(|&t| (r.wall_us - t) as f64 / 1e6)).collect()
    };
    let (alone_delay, loaded_delay) = (Stats::of(&delays(&received)), Stats::of(&delays(&loaded)));
    let e2e = Stats::of_durations(&latencies);
    let rate_m = Stats::of(&rates);
    Ok(vec![
        Line::info(
            &format!("Webhook replies delivered end to end, {} clients (posted → received)", sessions.len()),
            rate(&rate_m, "replies/s"),
            String::new(),
            String::new(),
        ),
        Line::info(
            "   posted → webhook received, 1 client",
            ms(&e2e),
            String::new(),
            format!("{} replies", latencies.len()),
        ),
        Line::below(
            "Delay delivery adds over generation (reply stored → received), 1 client".into(),
            ms(&alone_delay),
            alone_delay.median * 1000.0,
            5.0,
            "ms",
        ),
        Line::info(
            &format!("   the same under load, {} clients", sessions.len()),
            ms(&loaded_delay),
            String::new(),
            String::new(),
        ),
    ])
}

/// One client's conversation: its prepared requests and its webhooks.
struct Session {
    requests: Vec<Vec<u8>>,
    hooks: mpsc::UnboundedReceiver<Received>,
}

/// Posts a question, waits for its webhook, again, for `span`. Returns the session, the
/// latencies (posted → received) and the webhooks.
async fn drive(
    addr: std::net::SocketAddr,
    mut s: Session,
    span: Duration,
) -> anyhow::Result<(Session, Vec<Duration>, Vec<Received>)> {
    let mut conn = Conn::connect(addr).await?;
    let deadline = Instant::now() + span;
    let (mut latencies, mut got) = (vec![], vec![]);
    let mut i = 0;
    while Instant::now() < deadline {
        let t = Instant::now();
        let status = conn.call(&s.requests[i % s.requests.len()]).await?;
        if status != 201 {
            bail!("expected 201, got {status}: {}", String::from_utf8_lossy(conn.body()));
        }
        let r = tokio::time::timeout(Duration::from_secs(30), s.hooks.recv())
            .await
            .context("no webhook within 30 s")?
            .context("the receiver stopped")?;
        latencies.push(r.at - t);
        got.push(r);
        i += 1;
    }
    Ok((s, latencies, got))
}

/// When each reply was stored: its outbox row's time, in microseconds.
async fn outbox_times(db: &Path) -> anyhow::Result<HashMap<Uuid, i64>> {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(parlor_store_sqlite::connect_options(db).read_only(true))
        .await?;
    let rows: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT message_id, created_at FROM webhook_deliveries").fetch_all(&pool).await?;
    pool.close().await;
    Ok(rows.into_iter().collect())
}
