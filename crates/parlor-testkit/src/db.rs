//! A fresh database per test: a SQLite file in a temporary directory, or (when
//! `PARLOR_TEST_DATABASE_URL` names a PostgreSQL server) a new database on that server.
//! Tests never hard-code a URL.
//!
//! A PostgreSQL test database is named `parlor_test_<unix seconds>_<random>` and dropped (with
//! `FORCE`, so open connections do not keep it) when its [`TestDb`] is dropped. A process
//! killed mid-test leaves its databases behind; the next run drops those older than
//! [`STALE_AFTER`], which never touches a database a test running now (here or in another
//! worktree sharing the server) still uses.

use parlor_core::store::Store;
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::OnceCell;

/// The variable that names the PostgreSQL server tests may use.
pub const PG_URL_VAR: &str = "PARLOR_TEST_DATABASE_URL";

/// The name every PostgreSQL test database starts with.
const PG_PREFIX: &str = "parlor_test_";

/// Leftover test databases older than this are dropped when a test process starts.
pub const STALE_AFTER: Duration = Duration::from_secs(6 * 3600);

/// Connections each test's store may open: tests run in parallel (and other worktrees may
/// share the server), and PostgreSQL allows 100 connections by default.
const PG_TEST_POOL: u32 = 4;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database made for one test, dropped with it.
pub struct TestDb {
    pub backend: Backend,
    pub store: Arc<dyn Store>,
    /// What `parlor --database-url` takes to reach this database (`None`: use `data_dir`).
    pub database_url: Option<String>,
    /// A temporary data dir (the SQLite file lives here; uploads too).
    pub data_dir: tempfile::TempDir,
    /// The PostgreSQL database to drop when the test ends.
    pg: Option<PgDatabase>,
}

/// Having `Drop` also keeps a test body from holding only part of its `TestDb`: an
/// `async move` block captures just the fields it names (`db.store`), which would drop the
/// temporary dir (and with it the SQLite file) before the body ran; a field cannot be moved
/// out of a type with `Drop`, so the block takes the whole `TestDb`.
impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(pg) = self.pg.take() {
            pg.drop_now();
        }
    }
}

impl TestDb {
    /// A fresh database on `backend`; `None` when that backend is not available here
    /// (PostgreSQL without `PARLOR_TEST_DATABASE_URL`).
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Postgres => Self::postgres().await,
        }
    }

    pub async fn sqlite() -> TestDb {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let store = parlor_store_sqlite::SqliteStore::open(&data_dir.path().join("parlor.db"))
            .await
            .expect("open SQLite store");
        TestDb { backend: Backend::Sqlite, store: Arc::new(store), database_url: None, data_dir, pg: None }
    }

    /// A new PostgreSQL database on the server `PARLOR_TEST_DATABASE_URL` names, or `None`
    /// without that variable. Panics when the server cannot be reached: a test run that was
    /// given a server must not pass by skipping it.
    pub async fn postgres() -> Option<TestDb> {
        let server = std::env::var(PG_URL_VAR).ok().filter(|u| !u.trim().is_empty())?;
        static SWEPT: OnceCell<()> = OnceCell::const_new();
        SWEPT.get_or_init(|| sweep_stale(&server)).await;

        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let name = format!("{PG_PREFIX}{secs}_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("{PG_URL_VAR}: cannot connect to the PostgreSQL server: {e}"));
        // The name is ours (prefix, digits, hex), so quoting it is enough.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        let _ = admin.close().await;
        let guard = PgDatabase { server: server.clone(), name: name.clone() };

        let url = database_url(&server, &name);
        let options =
            parlor_store_postgres::PgStoreOptions { max_connections: PG_TEST_POOL, ..Default::default() };
        let store = parlor_store_postgres::PgStore::connect_with(&url, options)
            .await
            .expect("connect the PostgreSQL store to the test database");
        Some(TestDb {
            backend: Backend::Postgres,
            store: Arc::new(store),
            database_url: Some(url),
            data_dir: tempfile::tempdir().expect("temp dir"),
            pg: Some(guard),
        })
    }
}

