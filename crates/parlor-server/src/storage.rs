//! Picks the store from the configuration: a `postgres://` URL selects PostgreSQL, anything
//! else the embedded SQLite database in the data dir.

use anyhow::Context;
use parlor_core::store::Store;
use parlor_store_postgres::{PgStore, PgStoreOptions};
use parlor_store_sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the data lives.
#[derive(Clone, clap::Args)]
pub struct StoreArgs {
    /// Directory of the embedded SQLite database and uploaded files.
    #[arg(long, env = "PARLOR_DATA_DIR", default_value = "./parlor-data")]
    pub data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; absent means SQLite in the data dir.
    #[arg(long, env = "PARLOR_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// PostgreSQL only: connections this instance keeps at most. Every instance has its own
    /// pool, so instances times this must stay below the server's `max_connections`.
    #[arg(
        long,
        env = "PARLOR_DATABASE_MAX_CONNECTIONS",
        default_value_t = parlor_store_postgres::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub database_max_connections: u32,
}

/// Logs print `Debug`: the database URL's credentials are left out.
impl std::fmt::Debug for StoreArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreArgs")
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(redact))
            .field("database_max_connections", &self.database_max_connections)
            .finish()
    }
}

/// `scheme://user:password@host/db` as `scheme://***@host/db`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => format!("{}***{}", &url[..start + 3], &url[at..]),
        _ => url.to_string(),
    }
}

impl StoreArgs {
    /// Whether this configuration uses the embedded store.
    pub fn is_embedded(&self) -> bool {
        self.database_url.as_deref().is_none_or(|u| !is_postgres(u))
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens the configured store, creating the data dir and running migrations.
pub async fn open(args: &StoreArgs) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data dir {}", args.data_dir.display()))?;
    match args.database_url.as_deref() {
        Some(url) if is_postgres(url) => {
            let options =
                PgStoreOptions { max_connections: args.database_max_connections, ..Default::default() };
            // The URL may hold a password: the error names the database kind, not the URL.
            let store = PgStore::connect_with(url, options).await.context("connecting to PostgreSQL")?;
            Ok(Arc::new(store))
        }
        Some(url) => {
            let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
            open_sqlite(Path::new(path)).await
        }
        None => open_sqlite(&args.data_dir.join("parlor.db")).await,
    }
}

async fn open_sqlite(path: &Path) -> anyhow::Result<Arc<dyn Store>> {
    let store = SqliteStore::open(path).await.with_context(|| format!("opening {}", path.display()))?;
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_database_credentials() {
        let args = StoreArgs {
            data_dir: PathBuf::from("data"),
            database_url: Some("postgres://parlor:s3cret@db:5432/parlor".into()),
            database_max_connections: 10,
        };
        let shown = format!("{args:?}");
        assert!(!shown.contains("s3cret") && shown.contains("postgres://***@db:5432/parlor"), "{shown}");
        assert_eq!(redact("sqlite:data/parlor.db"), "sqlite:data/parlor.db");
    }

    #[test]
    fn postgres_urls_select_postgres() {
        assert!(is_postgres("postgres://h/db") && is_postgres("postgresql://h/db"));
        assert!(!is_postgres("sqlite://x.db"));
    }
}
