//! The registry of configured providers, and how a chatbot's `"provider/model"` finds one.
//!
//! The server loads it once at start and holds it in its state; a chatbot names its model as
//! `"<provider>/<model>"` (`API.md`), so resolving is a split at the first `/` and a map
//! lookup. Model names keep any further slashes (`local/meta/llama3` is model `meta/llama3`
//! of provider `local`), as many servers name models `org/name`.

use crate::config::{ConfigError, ProviderConfig, RawFile};
use crate::engine::LlmEngine;
use parlor_core::engine::{Engine, EngineError};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Configured providers by name.
#[derive(Clone, Default)]
pub struct Providers {
    engines: BTreeMap<String, Arc<dyn Engine>>,
}

impl Providers {
    /// No providers: every model resolves to `NotConfigured` (the built-in knowledge engine
    /// still works).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Reads the `[providers.*]` tables of a config file; other tables are ignored.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        Self::from_raw(RawFile::read(path.as_ref())?, &|var| std::env::var(var).ok())
    }

    /// Like [`Providers::from_file`], from the file's text.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::from_toml_str_with_env(text, |var| std::env::var(var).ok())
    }

    /// Like [`Providers::from_toml_str`], with `env` looking up the variables `api_key_env`
    /// names. Tests use it instead of changing the process environment (which is `unsafe`
    /// in edition 2024 and races with other tests).
    pub fn from_toml_str_with_env(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::from_raw(RawFile::parse(text)?, &env)
    }

    fn from_raw(raw: RawFile, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut providers = Self::empty();
        for (name, table) in raw.providers {
            check_name(&name)?;
            let config = ProviderConfig::from_raw(&name, table, env)?;
            providers.insert_config(&name, config)?;
        }
        Ok(providers)
    }

    /// Adds (or replaces) a provider built from `config`.
    pub fn insert_config(&mut self, name: &str, config: ProviderConfig) -> Result<(), ConfigError> {
        check_name(name)?;
        let engine = LlmEngine::new(name, config)?;
        self.engines.insert(name.to_owned(), Arc::new(engine));
        Ok(())
    }

    /// Adds (or replaces) a provider with any engine, e.g. a test double.
    pub fn insert_engine(&mut self, name: &str, engine: Arc<dyn Engine>) {
        self.engines.insert(name.to_owned(), engine);
    }

    /// The configured provider names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.engines.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.engines.is_empty()
    }

    /// Finds the engine for a chatbot's `"provider/model"` and returns it with the model name
    /// to put in [`parlor_core::engine::GenerateRequest::model`].
    pub fn resolve(&self, model: &str) -> Result<(Arc<dyn Engine>, String), EngineError> {
        let Some((provider, name)) = model.split_once('/') else {
            return Err(EngineError::NotConfigured(format!(
                "model \"{model}\" must be written \"<provider>/<model>\""
            )));
        };
        if provider.is_empty() || name.is_empty() {
            return Err(EngineError::NotConfigured(format!(
                "model \"{model}\" must be written \"<provider>/<model>\""
            )));
        }
        match self.engines.get(provider) {
            Some(engine) => Ok((Arc::clone(engine), name.to_owned())),
            None => Err(EngineError::NotConfigured(format!(
                "no provider \"{provider}\" in the config (model \"{model}\")"
            ))),
        }
    }
}

/// A provider name is the part before the first `/` of a model, so it cannot hold one.
fn check_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.contains('/') {
        return Err(ConfigError::Invalid {
            provider: name.to_owned(),
            reason: "a provider name must be non-empty and contain no \"/\"".to_owned(),
        });
    }
    Ok(())
}

impl fmt::Debug for Providers {
    /// Names only: the engines hold keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Providers").field("names", &self.engines.keys().collect::<Vec<_>>()).finish()
    }
}
