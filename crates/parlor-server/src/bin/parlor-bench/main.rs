//! `parlor-bench`: the foundation's speed and memory targets, measured the same way by anyone
//! with cargo, and printed as a Markdown table for `BENCHMARKS.md`.
//!
//! ```text
//! cargo build --release -p parlor-server
//! target/release/parlor-bench                       # everything, 1,000,000 messages
//! target/release/parlor-bench --only create,read --duration 5s
//! target/release/parlor-bench --only records --python venv/bin/python   # export vs openpyxl
//! ```
//!
//! The machines we have are small and shared, so absolute figures wander from run to run.
//! Each target is therefore measured beside a baseline from the same binary in the same run,
//! in alternating rounds, and stated as a ratio of medians: HTTP creates against the
//! database's raw commit rate, a real page read against a bare axum handler, a deep page
//! against the first. Latency and memory targets are absolute, and say so.
//!
//! Nothing here needs a tool beyond cargo: the load generator is built in ([`client`]).
//! With `--database-url postgres://…`, the throughput and latency measurements run instead on
//! SQLite, PostgreSQL and two PostgreSQL instances side by side ([`backends`]).

mod backends;
mod client;
mod cpu;
mod dataset;
mod records;
mod report;
mod scenarios;
mod startup;
mod streams;
mod upstream;
mod webhooks;

use anyhow::bail;
use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// The measurements, each a target of the foundation issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Messages created per second over HTTP against raw single-row commits.
    Create,
    /// Pages of 20 messages read per second against a bare axum handler.
    Read,
    /// A page deep in a 1M-message history against the first page.
    Deep,
    /// Median latency of a keyword search over all messages.
    Keyword,
    /// Cold start and idle memory of `parlor serve`.
    Startup,
    /// Background replies delivered by webhook per second, and the delay delivery adds.
    Webhooks,
    /// The records' Excel export through `parlor serve` against openpyxl, and the records
    /// page's query time (not in the default run: openpyxl takes minutes).
    Records,
    /// Time to first delta through streaming completions against straight to the upstream.
    Ttfd,
    /// Streaming completions held open at once, and memory per open stream.
    Streams,
}

/// How the provider reaches the fake upstream in `streams`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum UpstreamHttp {
    Http2,
    Http1,
}

impl UpstreamHttp {
    fn label(self) -> &'static str {
        match self {
            UpstreamHttp::Http2 => "HTTP/2",
            UpstreamHttp::Http1 => "HTTP/1.1",
        }
    }
}

#[derive(Debug, Parser)]
#[command(name = "parlor-bench", about = "Measure Parlor against its speed and memory targets.")]
struct Args {
    /// Messages in the large organization (read, deep, keyword). Loaded once into the data
    /// dir and reused by later runs with the same number.
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// Measuring time of each side of each comparison (`10s`, `500ms`, `2m`), split into
    /// `--rounds` alternating slices.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Alternating rounds per comparison (and starts per kind of start).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Concurrent connections for the throughput measurements.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Run only these (comma-separated); all when absent.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Scenario>,
    /// The word searched for by `keyword`.
    #[arg(long, default_value = "refund")]
    keyword: String,
    /// Where the bench keeps its databases (default: `parlor-bench` in the system's
    /// temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The `parlor` binary started by `startup` (default: the one beside this binary).
    #[arg(long)]
    parlor: Option<PathBuf>,
    /// Records for `records` (loaded once into the data dir, reused by later runs).
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// The Python with openpyxl that `records` runs the comparison with (e.g. a venv's).
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// openpyxl's side of `records`.
    #[arg(long, default_value = "bench/openpyxl_export.py")]
    openpyxl_script: PathBuf,
    /// A PostgreSQL database of the bench's own (empty, or loaded by an earlier run): `create`,
    /// `read`, `deep` and `keyword` then run on real `parlor serve` processes, on SQLite, on
    /// this database with one instance and with two, side by side.
    #[arg(long)]
    database_url: Option<String>,
    /// Streaming completions to hold open at once (`streams`); capped by the open-file limit
    /// (raise it with `ulimit -n`): a stream is one socket in Parlor with the provider on
    /// HTTP/2, two on HTTP/1.1.
    #[arg(long, default_value_t = 10_000)]
    streams: usize,
    /// The protocols the provider speaks to the fake upstream in `streams`, each measured
    /// apart: `http2` (the provider option `http2 = true`, all replies on one connection) and
    /// `http1` (the default, a connection per reply).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "http2,http1")]
    upstream: Vec<UpstreamHttp>,
    /// Internal: serve the fake LLM upstream and print its address (the bench starts itself
    /// this way for `ttfd` and `streams`).
    #[arg(long, hide = true)]
    fake_upstream: bool,
}

