//! The `parlor` binary.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    parlor_server::cli::run(parlor_server::cli::Cli::parse()).await
}
