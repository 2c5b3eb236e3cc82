//! The completions endpoint: the knowledge engine on the demo knowledge, the stream's
//! format, validation, LLM providers through a local upstream speaking the real wire format
//! (with its faults), clients that leave mid-stream, and many streams at once.

use crate::helpers::TestApp;
use parlor_core::input::NewDocument;
use parlor_core::knowledge::demo_documents;
use parlor_llm::{ProviderConfig, Providers};
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use parlor_testkit::fake_llm::{self, FakeLlm, Reply, Step};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// One SSE event: its id and JSON data.
#[derive(Debug)]
struct SseEvent {
    id: Option<String>,
    event: Option<String>,
    data: Value,
}

fn parse_sse(text: &str) -> Vec<SseEvent> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut id = None;
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            (!data.is_empty()).then(|| SseEvent {
                id,
                event,
                data: serde_json::from_str(&data).expect("JSON data"),
            })
        })
        .collect()
}

/// A chatbot with the demo knowledge (Parlor's own FAQ).
async fn demo_bot(app: &TestApp) -> Value {
    let bot = app.create_chatbot("Guide").await;
    let id = bot["id"].as_str().unwrap().parse().unwrap();
    for (title, content) in demo_documents() {
        app.db
            .store
            .create_document(app.org, id, NewDocument { title, content, metadata: Default::default() })
            .await
            .unwrap();
    }
    bot
}

fn completions(bot: &Value) -> String {
    format!("/api/chatbots/{}/completions/", bot["id"].as_str().unwrap())
}

async fn stream(app: &TestApp, path: &str, body: Value) -> (reqwest::header::HeaderMap, Vec<SseEvent>) {
    let r = app
        .client
        .post(app.url(path))
        .header("Authorization", format!("Api-Key {}", app.key))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let headers = r.headers().clone();
    (headers, parse_sse(&r.text().await.unwrap()))
}

