//! `--database-url`: the foundation's throughput and latency measurements on three ways of
//! running Parlor, side by side in one run: SQLite, PostgreSQL with one instance, and
//! PostgreSQL with two instances sharing the database.
//!
//! Every side is real `parlor serve` processes (the binary beside the bench), spawned once
//! and kept up for the whole run: one on the SQLite dataset's data dir, two on the PostgreSQL
//! database (on ports of their own). "One instance" sends all the clients to the first of
//! the two; "two instances" spreads them over both, half each (the idle one meanwhile costs
//! nothing but a LISTEN connection). The bench process is only the client, on its own thread
//! ([`on_client_thread`]), the same for every side. So no side runs in the bench's process:
//! these figures are comparable with each other, not with the in-process SQLite ones of the
//! default run.
//!
//! Each measurement alternates the sides in rounds (a slice of `--duration / --rounds` each,
//! after a short warm-up round), so a burst of noise from the machine's other users falls on
//! all of them alike. Creates go to an organization made for the run in each database (one
//! conversation a client, auto-reply off), deleted again at the end; reads go to the large
//! organization, which both datasets fill with the same texts.

use crate::Args;
use crate::client::{self, Conn, on_client_thread};
use crate::cpu::Meter;
use crate::dataset::postgres::PgDataset;
use crate::dataset::{Dataset, Meta};
use crate::report::{Stats, count, ms, rate};
use crate::scenarios::{TEXT, setup_org};
use crate::startup::{Server, parlor_exe};
use anyhow::ensure;
use parlor_core::id::{ConversationId, OrgId};
use parlor_core::store::Store;
use parlor_store_postgres::PgStore;
use parlor_store_sqlite::SqliteStore;
use sqlx::Connection;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which measurements to run.
pub(crate) struct Which {
    pub(crate) create: bool,
    pub(crate) page: bool,
    pub(crate) deep: bool,
    pub(crate) keyword: bool,
}

/// The organization a run creates messages in (none when `create` is not measured).
struct Creates {
    org: OrgId,
    key: String,
    convs: Vec<ConversationId>,
}

impl Default for Creates {
    fn default() -> Self {
        Creates { org: OrgId(uuid::Uuid::nil()), key: String::new(), convs: vec![] }
    }
}

/// One way of running Parlor.
struct Side<'a> {
    label: &'static str,
    /// Its servers; the clients are spread over them.
    addrs: Vec<SocketAddr>,
    /// The large organization.
    meta: &'a Meta,
    creates: &'a Creates,
    /// The CPU time of its servers (and database backends).
    meter: Meter,
}

/// One row of the table: a figure for each side.
struct Row {
    what: String,
    figures: Vec<String>,
    /// Two instances against one (the last side against the one before it).
    ratio: f64,
}

/// Runs the measurements; returns the Markdown table.
pub(crate) async fn run(
    args: &Args,
    sqlite: &Dataset,
    pg: &PgDataset,
    dir: &Path,
    which: Which,
) -> anyhow::Result<String> {
    let exe = parlor_exe(args)?;
    let servers = start_servers(&exe, sqlite, pg, dir)?;
    let creates = if which.create { Some(make_creates(sqlite, pg, args.clients).await?) } else { None };
    let (sqlite_creates, pg_creates) = creates.unwrap_or_default();
    let [s, a, b] = &servers;
    let pg_meter = || Meter::new(vec![a.pid(), b.pid()], Some(&pg.url));
    let mut sides = [
        Side {
            label: "SQLite",
            addrs: vec![s.addr],
            meta: &sqlite.meta,
            creates: &sqlite_creates,
            meter: Meter::new(vec![s.pid()], None).await?,
        },
        Side {
            label: "PostgreSQL, 1 instance",
            addrs: vec![a.addr],
            meta: &pg.meta,
            creates: &pg_creates,
            meter: pg_meter().await?,
        },
        Side {
            label: "PostgreSQL, 2 instances",
            addrs: vec![a.addr, b.addr],
            meta: &pg.meta,
            creates: &pg_creates,
            meter: pg_meter().await?,
        },
    ];
    let rows = measure(args, &mut sides, &which, sqlite, pg).await;
    let labels: Vec<&str> = sides.iter().map(|s| s.label).collect();
    for side in sides {
        side.meter.close().await;
    }
    drop(servers);
    if which.create {
        delete_creates(sqlite, &sqlite_creates, pg, &pg_creates).await?;
    }
    Ok(table(&labels, &rows?))
}

