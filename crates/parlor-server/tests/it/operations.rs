//! Operations endpoints: `GET /metrics` in Prometheus's format, public: requests, open
//! streams, engine latency and tokens, database pools.

use crate::helpers::TestApp;
use parlor_llm::{ProviderConfig, Providers};
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use parlor_testkit::fake_llm::{self, FakeLlm, Reply};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    assert_eq!(app.get("/api/chatbots/").await.status, StatusCode::OK);
    let bot = app.create_chatbot("Bot").await;
    let missing = format!("/api/v1/chatbots/{}/", uuid::Uuid::now_v7());
    assert_eq!(app.get(&missing).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/nothing-here").await.status, StatusCode::NOT_FOUND);
    assert!(bot["id"].is_string());

    // Public: no key.
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = r.text().await.unwrap();
    // The recorder is shared by every app of this test process, so look for series, not counts.
    for series in [
        r#"http_requests_total{method="GET",route="/api/chatbots",status="200"}"#,
        r#"http_requests_total{method="POST",route="/api/chatbots",status="201"}"#,
        r#"http_requests_total{method="GET",route="/api/v1/chatbots/{id}",status="404"}"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"}"#,
        r#"http_request_duration_seconds_bucket{method="GET",route="/api/chatbots",status="200",le="0.1"}"#,
    ] {
        assert!(text.contains(series), "missing {series} in:\n{text}");
    }
    // Ids never become labels.
    assert!(!text.contains(&missing[..20]) || !text.contains(missing.trim_end_matches('/')), "{text}");
}

/// The value of the first series that starts with `prefix`, if any.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(prefix))?.rsplit(' ').next()?.parse().ok()
}

backend_tests!(metrics_show_streams_engines_tokens_and_pools, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let mut providers = Providers::empty();
    providers.insert_config("fake", ProviderConfig::openai(&fake.base_url()).unwrap()).unwrap();
    let app = TestApp::spawn_with(db, move |s| s.with_providers(providers)).await;
    let backend = app.db.store.backend();
    // A reply from a provider that reports usage, and one from the knowledge engine.
    let llm = app.post("/api/chatbots/", json!({"name": "LLM", "model": "fake/m"})).await.body;
    fake.push(Reply::stream(&["Hello ", "there."]));
    let r = app
        .post(
            &format!("/api/chatbots/{}/completions/", llm["id"].as_str().unwrap()),
            json!({"message": {"content": "hi"}}),
        )
        .await;
    assert_eq!(r.body["content"], "Hello there.");
    let guide = app.create_chatbot("Guide").await;
    let r = app
        .post(
            &format!("/api/chatbots/{}/completions/", guide["id"].as_str().unwrap()),
            json!({"message": {"content": "hi"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // A stream open while scraping.
    let conv = r.body["conversationId"].as_str().unwrap().to_string();
    let _live = crate::events::open(&app, &conv, None).await;

    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    // The recorder is shared by every app of this test process: look for series and lower
    // bounds, not exact counts.
    let open = sample(&text, r#"parlor_open_streams{kind="events"}"#).expect(&text);
    assert!(open >= 1.0, "{open}");
    for engine in ["provider", "knowledge"] {
        for series in ["parlor_engine_first_token_seconds_bucket", "parlor_engine_duration_seconds_bucket"] {
            let prefix = format!(r#"{series}{{engine="{engine}",le="+Inf"}}"#);
            assert!(sample(&text, &prefix).is_some_and(|n| n >= 1.0), "missing {prefix} in:\n{text}");
        }
    }
    let prompt =
        sample(&text, r#"parlor_engine_tokens_total{engine="provider",type="prompt"}"#).expect(&text);
    assert!(prompt >= fake_llm::FAKE_PROMPT_TOKENS as f64, "{prompt}");
    let completion =
        sample(&text, r#"parlor_engine_tokens_total{engine="provider",type="completion"}"#).expect(&text);
    assert!(completion >= 2.0, "{completion}");
    let pool = if backend == "sqlite" { "write" } else { "main" };
    let max = sample(&text, &format!(r#"parlor_db_pool_max_connections{{pool="{pool}"}}"#)).expect(&text);
    assert!(max >= 1.0, "{max}");
    for state in ["idle", "in_use"] {
        let series = format!(r#"parlor_db_pool_connections{{pool="{pool}",state="{state}"}}"#);
        assert!(sample(&text, &series).is_some(), "missing {series} in:\n{text}");
    }
});
