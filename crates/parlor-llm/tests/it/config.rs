//! `[providers.*]` parsing, checking and resolving `"provider/model"`.

use parlor_core::engine::EngineError;
use parlor_llm::{ApiKey, ConfigError, ProviderConfig, Providers};
use std::time::Duration;

const FILE: &str = r#"
listen = "ignored: not a providers table"

[server]
whatever = 1

[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:11434/v1/"

[providers.cloud]
kind = "openai"
base_url = "https://api.example.com/v1"
api_key_env = "CLOUD_KEY"
timeout_s = 0.5
idle_timeout_s = 2
"#;

fn env(var: &str) -> Option<String> {
    (var == "CLOUD_KEY").then(|| "sk-very-secret".to_owned())
}

#[test]
fn reads_only_provider_tables_and_resolves_models() {
    let providers = Providers::from_toml_str_with_env(FILE, env).expect("valid file");

    assert_eq!(providers.names().collect::<Vec<_>>(), ["cloud", "local"]);
    let (_, model) = providers.resolve("local/llama3").expect("local");
    assert_eq!(model, "llama3");
    let (_, model) = providers.resolve("local/meta/llama3").expect("slash in model");
    assert_eq!(model, "meta/llama3");
    let (_, model) = providers.resolve("cloud/gpt-4o-mini").expect("cloud");
    assert_eq!(model, "gpt-4o-mini");
}

#[test]
fn unknown_or_badly_written_models_are_not_configured() {
    let providers = Providers::from_toml_str_with_env(FILE, env).expect("valid file");

    for model in ["nowhere/llama3", "llama3", "local/", "/llama3", ""] {
        match providers.resolve(model) {
            Err(EngineError::NotConfigured(msg)) => assert!(!msg.is_empty()),
            other => panic!("{model}: expected NotConfigured, got {:?}", other.map(|(_, m)| m)),
        }
    }
    assert!(matches!(Providers::empty().resolve("local/llama3"), Err(EngineError::NotConfigured(_))));
    assert!(Providers::empty().is_empty());
}

#[test]
fn timeouts_default_and_override() {
    let local = ProviderConfig::openai("http://127.0.0.1:11434/v1/").expect("url");
    assert_eq!(local.base_url, "http://127.0.0.1:11434/v1");
    assert_eq!(local.endpoint(), "http://127.0.0.1:11434/v1/chat/completions");
    assert_eq!(local.timeout, Duration::from_secs(60));
    assert_eq!(local.idle_timeout, Duration::from_secs(60));

    let short = local.with_timeout(Duration::from_millis(500));
    assert_eq!(short.idle_timeout, Duration::from_millis(500));
}

#[test]
fn a_file_without_providers_is_empty() {
    let providers = Providers::from_toml_str("[server]\nlisten = \"x\"\n").expect("valid");
    assert!(providers.is_empty());
}

#[test]
fn unknown_kind_is_a_config_error() {
    let err = Providers::from_toml_str("[providers.x]\nkind = \"anthropic\"\nbase_url = \"http://h/v1\"\n")
        .expect_err("unknown kind");
    assert!(
        matches!(&err, ConfigError::UnknownKind { provider, kind } if provider == "x" && kind == "anthropic")
    );
    assert!(err.to_string().contains("openai"), "{err}");
}

#[test]
fn missing_key_variable_is_a_config_error() {
    let text = "[providers.x]\nkind = \"openai\"\nbase_url = \"http://h/v1\"\napi_key_env = \"NOPE\"\n";
    let err = Providers::from_toml_str_with_env(text, |_| None).expect_err("unset variable");
    assert!(matches!(&err, ConfigError::MissingKey { provider, var } if provider == "x" && var == "NOPE"));
}

#[test]
fn bad_values_are_config_errors() {
    let cases = [
        ("kind = \"openai\"\nbase_url = \"not a url\"", "base_url"),
        ("kind = \"openai\"\nbase_url = \"ftp://h/v1\"", "http"),
        ("kind = \"openai\"\nbase_url = \"http://h/v1\"\ntimeout_s = 0", "timeout_s"),
        ("kind = \"openai\"\nbase_url = \"http://h/v1\"\nidle_timeout_s = -1", "idle_timeout_s"),
    ];
    for (table, word) in cases {
        let err = Providers::from_toml_str(&format!("[providers.x]\n{table}\n")).expect_err(table);
        assert!(matches!(err, ConfigError::Invalid { .. }), "{table}: {err:?}");
        assert!(err.to_string().contains(word), "{table}: {err}");
    }
    // Typos and keys written into the file are refused, not ignored.
    let err = Providers::from_toml_str(
        "[providers.x]\nkind = \"openai\"\nbase_url = \"http://h\"\napi_key = \"sk\"\n",
    )
    .expect_err("unknown field");
    assert!(matches!(err, ConfigError::Toml(_)), "{err:?}");
    let err = Providers::from_toml_str("[providers.x]\nbase_url = \"http://h\"\n").expect_err("no kind");
    assert!(matches!(err, ConfigError::Toml(_)), "{err:?}");
}

#[test]
fn debug_never_prints_the_key() {
    let providers = Providers::from_toml_str_with_env(FILE, env).expect("valid file");
    let config =
        ProviderConfig::openai("http://h/v1").expect("url").with_api_key(ApiKey::new("sk-very-secret"));
    let engine = parlor_llm::LlmEngine::new("cloud", config.clone()).expect("engine");

    for printed in
        [format!("{providers:?}"), format!("{config:?}"), format!("{engine:?}"), format!("{config:#?}")]
    {
        assert!(!printed.contains("sk-very-secret"), "{printed}");
    }
    assert!(format!("{config:?}").contains("redacted"));
}

#[test]
fn from_file_reads_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("parlor.toml");
    std::fs::write(&path, "[providers.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\n")
        .expect("write");

    let providers = Providers::from_file(&path).expect("valid file");
    assert_eq!(providers.names().collect::<Vec<_>>(), ["local"]);

    let err = Providers::from_file(dir.path().join("missing.toml")).expect_err("no file");
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
}