/// The SQLite server, then the two PostgreSQL instances.
fn start_servers(exe: &Path, sqlite: &Dataset, pg: &PgDataset, dir: &Path) -> anyhow::Result<[Server; 3]> {
    let s = Server::start(exe, &["--data-dir".as_ref(), sqlite.dir.as_os_str()])?;
    let pg_server = |name: &str| {
        let data = dir.join(name);
        Server::start(
            exe,
            &["--database-url".as_ref(), pg.url.as_ref(), "--data-dir".as_ref(), data.as_os_str()],
        )
    };
    Ok([s, pg_server("pg-a")?, pg_server("pg-b")?])
}

/// In each database, an organization with a key and one conversation per client,
/// auto-reply off, made through a store of the bench's, closed again: an open PostgreSQL
/// store would LISTEN, and every message created would be sent to it as well.
async fn make_creates(
    sqlite: &Dataset,
    pg: &PgDataset,
    clients: usize,
) -> anyhow::Result<(Creates, Creates)> {
    let made = |store: Arc<dyn Store>| async move {
        let made = setup_org(store.as_ref(), clients).await;
        store.close().await;
        let (org, key, convs) = made?;
        anyhow::Ok(Creates { org, key, convs })
    };
    let s = made(Arc::new(SqliteStore::open(&sqlite.db()).await?)).await?;
    let p = made(Arc::new(PgStore::connect(&pg.url).await?)).await?;
    Ok((s, p))
}

