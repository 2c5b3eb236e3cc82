//! CPU time spent serving a measurement: the `parlor serve` processes' and, on PostgreSQL, the
//! database's backends serving the bench's database (when the server runs on this machine),
//! read from `/proc/<pid>/stat` (Linux).
//!
//! On a shared machine a throughput figure says how much of the cores this run got; CPU time
//! per request says what a request costs, whatever else the machine was doing, and splits it
//! between Parlor and the database. What it leaves out: the bench's client (small: a bare
//! HTTP/1.1 writer and reader), and PostgreSQL's background processes (WAL writer,
//! checkpointer), which serve every database of the server; backends flush their own commit
//! records, so most of a commit's work is counted.

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use std::collections::HashMap;

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`: 100 on every Linux ABI).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds by process at one moment.
#[derive(Default)]
pub(crate) struct Sample {
    parlor: HashMap<u32, u64>,
    database: HashMap<u32, u64>,
}

/// CPU seconds used between two samples.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Used {
    pub(crate) parlor: f64,
    pub(crate) database: f64,
}

impl Sample {
    /// What was used since `before`. A process that appeared meanwhile (a new pool
    /// connection) counts whole; one that ended meanwhile is lost (rare: pools keep theirs).
    pub(crate) fn since(&self, before: &Sample) -> Used {
        let used = |now: &HashMap<u32, u64>, then: &HashMap<u32, u64>| {
            let ticks: u64 =
                now.iter().map(|(pid, t)| t.saturating_sub(then.get(pid).copied().unwrap_or(0))).sum();
            ticks as f64 / TICKS_PER_SECOND
        };
        Used { parlor: used(&self.parlor, &before.parlor), database: used(&self.database, &before.database) }
    }
}

/// Reads the CPU time of the Parlor processes and of the database's backends.
pub(crate) struct Meter {
    parlor: Vec<u32>,
    /// A connection to the bench's database, to list its backends (itself left out).
    database: Option<PgConnection>,
}

impl Meter {
    /// `parlor`: the server processes; `database_url`: the PostgreSQL database they use.
    pub(crate) async fn new(parlor: Vec<u32>, database_url: Option<&str>) -> anyhow::Result<Meter> {
        let database = match database_url {
            Some(url) => Some(PgConnection::connect(url).await?),
            None => None,
        };
        Ok(Meter { parlor, database })
    }

    pub(crate) async fn sample(&mut self) -> anyhow::Result<Sample> {
        let mut sample = Sample::default();
        for &pid in &self.parlor {
            sample.parlor.insert(pid, ticks(pid, "parlor").unwrap_or(0));
        }
        if let Some(conn) = &mut self.database {
            let pids: Vec<i32> = sqlx::query_scalar(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .fetch_all(conn)
            .await?;
            for pid in pids.into_iter().filter_map(|p| u32::try_from(p).ok()) {
                if let Some(t) = ticks(pid, "postgres") {
                    sample.database.insert(pid, t);
                }
            }
        }
        Ok(sample)
    }

    pub(crate) async fn close(self) {
        if let Some(c) = self.database {
            let _ = c.close().await;
        }
    }
}

/// User plus system clock ticks of a process, all its threads, if its command name starts
/// with `command`; `None` where `/proc` does not have it (not Linux, or the process is gone)
/// or it is another program (a backend's pid of a database server on another host).
fn ticks(pid: u32, command: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces; the fields follow it.
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    if !stat.get(open + 1..close)?.starts_with(command) {
        return None;
    }
    let rest = stat.get(close + 2..)?;
    let mut fields = rest.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_but_not_as_a_database_backend() {
        assert!(ticks(std::process::id(), "parlor").is_some());
        assert_eq!(ticks(std::process::id(), "postgres"), None);
    }
}
