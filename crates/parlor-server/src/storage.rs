//! Picks the store from the configuration: a `postgres://` URL selects PostgreSQL, anything
//! else the embedded SQLite database in the data dir.

use anyhow::Context;
use parlor_core::store::Store;
use parlor_store_sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the data lives.
#[derive(Clone, Debug, clap::Args)]
pub struct StoreArgs {
    /// Directory of the embedded SQLite database and uploaded files.
    #[arg(long, env = "PARLOR_DATA_DIR", default_value = "./parlor-data")]
    pub data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; absent means SQLite in the data dir.
    #[arg(long, env = "PARLOR_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
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
            anyhow::bail!("PostgreSQL support is not built into this version yet")
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