/// `10s`, `1.5s`, `500ms`, `2m`, or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.trim().parse().map_err(|_| format!("not a duration: {s}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {s} (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.fake_upstream {
        return upstream::serve().await;
    }
    if args.rounds == 0 || args.clients == 0 {
        bail!("--rounds and --clients must be at least 1");
    }
    let dir = args.data_dir.clone().unwrap_or_else(|| std::env::temp_dir().join("parlor-bench"));
    std::fs::create_dir_all(&dir)?;
    // `records` runs only when asked for: openpyxl's side takes minutes at a million rows.
    let want = |s: Scenario| {
        if s == Scenario::Records {
            args.only.contains(&s)
        } else {
            args.only.is_empty() || args.only.contains(&s)
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; real figures come from `cargo build --release`");
    }
    if let Some(url) = &args.database_url {
        return compare_backends(&args, url, &dir).await;
    }

    let mut lines = vec![];
    if want(Scenario::Create) {
        lines.extend(scenarios::create(&args, &dir).await?);
    }
    let reads = scenarios::Reads {
        page: want(Scenario::Read),
        deep: want(Scenario::Deep),
        keyword: want(Scenario::Keyword),
    };
    let large = if reads.page || reads.deep || reads.keyword {
        let ds_dir = dir.join(format!("large-{}", args.messages));
        Some(dataset::sqlite::open_or_load(&ds_dir, args.messages).await?)
    } else {
        None
    };
    if let Some(ds) = &large {
        lines.extend(scenarios::reads(&args, ds, reads).await?);
    }
    if want(Scenario::Webhooks) {
        lines.extend(webhooks::run(&args, &dir).await?);
    }
    if want(Scenario::Startup) {
        lines.extend(startup::run(&args, &dir, large.as_ref()).await?);
    }
    if want(Scenario::Records) {
        lines.extend(records::run(&args, &dir).await?);
    }

    if want(Scenario::Ttfd) {
        lines.extend(streams::ttfd(&args, &dir).await?);
    }
    if want(Scenario::Streams) {
        lines.extend(streams::streams(&args, &dir).await?);
    }

    let loaded =
        large.as_ref().map_or(String::new(), |d| format!(" (loaded in {:.0} s)", d.meta.load_seconds));
    println!("{}{loaded}\n", heading(&args));
    print!("{}", report::table(&lines));
    Ok(())
}

/// The report's first line: what ran, on how many cores.
fn heading(args: &Args) -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!(
        "parlor-bench {}: {cores} cores, {} clients, {:?} a side in {} rounds, {} messages",
        env!("CARGO_PKG_VERSION"),
        args.clients,
        args.duration,
        args.rounds,
        report::count(args.messages as f64),
    )
}

/// `--database-url`: the throughput and latency measurements on SQLite, PostgreSQL, and two
/// PostgreSQL instances, each dataset loaded (or reused) first.
async fn compare_backends(args: &Args, url: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let supported = [Scenario::Create, Scenario::Read, Scenario::Deep, Scenario::Keyword];
    if let Some(s) = args.only.iter().find(|s| !supported.contains(s)) {
        bail!("--database-url measures create, read, deep and keyword only, not {s:?}");
    }
    let want = |s: Scenario| args.only.is_empty() || args.only.contains(&s);
    let which = backends::Which {
        create: want(Scenario::Create),
        page: want(Scenario::Read),
        deep: want(Scenario::Deep),
        keyword: want(Scenario::Keyword),
    };
    let pg = dataset::postgres::open_or_load(url, args.messages).await?;
    let sqlite =
        dataset::sqlite::open_or_load(&dir.join(format!("large-{}", args.messages)), args.messages).await?;
    let server = dataset::postgres::describe(url).await?;
    let table = backends::run(args, &sqlite, &pg, dir, which).await?;
    println!(
        "{}; {server} (loaded in {:.0} s SQLite, {:.0} s PostgreSQL)\n",
        heading(args),
        sqlite.meta.load_seconds,
        pg.meta.load_seconds
    );
    print!("{table}");
    Ok(())
}
