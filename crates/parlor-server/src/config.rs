//! `parlor serve`'s configuration: each option a flag and a `PARLOR_…` environment variable.
//! The TOML file (`--config`) holds only the LLM providers.

use crate::storage::StoreArgs;
use std::net::SocketAddr;
use std::path::PathBuf;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PARLOR_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub store: StoreArgs,
    /// TOML file with `[providers.NAME]` tables (LLM providers).
    #[arg(long, env = "PARLOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// IANA time zone for record dates and exports.
    #[arg(long, env = "PARLOR_TIME_ZONE", default_value = "UTC")]
    pub time_zone: chrono_tz::Tz,
    /// Log format.
    #[arg(long, env = "PARLOR_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Largest JSON request body, in bytes.
    #[arg(long, env = "PARLOR_MAX_JSON_BYTES", default_value_t = 1024 * 1024)]
    pub max_json_bytes: usize,
    /// Largest upload, in bytes.
    #[arg(long, env = "PARLOR_MAX_UPLOAD_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub max_upload_bytes: usize,
    /// Requests a minute per API key (a burst of that many, then evenly spread); over it,
    /// 429 with `Retry-After`. 0 turns the limit off.
    #[arg(long, env = "PARLOR_RATE_LIMIT_PER_KEY", default_value_t = 0)]
    pub rate_limit_per_key: u32,
    /// Requests a minute per client IP address on `/api/` routes; 0 turns the limit off.
    /// Behind a reverse proxy every client has the proxy's address: limit there instead.
    #[arg(long, env = "PARLOR_RATE_LIMIT_PER_IP", default_value_t = 0)]
    pub rate_limit_per_ip: u32,
    /// Widget visitor requests a minute per client IP address (the public `/api/widget/`
    /// routes, which need no key, so this one is on by default); 0 turns it off.
    #[arg(long, env = "PARLOR_WIDGET_RATE_LIMIT_PER_IP", default_value_t = 300)]
    pub widget_rate_limit_per_ip: u32,
    /// Widget visitor requests a minute per visitor session; 0 turns it off.
    #[arg(long, env = "PARLOR_WIDGET_RATE_LIMIT_PER_SESSION", default_value_t = 60)]
    pub widget_rate_limit_per_session: u32,
    /// Seconds a client has to send a request's head; also how long a kept-alive
    /// connection may wait for its next request.
    #[arg(long, env = "PARLOR_HEADER_TIMEOUT_S", default_value_t = 30)]
    pub header_timeout_s: u64,
    /// Longest pause, in seconds, while a client sends a request body.
    #[arg(long, env = "PARLOR_BODY_TIMEOUT_S", default_value_t = 30)]
    pub body_timeout_s: u64,
    /// Streams (streamed completions and live events) one API key may hold open at once;
    /// over it, 429 with `Retry-After`. 0 turns the cap off.
    #[arg(long, env = "PARLOR_MAX_STREAMS_PER_KEY", default_value_t = 64)]
    pub max_streams_per_key: u32,
    /// Seconds shutdown lets in-flight replies and their streams go on; replies still
    /// generating then stop and store what they produced.
    #[arg(long, env = "PARLOR_SHUTDOWN_GRACE_S", default_value_t = 30)]
    pub shutdown_grace_s: u64,
    /// Seconds one webhook try may take before it counts as failed (and is retried).
    #[arg(long, env = "PARLOR_WEBHOOK_TIMEOUT_S", default_value_t = 10)]
    pub webhook_timeout_s: u64,
    /// Webhook tries per reply in all; retries wait `--webhook-first-retry-s`, then twice
    /// that each time (with jitter). The defaults spread 7 tries over about 10 minutes.
    #[arg(long, env = "PARLOR_WEBHOOK_ATTEMPTS", default_value_t = 7)]
    pub webhook_attempts: i64,
    /// Seconds before a failed webhook delivery is first retried.
    #[arg(long, env = "PARLOR_WEBHOOK_FIRST_RETRY_S", default_value_t = 10)]
    pub webhook_first_retry_s: u64,
    /// Lets webhooks reach loopback, private and link-local addresses (the server's own
    /// network). Off: a chatbot's `webhookUrl` must be a public address, so an organization
    /// cannot make Parlor call services of the network it runs in and read their answers.
    /// Turn it on when receivers run beside Parlor and every organization is trusted.
    #[arg(long, env = "PARLOR_WEBHOOK_ALLOW_LOCAL_NETWORK")]
    pub webhook_allow_local_network: bool,
}

impl ServeArgs {
    /// The webhook settings these options give (the rest at their defaults).
    pub fn webhook_config(&self) -> crate::webhooks::WebhookConfig {
        crate::webhooks::WebhookConfig {
            timeout: std::time::Duration::from_secs(self.webhook_timeout_s.max(1)),
            first_retry: std::time::Duration::from_secs(self.webhook_first_retry_s),
            max_attempts: self.webhook_attempts.max(1),
            allow_local_network: self.webhook_allow_local_network,
            ..Default::default()
        }
    }
}
