//! The cap on the streams one API key holds open (streamed completions and live events
//! together): over it, 429 in the contract's shape with `Retry-After`, before anything is
//! stored; a slot comes back when its stream ends and when its client disconnects.

use crate::events::{open, slow_reply};
use crate::helpers::{Resp, TestApp};
use crate::sse::SseReader;
use parlor_llm::{ProviderConfig, Providers};
use parlor_server::app::Limits;
use parlor_testkit::db::TestDb;
use parlor_testkit::fake_llm::FakeLlm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// An app with a cap of `cap` streams a key and the provider `fake`.
async fn capped(cap: u32, fake: &FakeLlm) -> TestApp {
    let mut providers = Providers::empty();
    providers.insert_config("fake", ProviderConfig::openai(&fake.base_url()).unwrap()).unwrap();
    TestApp::spawn_with(TestDb::sqlite().await, move |mut s| {
        s.limits = Limits { streams_per_key: cap, ..Limits::default() };
        s.with_providers(providers)
    })
    .await
}

/// Starts a streamed completion; the response as it came (a stream or a refusal).
async fn start_completion(
    app: &TestApp,
    bot: &Value,
    conversation: &Value,
    content: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/chatbots/{}/completions/", bot["id"].as_str().unwrap())))
        .header("Authorization", format!("Api-Key {}", app.key))
        .json(&json!({"conversation": conversation, "message": {"content": content}, "isStreaming": true}))
        .send()
        .await
        .unwrap()
}

async fn events_request(app: &TestApp, conversation: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/conversations/{conversation}/events/")))
        .header("Authorization", format!("Api-Key {}", app.key))
        .send()
        .await
        .unwrap()
}

fn assert_too_many_streams(r: &Resp) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.starts_with("Request was throttled"), "{detail}");
    assert!(detail.ends_with(&format!("Expected available in {retry} seconds.")), "{detail}");
    assert_eq!(r.body.as_object().unwrap().len(), 1, "only `detail`: {}", r.body);
}

/// Opens events streams until one is accepted (a slot comes back a moment after its stream
/// ends, when the server notices); fails after 5 s.
async fn wait_for_a_slot(app: &TestApp, conversation: &str) -> SseReader {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = events_request(app, conversation).await;
        if r.status() == StatusCode::OK {
            return SseReader::new(r);
        }
        assert_too_many_streams(&TestApp::read(r).await);
        assert!(Instant::now() < deadline, "no stream slot came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_per_key_are_capped_and_given_back() {
    let fake = FakeLlm::start().await;
    let app = capped(2, &fake).await;
    let bot = app.post("/api/chatbots/", json!({"name": "LLM", "model": "fake/m"})).await.body;
    let conv = app.post("/api/conversations/", json!({"webChat": bot["apiWebChatId"]})).await.body;
    let cid = conv["id"].as_str().unwrap().to_string();

    // Two streams: a live events stream and a slow streamed completion.
    let live = open(&app, &cid, None).await;
    fake.push(slow_reply(&["one ", "two ", "three ", "four ", "five ", "six ", "seven ", "eight"]));
    let r = start_completion(&app, &bot, &conv["id"], "count").await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut reply = SseReader::new(r);
    assert_eq!(reply.next().await.unwrap().data["done"], false);

    // A third is refused, completions and events alike, and the refused completion stored
    // nothing.
    let r = TestApp::read(start_completion(&app, &bot, &conv["id"], "refused").await).await;
    assert_too_many_streams(&r);
    assert_too_many_streams(&TestApp::read(events_request(&app, &cid).await).await);
    let messages = app.get(&format!("/api/messages/?conversation={cid}")).await.body;
    assert!(messages["results"].as_array().unwrap().iter().all(|m| m["content"] != "refused"), "{messages}");
    // Requests that are no streams are not capped, nor are other keys' streams.
    assert_eq!(app.get(&format!("/api/conversations/{cid}/")).await.status, StatusCode::OK);
    let other = app.other_org_key().await;
    let theirs = app
        .call_as(&format!("Api-Key {other}"), Method::POST, "/api/chatbots/", Some(json!({"name": "X"})))
        .await;
    let their_conv = app
        .call_as(
            &format!("Api-Key {other}"),
            Method::POST,
            "/api/conversations/",
            Some(json!({"webChat": theirs.body["apiWebChatId"]})),
        )
        .await
        .body;
    let r = app
        .client
        .get(app.url(&format!("/api/conversations/{}/events/", their_conv["id"].as_str().unwrap())))
        .header("Authorization", format!("Api-Key {other}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "another key has its own slots");
    drop(r);

    // A stream that ends gives its slot back: read the completion to its last event.
    let mut last = reply.next().await.unwrap();
    while last.data["done"] == false {
        last = reply.next().await.unwrap();
    }
    assert!(reply.next().await.is_none(), "the stream closes after its last event");
    let mut third = wait_for_a_slot(&app, &cid).await;

    // A client that disconnects gives its slot back too: drop the first events stream.
    assert_too_many_streams(&TestApp::read(events_request(&app, &cid).await).await);
    drop(live);
    let fourth = wait_for_a_slot(&app, &cid).await;

    // The streams that hold slots still work.
    let m = app.post_message(&conv, "still live").await;
    assert_eq!(third.next().await.unwrap().data["id"], m["id"]);
    drop(fourth);
}

#[tokio::test]
async fn the_cap_is_off_at_zero() {
    let fake = FakeLlm::start().await;
    let app = capped(0, &fake).await;
    let web_chat = app.create_web_chat().await;
    let conv = app.create_conversation(&web_chat).await;
    let cid = conv["id"].as_str().unwrap();
    let mut streams = Vec::new();
    for _ in 0..20 {
        streams.push(open(&app, cid, None).await);
    }
    assert_eq!(streams.len(), 20);
}
