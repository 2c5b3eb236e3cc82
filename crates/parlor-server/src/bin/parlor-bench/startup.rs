//! Target 5: cold start and idle memory of the real `parlor serve` process.
//!
//! Each round spawns `parlor serve` on a fresh data dir (migrations and the first-start
//! bootstrap run), then again on that now existing dir, and, when the large dataset is at
//! hand, on it. The start time runs from spawning the process until `GET /healthz` first
//! answers 200, polled every 200 µs (so the figure is at most that much late). Idle memory is
//! the process's resident set (`VmRSS` of `/proc/<pid>/status`, Linux only) one second after
//! it answered, with nothing else asked of it.
//!
//! Written with blocking std I/O on a blocking thread: nothing else runs meanwhile, and
//! std's sleep is finer than tokio's millisecond timer.

use crate::Args;
use crate::dataset::Dataset;
use crate::report::{Line, Stats};
use anyhow::{Context, bail, ensure};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Start time and idle resident memory (bytes) of one start.
struct Start {
    ready: Duration,
    rss: Option<u64>,
}

/// The `parlor` binary to spawn: `--parlor`, or the one beside this binary.
pub(crate) fn parlor_exe(args: &Args) -> anyhow::Result<PathBuf> {
    let exe = match &args.parlor {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("parlor"),
    };
    ensure!(
        exe.exists(),
        "no `parlor` binary at {}: build it beside the bench (`cargo build --release -p parlor-server`) \
         or name it with --parlor",
        exe.display()
    );
    Ok(exe)
}

pub(crate) async fn run(args: &Args, dir: &Path, large: Option<&Dataset>) -> anyhow::Result<Vec<Line>> {
    let exe = parlor_exe(args)?;
    let (rounds, dir) = (args.rounds.max(1), dir.to_path_buf());
    let large = large.map(|d| (d.dir.clone(), d.meta.messages));
    tokio::task::spawn_blocking(move || measure(&exe, &dir, rounds, large)).await?
}

fn measure(
    exe: &Path,
    dir: &Path,
    rounds: usize,
    large: Option<(PathBuf, usize)>,
) -> anyhow::Result<Vec<Line>> {
    let (mut fresh, mut existing, mut big) = (vec![], vec![], vec![]);
    for round in 0..rounds {
        eprintln!("startup: round {}/{rounds}", round + 1);
        let d = dir.join("startup");
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
        fresh.push(start_once(exe, &d)?);
        existing.push(start_once(exe, &d)?);
        if let Some((large, _)) = &large {
            big.push(start_once(exe, large)?);
        }
    }
    let mut lines = vec![];
    let mut add = |label: String, starts: &[Start]| {
        let t = Stats::of(&starts.iter().map(|s| s.ready.as_secs_f64() * 1000.0).collect::<Vec<_>>());
        lines.push(Line::below(
            format!("5. Cold start to a served `/healthz`, {label}"),
            format!("{:.0} ms ({:.0}–{:.0})", t.median, t.low, t.high),
            t.median,
            200.0,
            "ms",
        ));
        let rss: Vec<f64> = starts.iter().filter_map(|s| s.rss).map(|b| b as f64 / 1024.0 / 1024.0).collect();
        if !rss.is_empty() {
            let m = Stats::of(&rss);
            lines.push(Line::below(
                format!("5. Idle memory (RSS) after start, {label}"),
                format!("{:.1} MiB ({:.1}–{:.1})", m.median, m.low, m.high),
                m.median,
                30.0,
                "MiB",
            ));
        }
    };
    add("fresh data dir".into(), &fresh);
    add("existing data dir".into(), &existing);
    if let Some((_, messages)) = large {
        add(format!("data dir of {} messages", crate::report::count(messages as f64)), &big);
    }
    Ok(lines)
}

/// Spawns `parlor serve` on `data_dir`, times it to its first `/healthz`, reads its idle
/// memory, and kills it.
fn start_once(exe: &Path, data_dir: &Path) -> anyhow::Result<Start> {
    let addr = free_port()?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .arg("serve")
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("spawning {}", exe.display()))?;
    let ready = loop {
        if healthz(addr) {
            break started.elapsed();
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            bail!("`parlor serve` did not answer /healthz within 30 s");
        }
        if let Some(status) = child.try_wait()? {
            bail!("`parlor serve` exited early: {status}");
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    std::thread::sleep(Duration::from_secs(1));
    let rss = resident_bytes(child.id());
    child.kill()?;
    child.wait()?;
    Ok(Start { ready, rss })
}

/// A `parlor serve` process, killed by [`Server::stop`] or when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    child: Child,
}

impl Server {
    /// Spawns `parlor serve` on a free port with `options` (its output discarded) and waits
    /// until it answers `/healthz`.
    pub(crate) fn start(exe: &Path, options: &[&OsStr]) -> anyhow::Result<Server> {
        let addr = free_port()?;
        let child = Command::new(exe)
            .args(["serve", "--listen", &addr.to_string()])
            .args(options)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("spawning {}", exe.display()))?;
        let mut server = Server { addr, child };
        let started = Instant::now();
        while !healthz(addr) {
            if let Some(status) = server.child.try_wait()? {
                bail!("`parlor serve` exited early: {status}");
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("`parlor serve` did not answer /healthz within 30 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(server)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn stop(self) {
        drop(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `GET /healthz` answers 200 right now.
pub(crate) fn healthz(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else { return false };
    let req = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut reply = Vec::new();
    s.write_all(req.as_bytes()).is_ok()
        && s.read_to_end(&mut reply).is_ok()
        && reply.starts_with(b"HTTP/1.1 200")
}

/// A port free right now (the kernel's pick; released at once for the server to take).
pub(crate) fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// `VmRSS` of a process, in bytes; `None` where `/proc` does not exist.
pub(crate) fn resident_bytes(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS").map(|kib| kib * 1024)
}

/// A KiB figure of `/proc/<pid>/status` (`VmRSS`, `VmHWM`: the peak resident size); `None`
/// where `/proc` does not exist or the process is gone.
pub(crate) fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
