//! Graceful shutdown with streams open: a completions stream in flight goes on until its
//! reply ends, and the reply is stored; live events streams end at once; the grace period
//! bounds it all, and a reply cut by it is stored with what it produced.

use crate::events::open;
use crate::helpers::TestApp;
use crate::sse::{SseEvent, SseReader};
use parlor_core::id::MessageId;
use parlor_llm::{ProviderConfig, Providers};
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use parlor_testkit::fake_llm::{self, FakeLlm, Reply, Step};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn with_fake(db: TestDb, fake: &FakeLlm, grace: Duration) -> TestApp {
    let mut providers = Providers::empty();
    providers.insert_config("fake", ProviderConfig::openai(&fake.base_url()).unwrap()).unwrap();
    TestApp::spawn_with_grace(db, grace, move |s| s.with_providers(providers)).await
}

/// A chatbot on the fake provider and a conversation with it.
async fn bot_and_conversation(app: &TestApp) -> (Value, Value) {
    let bot = app.post("/api/chatbots/", json!({"name": "LLM", "model": "fake/m"})).await.body;
    let conv = app.post("/api/conversations/", json!({"webChat": bot["apiWebChatId"]})).await.body;
    (bot, conv)
}

async fn start_stream(app: &TestApp, bot: &Value, conv: &Value) -> SseReader {
    let r = app
        .client
        .post(app.url(&format!("/api/chatbots/{}/completions/", bot["id"].as_str().unwrap())))
        .header("Authorization", format!("Api-Key {}", app.key))
        .json(&json!({"conversation": conv["id"], "message": {"content": "go"}, "isStreaming": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    SseReader::new(r)
}

fn chunk(text: &str) -> Step {
    Step::text(&fake_llm::sse(&fake_llm::delta_chunk(text).to_string()))
}

/// Reads a completions stream to its last event; the pieces' text and that event.
async fn read_to_end(reply: &mut SseReader) -> (String, SseEvent) {
    let mut text = String::new();
    loop {
        let e = reply.next().await.expect("the stream ends with a done event");
        if e.data["done"] == true {
            assert!(reply.next().await.is_none(), "nothing after the last event");
            return (text, e);
        }
        text.push_str(e.data["content"].as_str().unwrap());
    }
}

backend_tests!(shutdown_lets_an_in_flight_stream_finish, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let mut app = with_fake(db, &fake, Duration::from_secs(20)).await;
    let (bot, conv) = bot_and_conversation(&app).await;
    let mut live = open(&app, conv["id"].as_str().unwrap(), None).await;
    // A slow reply: about a second and a half, most of it after shutdown begins.
    let pieces = ["one ", "two ", "three ", "four ", "five ", "six ", "seven ", "eight"];
    let mut steps = Vec::new();
    for p in pieces {
        steps.push(chunk(p));
        steps.push(Step::Pause(Duration::from_millis(150)));
    }
    steps.push(Step::text(&fake_llm::sse(&fake_llm::finish_chunk("stop").to_string())));
    steps.push(Step::text(&fake_llm::sse(fake_llm::DONE)));
    fake.push(Reply::raw(steps));
    let mut reply = start_stream(&app, &bot, &conv).await;
    let bot_id = reply.next().await.unwrap().data["botMessageId"].as_str().unwrap().to_string();
    assert_eq!(reply.next().await.unwrap().data["content"], "one ");

    app.begin_stop();

    // The live events stream ends at once…
    let started = Instant::now();
    while live.next().await.is_some() {}
    assert!(started.elapsed() < Duration::from_secs(1), "events end at shutdown: {:?}", started.elapsed());
    // …while the completions stream gets the whole reply and its last event.
    let (rest, last) = read_to_end(&mut reply).await;
    let whole: String = pieces.concat();
    assert_eq!(format!("one {rest}"), whole);
    assert!(last.data.get("error").is_none(), "{}", last.data);
    assert_eq!(last.data["botMessage"]["content"], whole);
    assert_eq!(last.data["botMessage"]["metadata"]["finishReason"], "stop");

    // And it is stored.
    let (db, org, _) = app.stop().await;
    let id: MessageId = bot_id.parse().unwrap();
    let stored = db.store.get_message(org, id, None).await.unwrap();
    assert_eq!(stored.content, whole);
    assert_eq!(stored.metadata["finishReason"], "stop");
});

backend_tests!(the_grace_period_bounds_a_stream_and_keeps_what_it_produced, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let mut app = with_fake(db, &fake, Duration::from_millis(300)).await;
    let (bot, conv) = bot_and_conversation(&app).await;
    // A provider that stops talking after one piece.
    fake.push(Reply::raw(vec![chunk("partial "), Step::Stall]));
    let mut reply = start_stream(&app, &bot, &conv).await;
    let bot_id = reply.next().await.unwrap().data["botMessageId"].as_str().unwrap().to_string();
    assert_eq!(reply.next().await.unwrap().data["content"], "partial ");

    let started = Instant::now();
    app.begin_stop();
    let (rest, last) = read_to_end(&mut reply).await;
    assert_eq!(rest, "");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "ends near the grace period: {:?}",
        started.elapsed()
    );
    assert_eq!(last.data["error"]["code"], "server_shutdown");
    assert_eq!(last.data["botMessage"]["content"], "partial ");
    assert_eq!(last.data["botMessage"]["metadata"]["finishReason"], "error");

    let (db, org, _) = app.stop().await;
    assert!(started.elapsed() < Duration::from_secs(5), "stopped: {:?}", started.elapsed());
    let stored = db.store.get_message(org, bot_id.parse().unwrap(), None).await.unwrap();
    assert_eq!(stored.content, "partial ");
    assert_eq!(stored.metadata["finishReason"], "error");
    assert_eq!(stored.metadata["error"]["code"], "server_shutdown");
});
