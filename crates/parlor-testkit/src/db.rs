//! A fresh database per test: a SQLite file in a temporary directory, or (when
//! `PARLOR_TEST_DATABASE_URL` names a PostgreSQL server) a new database on that server.
//! Tests never hard-code a URL.

use parlor_core::store::Store;
use std::sync::Arc;

/// The variable that names the PostgreSQL server tests may use.
pub const PG_URL_VAR: &str = "PARLOR_TEST_DATABASE_URL";

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
        TestDb { backend: Backend::Sqlite, store: Arc::new(store), database_url: None, data_dir }
    }

    /// A new PostgreSQL database, or `None` without `PARLOR_TEST_DATABASE_URL`.
    pub async fn postgres() -> Option<TestDb> {
        let _url = std::env::var(PG_URL_VAR).ok()?;
        panic!("{PG_URL_VAR} is set, but the PostgreSQL store is not built yet");
    }
}

/// Dropping a `TestDb` deletes its files. Implementing `Drop` also makes an `async move`
/// test body capture the whole value: without it, edition 2024 closures capture only the
/// fields they use (`db.store`), the temporary directory is deleted before the body runs,
/// and SQLite fails to open new connections with "unable to open database file".
impl Drop for TestDb {
    fn drop(&mut self) {}
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