impl TestDb {
    /// Runs `sql` (one or more statements) on this database over a connection of its own,
    /// beside the store: how a test puts the database in a state the store would never
    /// write, such as an older version's.
    pub async fn execute_raw(&self, sql: &str) {
        use sqlx::Executor as _;
        match &self.database_url {
            Some(url) => {
                let mut conn = PgConnection::connect(url).await.expect("connect");
                conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))).await.expect("raw SQL");
                let _ = conn.close().await;
            }
            None => {
                let path = self.data_dir.path().join("parlor.db");
                let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
                let mut conn = sqlx::SqliteConnection::connect_with(&options).await.expect("connect");
                conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))).await.expect("raw SQL");
                let _ = conn.close().await;
            }
        }
    }

    /// Opens the store again on the same database, as a restarted server would, in place of
    /// the current one.
    pub async fn reopen(&mut self) {
        self.store = match &self.database_url {
            Some(url) => {
                let options = parlor_store_postgres::PgStoreOptions {
                    max_connections: PG_TEST_POOL,
                    ..Default::default()
                };
                Arc::new(parlor_store_postgres::PgStore::connect_with(url, options).await.expect("reopen"))
            }
            None => Arc::new(
                parlor_store_sqlite::SqliteStore::open(&self.data_dir.path().join("parlor.db"))
                    .await
                    .expect("reopen"),
            ),
        };
    }
}

/// The URL of database `name` on the server `server` points at (same host, credentials and
/// parameters).
pub fn database_url(server: &str, name: &str) -> String {
    match url::Url::parse(server) {
        Ok(mut u) => {
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        // Not a URL sqlx could use either; let the connect fail with sqlx's own message.
        Err(_) => server.to_string(),
    }
}

/// A test's PostgreSQL database: the server it is on and its name.
struct PgDatabase {
    server: String,
    name: String,
}

impl PgDatabase {
    /// Drops the database on a thread of its own with a runtime of its own: `Drop` cannot
    /// await, and the test's runtime may be shutting down. It waits for that thread, so the
    /// database is gone before the test process can exit.
    fn drop_now(self) {
        let done = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(drop_database(&self.server, &self.name));
        });
        let _ = done.join();
    }
}

/// Drops one test database, closing whatever connections it still has.
async fn drop_database(server: &str, name: &str) {
    let Ok(mut admin) = PgConnection::connect(server).await else { return };
    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await {
        eprintln!("could not drop test database {name}: {e}");
    }
    let _ = admin.close().await;
}

/// Drops test databases a killed run left behind: those whose name says they were made more
/// than [`STALE_AFTER`] ago.
async fn sweep_stale(server: &str) {
    let Ok(mut admin) = PgConnection::connect(server).await else { return };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
            .bind(PG_PREFIX)
            .fetch_all(&mut admin)
            .await
            .unwrap_or_default();
    let _ = admin.close().await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for name in names {
        let made = name
            .strip_prefix(PG_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if made.is_some_and(|t| now.saturating_sub(t) > STALE_AFTER.as_secs()) {
            drop_database(server, &name).await;
        }
    }
}

/// Defines `#[tokio::test]`s of one async body for each backend: `NAME::sqlite` and
/// `NAME::postgres` (which passes, saying so, when PostgreSQL is not configured).
///
/// ```ignore
/// backend_tests!(creates_things, |db: TestDb| async move { ... });
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::db::TestDb::new($crate::db::Backend::Sqlite).await.expect("sqlite");
                ($body)(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::db::TestDb::new($crate::db::Backend::Postgres).await {
                    Some(db) => ($body)(db).await,
                    None => eprintln!("skipped: {} is not set", $crate::db::PG_URL_VAR),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_replaces_only_the_database() {
        assert_eq!(
            database_url("postgres://u:p@db.example:5433/postgres?sslmode=disable", "parlor_test_1_ab"),
            "postgres://u:p@db.example:5433/parlor_test_1_ab?sslmode=disable"
        );
        assert_eq!(database_url("postgresql://u@h", "x"), "postgresql://u@h/x");
    }
}