/// Deletes the run's conversations, with their messages, through the stores (which keep
/// their keyword indexes in step), and vacuums PostgreSQL's dead rows now rather than have
/// autovacuum do it during a later run.
async fn delete_creates(sqlite: &Dataset, s: &Creates, pg: &PgDataset, p: &Creates) -> anyhow::Result<()> {
    eprintln!("cleaning up: deleting the messages created");
    let sqlite_store: Arc<dyn Store> = Arc::new(SqliteStore::open(&sqlite.db()).await?);
    let pg_store: Arc<dyn Store> = Arc::new(PgStore::connect(&pg.url).await?);
    for (store, creates) in [(&sqlite_store, s), (&pg_store, p)] {
        for c in &creates.convs {
            store.delete_conversation(creates.org, *c).await?;
        }
        store.close().await;
    }
    let mut conn = sqlx::postgres::PgConnection::connect(&pg.url).await?;
    sqlx::raw_sql("VACUUM (ANALYZE) messages, conversations, contacts").execute(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

async fn measure(
    args: &Args,
    sides: &mut [Side<'_>],
    which: &Which,
    sqlite: &Dataset,
    pg: &PgDataset,
) -> anyhow::Result<Vec<Row>> {
    let clients = args.clients;
    let mut rows = vec![];
    if which.create {
        let t = throughputs(args, "create", sides, 201, |side, addr| {
            let body = |c: &ConversationId| {
                serde_json::json!({"conversation": c, "type": "incoming", "content": TEXT}).to_string()
            };
            side.creates
                .convs
                .iter()
                .map(|c| client::post_json(addr, "/api/messages/", &side.creates.key, &body(c)))
                .collect()
        })
        .await?;
        rows.extend(Row::throughput(
            format!("Messages created, {clients} clients (`POST /api/messages/`)"),
            &t,
            "msg/s",
            "message",
        ));
    }
    if which.page {
        let t = throughputs(args, "read", sides, 200, |side, addr| {
            let path = format!("/api/messages/?conversation={}", side.meta.conversation);
            vec![client::get(addr, &path, &side.meta.api_key)]
        })
        .await?;
        rows.extend(Row::throughput(
            format!("Pages of 20 messages read, {clients} clients (`GET /api/messages/?conversation=`)"),
            &t,
            "pages/s",
            "page",
        ));
    }
    if which.deep {
        let l = latencies(args, "deep", sides, |side, addr| {
            let key = &side.meta.api_key;
            let deep = format!("/api/messages/?cursor={}", side.meta.deep_cursor()?);
            Ok(vec![client::get(addr, "/api/messages/", key), client::get(addr, &deep, key)])
        })
        .await?;
        let first: Vec<Stats> = l.iter().map(|k| k[0]).collect();
        let deep: Vec<Stats> = l.iter().map(|k| k[1]).collect();
        rows.push(Row::of(
            "The organization's first page of messages, one at a time (`GET /api/messages/`)".into(),
            &first,
            ms,
        ));
        rows.push(Row::of(
            format!(
                "Page behind {} newer messages, one at a time (`GET /api/messages/?cursor=`)",
                count(sides[0].meta.deep_newer() as f64)
            ),
            &deep,
            ms,
        ));
    }
    if which.keyword {
        let word = parlor_core::search::normalize(&args.keyword);
        ensure!(!word.is_empty() && !word.contains(' '), "--keyword takes one word");
        let in_sqlite = crate::dataset::sqlite::keyword_share(&sqlite.db(), &word).await?;
        let in_pg = crate::dataset::postgres::keyword_share(pg, &word).await?;
        let l = latencies(args, "keyword", sides, |side, addr| {
            Ok(vec![client::get(addr, &format!("/api/conversations/?keyword={word}"), &side.meta.api_key)])
        })
        .await?;
        let share = |(m, c): (i64, i64)| {
            format!("in {} messages, {} conversations", count(m as f64), count(c as f64))
        };
        let shares = if in_sqlite == in_pg {
            share(in_sqlite)
        } else {
            format!("SQLite: {}; PostgreSQL: {}", share(in_sqlite), share(in_pg))
        };
        rows.push(Row::of(
            format!(
                "`GET /api/conversations/?keyword={word}` over {} messages, one at a time ({word}: {shares})",
                count(sides[0].meta.messages as f64)
            ),
            &l.iter().map(|k| k[0]).collect::<Vec<_>>(),
            ms,
        ));
    }
    Ok(rows)
}

impl Row {
    /// A throughput's two rows: the rates, and the CPU time a request took (medians over the
    /// rounds; Parlor's and the database backends').
    fn throughput(what: String, t: &[Throughput], unit: &str, each: &str) -> [Row; 2] {
        let rates: Vec<Stats> = t.iter().map(|t| t.rate).collect();
        let cpu = |t: &Throughput| (t.parlor_us.median, t.database_us.median);
        let figures = t
            .iter()
            .map(|t| match cpu(t) {
                (p, d) if d > 0.0 => format!("{} µs ({} + {})", count(p + d), count(p), count(d)),
                (p, _) => format!("{} µs (in Parlor)", count(p)),
            })
            .collect();
        let total = |t: &Throughput| cpu(t).0 + cpu(t).1;
        let n = t.len();
        let cpu = Row {
            what: format!("   CPU time per {each}: Parlor + PostgreSQL backends"),
            figures,
            ratio: total(&t[n - 1]) / total(&t[n - 2]),
        };
        [Row::of(what, &rates, |s| rate(s, unit)), cpu]
    }

    /// `stats` in the sides' order, each shown with `show`; the ratio is of medians.
    fn of(what: String, stats: &[Stats], show: impl Fn(&Stats) -> String) -> Row {
        let n = stats.len();
        Row {
            what,
            figures: stats.iter().map(show).collect(),
            ratio: stats[n - 1].median / stats[n - 2].median,
        }
    }
}

/// One measuring slice of each side per round.
fn slice(args: &Args) -> Duration {
    args.duration / args.rounds.max(1) as u32
}

/// What a throughput measurement gives for one side: requests per second, and CPU
/// microseconds per request in Parlor and in the database.
struct Throughput {
    rate: Stats,
    parlor_us: Stats,
    database_us: Stats,
}

/// Requests per second of `args.clients` connections on each side, spread over its servers,
/// each sending the next of the requests `requests` makes for that side (given the address
/// its `Host` names); answers must have status `expect`. The side's meter gives the CPU time
/// each slice cost.
async fn throughputs(
    args: &Args,
    what: &str,
    sides: &mut [Side<'_>],
    expect: u16,
    requests: impl Fn(&Side<'_>, SocketAddr) -> Vec<Vec<u8>>,
) -> anyhow::Result<Vec<Throughput>> {
    let requests: Vec<Vec<Vec<u8>>> = sides.iter().map(|s| requests(s, s.addrs[0])).collect();
    let mut samples = vec![(vec![], vec![], vec![]); sides.len()];
    for round in 0..=args.rounds {
        eprintln!("{what}: round {round}/{} (0 warms up)", args.rounds);
        let d = if round == 0 { slice(args).min(Duration::from_millis(500)) } else { slice(args) };
        for ((side, reqs), out) in sides.iter_mut().zip(&requests).zip(&mut samples) {
            let (addrs, reqs, clients) = (side.addrs.clone(), reqs.clone(), args.clients);
            let before = side.meter.sample().await?;
            let started = Instant::now();
            let rate =
                on_client_thread(move || client::throughput_over(addrs, clients, d, reqs, expect)).await?;
            let requests = rate * started.elapsed().as_secs_f64();
            let used = side.meter.sample().await?.since(&before);
            if round > 0 {
                out.0.push(rate);
                out.1.push(used.parlor * 1e6 / requests);
                out.2.push(used.database * 1e6 / requests);
            }
        }
    }
    Ok(samples
        .iter()
        .map(|(r, p, d)| Throughput {
            rate: Stats::of(r),
            parlor_us: Stats::of(p),
            database_us: Stats::of(d),
        })
        .collect())
}

/// Latencies of the requests `requests` makes for each side, one request at a time: in each
/// round and side, each kind of request for a slice, on one connection to each of the side's
/// servers in turn (a share of the slice each). Returns, per side, the stats of each kind.
async fn latencies(
    args: &Args,
    what: &str,
    sides: &[Side<'_>],
    requests: impl Fn(&Side<'_>, SocketAddr) -> anyhow::Result<Vec<Vec<u8>>>,
) -> anyhow::Result<Vec<Vec<Stats>>> {
    // Per side: per server, its address and the requests for it.
    let mut plans: Vec<Vec<(SocketAddr, Vec<Vec<u8>>)>> = vec![];
    for side in sides {
        plans.push(side.addrs.iter().map(|&a| Ok((a, requests(side, a)?))).collect::<anyhow::Result<_>>()?);
    }
    let kinds = plans[0][0].1.len();
    let mut samples = vec![vec![vec![]; kinds]; sides.len()];
    for round in 0..=args.rounds {
        eprintln!("{what}: round {round}/{} (0 warms up)", args.rounds);
        let d = if round == 0 { slice(args).min(Duration::from_millis(300)) } else { slice(args) };
        for (plan, out) in plans.iter().zip(&mut samples) {
            let (plan, share) = (plan.clone(), d / plan.len() as u32);
            let got = on_client_thread(move || async move {
                let mut got = vec![vec![]; kinds];
                for (addr, reqs) in &plan {
                    let mut conn = Conn::connect(*addr).await?;
                    for (req, g) in reqs.iter().zip(&mut got) {
                        // One untimed request on the new connection first.
                        ensure!(conn.call(req).await? == 200, "{}", String::from_utf8_lossy(conn.body()));
                        g.extend(client::latencies(&mut conn, req, 200, share).await?);
                    }
                }
                Ok(got)
            })
            .await?;
            if round > 0 {
                for (o, g) in out.iter_mut().zip(got) {
                    o.extend(g);
                }
            }
        }
    }
    Ok(samples.iter().map(|kinds| kinds.iter().map(|l| Stats::of_durations(l)).collect()).collect())
}

/// The table, in Markdown: a column a side, and two instances against one.
fn table(labels: &[&str], rows: &[Row]) -> String {
    let mut out = format!("| Measurement | {} | 2 instances ÷ 1 |\n|---|", labels.join(" | "));
    out.push_str(&"---|".repeat(labels.len() + 1));
    out.push('\n');
    for r in rows {
        out.push_str(&format!("| {} | {} | {:.2}× |\n", r.what, r.figures.join(" | "), r.ratio));
    }
    out
}
