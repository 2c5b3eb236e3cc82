//! Streamed completions through a provider with `http2 = true`: many at once over one
//! connection to the provider, each complete, stored and recorded as over HTTP/1.1.

use crate::helpers::TestApp;
use crate::sse::SseReader;
use parlor_llm::{ProviderConfig, Providers};
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use parlor_testkit::fake_llm::{self, FakeLlm, Reply, Step};
use reqwest::{StatusCode, Version};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

backend_tests!(streams_share_one_http2_connection_to_the_provider, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let chunk = |c: &str| Step::text(&fake_llm::sse(&fake_llm::delta_chunk(c).to_string()));
    // Pieces apart in time, so the replies are in flight together.
    fake.set_default(Reply::raw(vec![
        chunk("Over "),
        Step::Pause(Duration::from_millis(50)),
        chunk("one connection."),
        Step::text(&fake_llm::sse(&fake_llm::finish_chunk("stop").to_string())),
        Step::text(&fake_llm::sse(fake_llm::DONE)),
    ]));
    let mut providers = Providers::empty();
    let config = ProviderConfig::openai(&fake.base_url())
        .unwrap()
        .with_timeout(Duration::from_secs(5))
        .with_http2(true);
    providers.insert_config("fake", config).unwrap();
    let app = TestApp::spawn_with(db, move |s| s.with_providers(providers)).await;
    let bot = app.post("/api/chatbots/", json!({"name": "LLM", "model": "fake/m"})).await;
    let path = format!("/api/chatbots/{}/completions/", bot.body["id"].as_str().unwrap());

    let streams = (0..12).map(|i| {
        let request = app
            .client
            .post(app.url(&path))
            .header("Authorization", format!("Api-Key {}", app.key))
            .json(&json!({"message": {"content": format!("Question {i}")}, "isStreaming": true}));
        async move {
            let resp = request.send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let mut events = SseReader::new(resp);
            loop {
                let e = events.next().await.expect("the stream goes on").data;
                if e["done"] == true {
                    return e;
                }
            }
        }
    });
    let lasts = futures::future::join_all(streams).await;

    for last in &lasts {
        assert_eq!(last["botMessage"]["content"], "Over one connection.");
        assert_eq!(last["botMessage"]["metadata"]["finishReason"], "stop");
        let stored = app.get(&format!("/api/messages/{}/", last["botMessage"]["id"].as_str().unwrap())).await;
        assert_eq!(stored.body["content"], "Over one connection.");
    }
    let requests = fake.requests();
    assert_eq!(requests.len(), 12);
    assert!(requests.iter().all(|r| r.version == Version::HTTP_2));
    assert_eq!(requests.iter().map(|r| r.peer).collect::<HashSet<_>>().len(), 1, "one connection");
});
