//! Parlor's server: the HTTP API over the domain of `parlor-core`, the store picked at start,
//! and the `parlor` command line. `main.rs` is a thin wrapper over [`cli::run`].

pub mod app;
pub mod auto_reply;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod conn;
pub mod demo;
pub mod http;
pub mod keys;
pub mod live;
pub mod metrics;
pub mod replies;
pub mod storage;
pub mod uploads;
pub mod webhooks;
