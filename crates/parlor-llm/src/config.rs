//! Provider configuration: the `[providers.NAME]` tables of Parlor's config file.
//!
//! Providers live in the config file, never in the database or the API (`API.md`, "Operating
//! Parlor"), so a key is only ever read from the environment variable the file names, once,
//! when the file is loaded. Everything is checked at load time so that a typo fails the
//! server's start with a message naming the table, not the first reply hours later.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The timeout used when a provider does not set `timeout_s` (`API.md`: 60 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the providers of a config file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("providers.{provider}: unknown kind \"{kind}\" (the only kind is \"openai\")")]
    UnknownKind { provider: String, kind: String },
    #[error("providers.{provider}: api_key_env names {var}, which is not set")]
    MissingKey { provider: String, var: String },
    #[error("providers.{provider}: {reason}")]
    Invalid { provider: String, reason: String },
    #[error("providers.{provider}: cannot build the HTTP client: {reason}")]
    Client { provider: String, reason: String },
}

/// What kind of server a provider is. Only OpenAI-compatible chat completions for now; the
/// enum is the place for another wire format later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    OpenAi,
}

/// A provider's API key. Its `Debug` is redacted because logs print `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// One checked `[providers.NAME]` table.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    /// The API root without a trailing slash (`http://127.0.0.1:11434/v1`); requests go to
    /// `{base_url}/chat/completions`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer …` when present.
    pub api_key: Option<ApiKey>,
    /// Bounds connecting and waiting for the response headers.
    pub timeout: Duration,
    /// The longest silence allowed between two chunks of the body; `timeout` unless
    /// `idle_timeout_s` says otherwise (a model that thinks long before its first token may
    /// need a longer one).
    pub idle_timeout: Duration,
    /// Speak HTTP/2 to the provider (`http2 = true`), so every reply in flight shares one
    /// connection: over `https`, offered in the TLS handshake (HTTP/1.1 when the server does
    /// not take it); over plain `http`, HTTP/2 from the first byte ("prior knowledge", h2c),
    /// which the server must speak. Off (the default): HTTP/1.1, one connection per reply in
    /// flight.
    pub http2: bool,
}

impl ProviderConfig {
    /// An OpenAI-compatible provider at `base_url` with no key and the default timeouts.
    /// Tests and embedders use this; the config file goes through [`crate::Providers`].
    pub fn openai(base_url: &str) -> Result<Self, String> {
        Ok(ProviderConfig {
            kind: ProviderKind::OpenAi,
            base_url: check_base_url(base_url)?,
            api_key: None,
            timeout: DEFAULT_TIMEOUT,
            idle_timeout: DEFAULT_TIMEOUT,
            http2: false,
        })
    }

    pub fn with_api_key(mut self, key: ApiKey) -> Self {
        self.api_key = Some(key);
        self
    }

    /// Sets both timeouts, as `timeout_s` alone does.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.idle_timeout = timeout;
        self
    }

    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    pub fn with_http2(mut self, http2: bool) -> Self {
        self.http2 = http2;
        self
    }

    /// The chat-completions endpoint.
    pub fn endpoint(&self) -> String {
        format!("{}/chat/completions", self.base_url)
    }

    /// Checks one raw table; `env` looks up environment variables (injected so tests need
    /// not change the process environment).
    pub(crate) fn from_raw(
        name: &str,
        raw: RawProvider,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid { provider: name.to_owned(), reason };
        if raw.kind != "openai" {
            return Err(ConfigError::UnknownKind { provider: name.to_owned(), kind: raw.kind });
        }
        let mut config = ProviderConfig::openai(&raw.base_url).map_err(invalid)?;
        if let Some(var) = raw.api_key_env {
            match env(&var) {
                Some(key) if !key.trim().is_empty() => config.api_key = Some(ApiKey(key.trim().to_owned())),
                _ => return Err(ConfigError::MissingKey { provider: name.to_owned(), var }),
            }
        }
        if let Some(s) = raw.timeout_s {
            config = config.with_timeout(seconds("timeout_s", s).map_err(invalid)?);
        }
        if let Some(s) = raw.idle_timeout_s {
            config = config.with_idle_timeout(seconds("idle_timeout_s", s).map_err(invalid)?);
        }
        Ok(config.with_http2(raw.http2.unwrap_or(false)))
    }
}

/// A `[providers.NAME]` table as written. Unknown keys are rejected so that a typo (or an
/// `api_key = "sk-…"` written into the file) is an error instead of silently ignored.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProvider {
    kind: String,
    base_url: String,
    api_key_env: Option<String>,
    /// Seconds; fractions are allowed (tests use sub-second timeouts).
    timeout_s: Option<f64>,
    idle_timeout_s: Option<f64>,
    http2: Option<bool>,
}

/// The part of a config file this crate reads; other tables are ignored (serde skips
/// unknown fields at this level).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub(crate) providers: BTreeMap<String, RawProvider>,
}

impl RawFile {
    pub(crate) fn parse(text: &str) -> Result<Self, ConfigError> {
        Ok(toml::from_str(text)?)
    }

    pub(crate) fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.to_owned(), source })?;
        Self::parse(&text)
    }
}

fn check_base_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| format!("base_url \"{url}\" is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("base_url \"{url}\" must be an http or https URL"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("base_url \"{url}\" must not have a query or fragment"));
    }
    Ok(trimmed.to_owned())
}

fn seconds(field: &str, s: f64) -> Result<Duration, String> {
    if !s.is_finite() || s <= 0.0 || s > 86_400.0 {
        return Err(format!("{field} must be a number of seconds above 0 and at most 86400, not {s}"));
    }
    Ok(Duration::from_secs_f64(s))
}
