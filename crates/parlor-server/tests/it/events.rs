//! Live conversation events: messages and reply pieces as they happen, and resuming with
//! `Last-Event-ID` (including from a broken completions stream).

use crate::helpers::TestApp;
use crate::sse::{SseEvent, SseReader};
use parlor_llm::{ProviderConfig, Providers};
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use parlor_testkit::fake_llm::{self, FakeLlm, Reply, Step};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

pub(crate) async fn open(app: &TestApp, conversation: &str, last_event_id: Option<&str>) -> SseReader {
    let mut req = app
        .client
        .get(app.url(&format!("/api/conversations/{conversation}/events/")))
        .header("Authorization", format!("Api-Key {}", app.key));
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    SseReader::new(resp)
}

/// A slow scripted reply: `pieces` 40 ms apart, then a normal end.
pub(crate) fn slow_reply(pieces: &[&str]) -> Reply {
    let chunk = |c: &str| Step::text(&fake_llm::sse(&fake_llm::delta_chunk(c).to_string()));
    let mut steps = Vec::new();
    for p in pieces {
        steps.push(chunk(p));
        steps.push(Step::Pause(Duration::from_millis(40)));
    }
    steps.push(Step::text(&fake_llm::sse(&fake_llm::finish_chunk("stop").to_string())));
    steps.push(Step::text(&fake_llm::sse(fake_llm::DONE)));
    Reply::raw(steps)
}

async fn with_fake(db: TestDb, fake: &FakeLlm) -> TestApp {
    let mut providers = Providers::empty();
    providers.insert_config("fake", ProviderConfig::openai(&fake.base_url()).unwrap()).unwrap();
    TestApp::spawn_with(db, move |s| s.with_providers(providers)).await
}

/// Reads events until the `message` event of `id`, returning the deltas' text before it
/// and the message.
pub(crate) async fn follow_reply(events: &mut SseReader, id: &str) -> (String, Value) {
    let mut text = String::new();
    loop {
        let e: SseEvent = events.next().await.expect("the stream goes on");
        match e.event.as_deref() {
            Some("delta") if e.data["messageId"] == id => text.push_str(e.data["content"].as_str().unwrap()),
            Some("message") if e.data["id"] == id => return (text, e.data),
            _ => {}
        }
    }
}

backend_tests!(messages_and_replies_arrive_live, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let app = with_fake(db, &fake).await;
    let wc = app.create_web_chat().await;
    // Auto-reply off: the only reply here is the completions one.
    let conv = app.create_quiet_conversation(&wc).await;
    let cid = conv["id"].as_str().unwrap();
    let mut events = open(&app, cid, None).await;

    let m = app.post_message(&conv, "hello there").await;
    let e = events.next().await.unwrap();
    assert_eq!(e.event.as_deref(), Some("message"));
    assert_eq!(e.data, m);
    assert_eq!(e.id.as_deref(), m["id"].as_str());
    let agent = app
        .post("/api/messages/", json!({"conversation": cid, "type": "outgoing", "content": "hi!"}))
        .await
        .body;
    let e = events.next().await.unwrap();
    assert_eq!(e.data["id"], agent["id"]);

    // A reply: its pieces, then the finished message, whose content is the pieces joined.
    let bot = app.post("/api/chatbots/", json!({"name": "B", "model": "fake/m"})).await.body;
    fake.push(slow_reply(&["one ", "two ", "three"]));
    let r = app
        .post(
            &format!("/api/chatbots/{}/completions/", bot["id"].as_str().unwrap()),
            json!({"conversation": cid, "message": {"content": "count"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let e = events.next().await.unwrap();
    assert_eq!(e.data["content"], "count", "the question first");
    let id = r.body["botMessage"]["id"].as_str().unwrap();
    let (text, message) = follow_reply(&mut events, id).await;
    assert_eq!(text, "one two three");
    assert_eq!(message["content"], "one two three");
    assert_eq!(message["metadata"]["finishReason"], "stop");
});

backend_tests!(resumes_a_broken_completions_stream, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let app = with_fake(db, &fake).await;
    let bot = app.post("/api/chatbots/", json!({"name": "B", "model": "fake/m"})).await.body;
    fake.push(slow_reply(&["alpha ", "beta ", "gamma ", "delta ", "epsilon"]));
    let resp = app
        .client
        .post(app.url(&format!("/api/chatbots/{}/completions/", bot["id"].as_str().unwrap())))
        .header("Authorization", format!("Api-Key {}", app.key))
        .json(&json!({"message": {"content": "go"}, "isStreaming": true}))
        .send()
        .await
        .unwrap();
    let mut stream = SseReader::new(resp);
    let first = stream.next().await.unwrap();
    let conv = first.data["conversationId"].as_str().unwrap().to_string();
    let bot_id = first.data["botMessageId"].as_str().unwrap().to_string();
    let piece = stream.next().await.unwrap();
    assert_eq!(piece.data["content"], "alpha ");
    let last_id = piece.id.clone().unwrap();
    drop(stream); // the client's connection breaks

    let mut events = open(&app, &conv, Some(&last_id)).await;
    let (rest, message) = follow_reply(&mut events, &bot_id).await;
    assert_eq!(rest, "beta gamma delta epsilon", "exactly what was missed, nothing twice");
    assert_eq!(message["content"], "alpha beta gamma delta epsilon");

    // Resuming after a message id gives what came after it, once.
    let m2 = app.post("/api/messages/", json!({"conversation": conv, "content": "later"})).await.body;
    let mut events = open(&app, &conv, Some(&bot_id)).await;
    let e = events.next().await.unwrap();
    assert_eq!(e.data["id"], m2["id"]);
    // An unknown resume point is a clear error.
    let r = app
        .client
        .get(app.url(&format!("/api/conversations/{conv}/events/")))
        .header("Authorization", format!("Api-Key {}", app.key))
        .header("Last-Event-ID", "01900000-0000-7000-8000-000000000000:3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.get("/api/conversations/01900000-0000-7000-8000-000000000000/events/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});
