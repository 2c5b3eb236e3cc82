//! The `parlor` command line: `serve`, and the operator commands for organizations and keys
//! (which work on the same database while a server runs).

use crate::app::{AppState, Limits, serve};
use crate::config::{LogFormat, ServeArgs};
use crate::storage::{self, StoreArgs};
use crate::{bootstrap, keys};
use anyhow::Context;
use clap::{Parser, Subcommand};
use parlor_core::id::{ApiKeyId, OrgId};
use serde_json::json;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "parlor", version, about = "Parlor: a self-hosted AI chatbot conversation server.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization and its first API key; prints them as JSON.
    Create {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key for an organization; prints the key (shown once).
    Create {
        #[arg(long)]
        org: OrgId,
        /// A label for the key.
        #[arg(long, default_value = "cli")]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List an organization's keys (never the keys themselves).
    List {
        #[arg(long)]
        org: OrgId,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by its id; requests with it then get 401.
    Revoke {
        key_id: ApiKeyId,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => run_serve(args).await,
        Command::Org(OrgCommand::Create { name, store }) => {
            let store = storage::open(&store).await?;
            let org = store.create_org(&name).await?;
            let key = keys::generate();
            store.create_api_key(org.id, "cli", &keys::hash(&key), &keys::display_prefix(&key)).await?;
            println!("{}", json!({"organization": org.id, "apiKey": key}));
            Ok(())
        }
        Command::Key(KeyCommand::Create { org, name, store }) => {
            let store = storage::open(&store).await?;
            store.get_org(org).await.context("no such organization")?;
            let key = keys::generate();
            store.create_api_key(org, &name, &keys::hash(&key), &keys::display_prefix(&key)).await?;
            println!("{key}");
            Ok(())
        }
        Command::Key(KeyCommand::List { org, store }) => {
            let store = storage::open(&store).await?;
            for k in store.list_api_keys(org).await? {
                println!("{}", serde_json::to_string(&k)?);
            }
            Ok(())
        }
        Command::Key(KeyCommand::Revoke { key_id, store }) => {
            let store = storage::open(&store).await?;
            let k = store.revoke_api_key(key_id).await.context("no such key")?;
            println!("{}", serde_json::to_string(&k)?);
            Ok(())
        }
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logs(args.log_format);
    let store = storage::open(&args.store).await?;
    let key_file = args.store.is_embedded().then(|| args.store.data_dir.join("admin-key"));
    if let Some(b) = bootstrap::run(store.as_ref(), key_file.as_deref()).await? {
        println!("Parlor's first start: made organization \"default\" with a demo chatbot and a web chat.");
        println!("  API key (shown once): {}", b.api_key);
        if let Some(f) = &key_file {
            println!("  (also written to {})", f.display());
        }
        println!("  Demo chatbot: {}   web chat: {}", b.chatbot, b.web_chat);
        println!(
            "  Chat widget for any page: <script src=\"http://{}/widget/{}.js\" async></script>",
            args.listen, b.web_chat
        );
    }
    let providers = match &args.config {
        Some(path) => parlor_llm::Providers::from_file(path)
            .with_context(|| format!("reading providers from {}", path.display()))?,
        None => parlor_llm::Providers::empty(),
    };
    let mut state =
        AppState::new(store.clone()).with_providers(providers).with_data_dir(&args.store.data_dir);
    state.limits = Limits {
        json_body: args.max_json_bytes,
        upload: args.max_upload_bytes,
        rate_per_key: args.rate_limit_per_key,
        rate_per_ip: args.rate_limit_per_ip,
        widget_per_ip: args.widget_rate_limit_per_ip,
        widget_per_session: args.widget_rate_limit_per_session,
        header_timeout: Duration::from_secs(args.header_timeout_s.max(1)),
        body_timeout: Duration::from_secs(args.body_timeout_s.max(1)),
        streams_per_key: args.max_streams_per_key,
    };
    state.time_zone = args.time_zone;
    state.webhooks = crate::webhooks::Webhooks::new(args.webhook_config());
    let shutdown = shutdown_signal().context("installing the signal handlers")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    tracing::info!(addr = %listener.local_addr()?, database = store.backend(), "Parlor is listening");
    serve(listener, state, shutdown, Duration::from_secs(args.shutdown_grace_s)).await?;
    store.close().await;
    tracing::info!("Parlor stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed by this call, not when the
/// future is first polled: a bound port means ready, so a signal sent the moment it answers
/// must already stop the server gracefully rather than kill it.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            tracing::info!("shutdown signal received");
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received");
    })
}