backend_tests!(knowledge_engine_answers_from_the_demo_knowledge, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let bot = demo_bot(&app).await;
    let r = app.post(&completions(&bot), json!({"message": {"content": "how do I export records?"}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let content = r.body["content"].as_str().unwrap();
    assert!(content.contains("export-excel"), "{content}");
    assert_eq!(r.body["done"], true);
    let bot_msg = &r.body["botMessage"];
    assert_eq!(bot_msg["content"], r.body["content"]);
    assert_eq!(bot_msg["type"], "outgoing");
    assert_eq!(bot_msg["senderType"], "bot");
    assert_eq!(bot_msg["sender"]["name"], "Guide");
    assert_eq!(bot_msg["metadata"]["finishReason"], "stop");
    assert!(bot_msg["citations"][0]["filename"].as_str().unwrap().contains("export"), "{bot_msg}");
    assert!(bot_msg["citationNodes"][0]["score"].as_f64().unwrap() > 0.0);
    // A new conversation was made in the chatbot's API web chat; both messages are stored.
    let conv = r.body["conversationId"].as_str().unwrap();
    let c = app.get(&format!("/api/conversations/{conv}/")).await.body;
    assert_eq!(c["inbox"]["id"], bot["apiWebChatId"]);
    assert_eq!(c["messageCount"], 2);
    assert_eq!(c["isAutoReplyNow"], false);
    assert_eq!(c["title"], "how do I export records?");

    // Nothing matches: the fallback message, with no citations.
    let r = app
        .post(
            &completions(&bot),
            json!({"conversation": conv, "message": {"content": "what is the capital of Peru?"}}),
        )
        .await;
    assert_eq!(r.body["content"], bot["fallbackMessage"]);
    assert_eq!(r.body["botMessage"]["citations"], json!([]));
});

backend_tests!(streams_unnamed_events_that_add_up_to_the_stored_reply, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let bot = demo_bot(&app).await;
    let (headers, events) = stream(
        &app,
        &completions(&bot),
        json!({"message": {"content": "How do I create an API key?"}, "isStreaming": true}),
    )
    .await;
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert!(events.len() >= 3, "{events:?}");
    assert!(events.iter().all(|e| e.event.is_none()), "no `event:` lines, so onmessage gets them");
    for e in &events {
        for key in ["conversationId", "content", "done"] {
            assert!(e.data.get(key).is_some(), "{key} in {}", e.data);
        }
        assert!(e.id.is_some());
    }
    let first = &events[0].data;
    assert_eq!((first["content"].as_str(), first["done"].as_bool()), (Some(""), Some(false)));
    assert_eq!(first["userMessage"]["content"], "How do I create an API key?");
    let bot_id = first["botMessageId"].as_str().unwrap();
    let last = &events.last().unwrap().data;
    assert_eq!(last["done"], true);
    assert!(last.get("error").is_none());
    let joined: String =
        events[1..events.len() - 1].iter().map(|e| e.data["content"].as_str().unwrap()).collect();
    assert!(!joined.is_empty());
    assert_eq!(last["botMessage"]["content"], joined);
    assert_eq!(last["botMessage"]["id"], bot_id);
    let stored = app.get(&format!("/api/messages/{bot_id}/")).await.body;
    assert_eq!(stored["content"], joined);
    // Event ids tell how many characters of the reply the client has.
    let last_id = events.last().unwrap().id.clone().unwrap();
    assert_eq!(last_id, format!("{bot_id}:{}", joined.chars().count()));
});

backend_tests!(completions_validation, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let bot = demo_bot(&app).await;
    let path = completions(&bot);
    let missing = "01900000-0000-7000-8000-000000000000";
    let r = app.post(&path, json!({})).await;
    assert_eq!(r.body, json!({"message": ["This field is required."]}));
    let r = app.post(&path, json!({"message": {}})).await;
    assert_eq!(r.body, json!({"message": {"content": ["This field is required."]}}));
    let r = app.post(&path, json!({"message": {"content": ""}})).await;
    assert_eq!(r.body, json!({"message": {"content": ["This field may not be blank."]}}));
    let r = app.post(&path, json!({"message": {"content": "hi", "sender": missing}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"message": {"sender": [format!("Invalid pk \"{missing}\" - object does not exist.")]}})
    );
    let r = app.post(&path, json!({"conversation": missing, "message": {"content": "hi"}})).await;
    assert_eq!(
        r.body,
        json!({"conversation": [format!("Invalid pk \"{missing}\" - object does not exist.")]})
    );
    let r = app
        .post(&format!("/api/chatbots/{missing}/completions/"), json!({"message": {"content": "hi"}}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Another organization's contact is not a valid sender.
    let other = format!("Api-Key {}", app.other_org_key().await);
    let theirs =
        app.call_as(&other, reqwest::Method::POST, "/api/contacts/", Some(json!({"name": "x"}))).await.body;
    let r = app.post(&path, json!({"message": {"content": "hi", "sender": theirs["id"]}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["message"]["sender"].is_array());
    // An empty or null conversation starts a new one, with the sender as its contact.
    let me = app.post("/api/contacts/", json!({"name": "Me"})).await.body;
    let r =
        app.post(&path, json!({"conversation": "", "message": {"content": "hi", "sender": me["id"]}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let conv =
        app.get(&format!("/api/conversations/{}/", r.body["conversationId"].as_str().unwrap())).await.body;
    assert_eq!(conv["contact"]["id"], me["id"]);
    assert_eq!(r.body["userMessage"]["sender"]["name"], "Me");
});

/// An app whose provider `fake` is the given local upstream, with short timeouts.
async fn with_fake(db: TestDb, fake: &FakeLlm) -> TestApp {
    let mut providers = Providers::empty();
    let config = ProviderConfig::openai(&fake.base_url()).unwrap().with_timeout(Duration::from_secs(2));
    providers.insert_config("fake", config).unwrap();
    TestApp::spawn_with(db, move |s| s.with_providers(providers)).await
}

async fn llm_bot(app: &TestApp) -> Value {
    let r = app
        .post("/api/chatbots/", json!({"name": "LLM", "model": "fake/test-model", "instructions": "Be brief.", "temperature": 0.2}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

backend_tests!(provider_reply_is_grounded_and_stored, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let app = with_fake(db, &fake).await;
    let bot = llm_bot(&app).await;
    let bot_id = bot["id"].as_str().unwrap().parse().unwrap();
    app.db
        .store
        .create_document(
            app.org,
            bot_id,
            NewDocument {
                title: "Opening hours".into(),
                content: "We open at 9 on weekdays.".into(),
                metadata: Default::default(),
            },
        )
        .await
        .unwrap();
    fake.push(Reply::stream(&["We open ", "at 9."]));
    let (_, events) = stream(
        &app,
        &completions(&bot),
        json!({"message": {"content": "When do you open?"}, "isStreaming": true}),
    )
    .await;
    let pieces: Vec<&str> =
        events.iter().filter_map(|e| e.data["content"].as_str()).filter(|c| !c.is_empty()).collect();
    assert_eq!(pieces, vec!["We open ", "at 9."]);
    let last = &events.last().unwrap().data;
    assert_eq!(last["botMessage"]["content"], "We open at 9.");
    assert_eq!(last["botMessage"]["metadata"]["model"], "fake/test-model");
    assert_eq!(last["botMessage"]["metadata"]["usage"]["completionTokens"], 2);
    assert_eq!(last["botMessage"]["citations"][0]["filename"], "Opening hours");
    let req = &fake.requests()[0];
    assert_eq!(req.model(), Some("test-model"));
    assert_eq!(req.temperature(), Some(0.2));
    let system = req.messages()[0]["content"].as_str().unwrap();
    assert!(system.contains("Be brief.") && system.contains("We open at 9 on weekdays."), "{system}");
    assert_eq!(req.messages().last().unwrap()["content"], "When do you open?");

    // The next question carries the history.
    let conv = events[0].data["conversationId"].clone();
    fake.push(Reply::stream(&["Yes."]));
    let r = app
        .post(&completions(&bot), json!({"conversation": conv, "message": {"content": "Saturdays too?"}}))
        .await;
    assert_eq!(r.body["content"], "Yes.");
    let msgs = fake.requests()[1].messages().to_vec();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, vec!["system", "user", "assistant", "user"]);
    assert_eq!(msgs[2]["content"], "We open at 9.");
});

backend_tests!(provider_faults_end_cleanly, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let app = with_fake(db, &fake).await;
    let bot = llm_bot(&app).await;
    // Failing before any text: 502 when not streaming, and the failed reply is stored.
    fake.push(Reply::error(500, "the model is overloaded"));
    let r = app.post(&completions(&bot), json!({"message": {"content": "hi"}})).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.body["code"], "provider_error");
    assert!(r.body["detail"].as_str().unwrap().contains("overloaded"));

    // Cut mid-stream while streaming: the last event carries the error; the partial reply is
    // stored with finishReason "error".
    let chunk = |c: &str| Step::text(&fake_llm::sse(&fake_llm::delta_chunk(c).to_string()));
    fake.push(Reply::raw(vec![
        chunk("Half "),
        chunk("an answer"),
        Step::Pause(Duration::from_millis(100)),
        Step::Abort,
    ]));
    let (_, events) =
        stream(&app, &completions(&bot), json!({"message": {"content": "hi"}, "isStreaming": true})).await;
    let last = &events.last().unwrap().data;
    assert_eq!(last["done"], true);
    assert_eq!(last["error"]["code"], "provider_cut");
    assert_eq!(last["botMessage"]["content"], "Half an answer");
    assert_eq!(last["botMessage"]["metadata"]["finishReason"], "error");
    let id = last["botMessage"]["id"].as_str().unwrap();
    let stored = app.get(&format!("/api/messages/{id}/")).await.body;
    assert_eq!(stored["content"], "Half an answer");
    assert_eq!(stored["metadata"]["finishReason"], "error");

    // A stalled provider times out instead of hanging the client.
    fake.push(Reply::raw(vec![chunk("Slow"), Step::Stall]));
    let started = Instant::now();
    let (_, events) =
        stream(&app, &completions(&bot), json!({"message": {"content": "hi"}, "isStreaming": true})).await;
    assert_eq!(events.last().unwrap().data["error"]["code"], "provider_timeout");
    assert!(started.elapsed() < Duration::from_secs(15));

    // A provider that is not configured any more.
    let r = app.post(&completions(&bot), json!({"message": {"content": "hi"}})).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_GATEWAY,
        "the fake answers 500 when nothing is scripted: {}",
        r.body
    );
});

backend_tests!(a_client_that_leaves_mid_stream_loses_nothing, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let app = with_fake(db, &fake).await;
    let bot = llm_bot(&app).await;
    let chunk = |c: &str| Step::text(&fake_llm::sse(&fake_llm::delta_chunk(c).to_string()));
    let mut steps = vec![chunk("first ")];
    for i in 0..5 {
        steps.push(Step::Pause(Duration::from_millis(60)));
        steps.push(chunk(&format!("piece{i} ")));
    }
    steps.push(Step::text(&fake_llm::sse(&fake_llm::finish_chunk("stop").to_string())));
    steps.push(Step::text(&fake_llm::sse(fake_llm::DONE)));
    fake.push(Reply::raw(steps));

    let mut resp = app
        .client
        .post(app.url(&completions(&bot)))
        .header("Authorization", format!("Api-Key {}", app.key))
        .json(&json!({"message": {"content": "tell me"}, "isStreaming": true}))
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    while !text.contains("first ") {
        text.push_str(&String::from_utf8_lossy(&resp.chunk().await.unwrap().expect("a chunk")));
    }
    drop(resp);
    let bot_id = parse_sse(&text)[0].data["botMessageId"].as_str().unwrap().to_string();
    // The reply goes on without the client; wait (bounded) for it to be stored complete.
    let deadline = Instant::now() + Duration::from_secs(10);
    let stored = loop {
        let m = app.get(&format!("/api/messages/{bot_id}/")).await.body;
        if !m["metadata"]["finishReason"].is_null() {
            break m;
        }
        assert!(Instant::now() < deadline, "the reply was not finished: {m}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(stored["content"], "first piece0 piece1 piece2 piece3 piece4 ");
    assert_eq!(stored["metadata"]["finishReason"], "stop");
});

backend_tests!(many_streams_at_once, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let bot = demo_bot(&app).await;
    let shared = app.post(&completions(&bot), json!({"message": {"content": "What is Parlor?"}})).await.body
        ["conversationId"]
        .clone();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let conversation = if i % 2 == 0 { shared.clone() } else { Value::Null };
        let body = json!({"conversation": conversation, "message": {"content": "How do I export records?"}, "isStreaming": true});
        let (client, url, key) = (app.client.clone(), app.url(&completions(&bot)), app.key.clone());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .header("Authorization", format!("Api-Key {key}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            parse_sse(&r.text().await.unwrap())
        }));
    }
    for t in tasks {
        let events = t.await.unwrap();
        let last = &events.last().unwrap().data;
        assert_eq!(last["done"], true);
        let joined: String = events.iter().filter_map(|e| e.data["content"].as_str()).collect();
        assert_eq!(last["botMessage"]["content"], joined);
        assert!(joined.contains("export-excel"));
    }
    let c = app.get(&format!("/api/conversations/{}/", shared.as_str().unwrap())).await.body;
    assert_eq!(c["messageCount"], 2 + 8 * 2);
    assert_eq!(c["isAutoReplyNow"], false);
});
