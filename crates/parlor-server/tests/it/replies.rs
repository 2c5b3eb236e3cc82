//! How a reply begins: the question and the reply's message stored in one commit, the request
//! to the provider sent while that commit waits, and nothing of the reply shown (to the
//! requester or on the live events) before the question is stored.

use crate::events::open;
use crate::helpers::TestApp;
use crate::sse::SseReader;
use parlor_llm::{ProviderConfig, Providers};
use parlor_testkit::backend_tests;
use parlor_testkit::db::{Backend, TestDb};
use parlor_testkit::fake_llm::{FakeLlm, Reply};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;
use std::time::{Duration, Instant};

/// What the question's commit waits for, held from outside the server.
enum Held {
    /// SQLite's one write lock, taken by a second connection's `BEGIN IMMEDIATE`.
    Sqlite(sqlx::SqliteConnection),
    /// The conversation's row lock, which PostgreSQL's message creates take first.
    Postgres(sqlx::PgConnection),
}

async fn hold_commit(db: &TestDb, conversation: &str) -> Held {
    match db.backend {
        Backend::Sqlite => {
            let path = db.data_dir.path().join("parlor.db");
            let mut conn =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut conn).await.unwrap();
            Held::Sqlite(conn)
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(db.database_url.as_deref().unwrap()).await.unwrap();
            sqlx::raw_sql("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query("SELECT 1 FROM conversations WHERE id = $1::uuid FOR UPDATE")
                .bind(conversation)
                .execute(&mut conn)
                .await
                .unwrap();
            Held::Postgres(conn)
        }
    }
}

async fn release(held: Held) {
    match held {
        Held::Sqlite(mut c) => sqlx::raw_sql("ROLLBACK").execute(&mut c).await.map(drop).unwrap(),
        Held::Postgres(mut c) => sqlx::raw_sql("ROLLBACK").execute(&mut c).await.map(drop).unwrap(),
    }
}

backend_tests!(the_request_goes_upstream_while_the_question_is_stored, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let mut providers = Providers::empty();
    let config = ProviderConfig::openai(&fake.base_url()).unwrap().with_timeout(Duration::from_secs(5));
    providers.insert_config("fake", config).unwrap();
    let app = TestApp::spawn_with(db, move |s| s.with_providers(providers)).await;
    let bot = app
        .post("/api/chatbots/", json!({"name": "LLM", "model": "fake/m", "instructions": "Be brief."}))
        .await;
    let path = format!("/api/chatbots/{}/completions/", bot.body["id"].as_str().unwrap());
    fake.push(Reply::stream(&["Hello."]));
    let first = app.post(&path, json!({"message": {"content": "Hi"}})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let conversation = first.body["conversationId"].as_str().unwrap().to_string();
    let mut live = open(&app, &conversation, None).await;

    // The store cannot commit the question now.
    let held = hold_commit(&app.db, &conversation).await;
    fake.push(Reply::stream(&["Fine, ", "thanks."]));
    let asking = tokio::spawn({
        let request = app
            .client
            .post(app.url(&path))
            .header("Authorization", format!("Api-Key {}", app.key))
            .json(&json!({"conversation": conversation, "message": {"content": "How are you?"}, "isStreaming": true}));
        async move { request.send().await.unwrap() }
    });
    // The request reaches the provider all the same, with the history before the question.
    let deadline = Instant::now() + Duration::from_secs(5);
    while fake.requests().len() < 2 {
        assert!(Instant::now() < deadline, "the request did not go upstream while the commit waited");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sent: Vec<(String, String)> = fake.requests()[1]
        .messages()
        .iter()
        .map(|m| (m["role"].as_str().unwrap().to_owned(), m["content"].as_str().unwrap_or("").to_owned()))
        .collect();
    let turns: Vec<(&str, &str)> = sent.iter().skip(1).map(|(r, c)| (r.as_str(), c.as_str())).collect();
    assert_eq!(turns, vec![("user", "Hi"), ("assistant", "Hello."), ("user", "How are you?")]);
    // Nothing is shown yet: no response, and the question is not stored.
    assert!(!asking.is_finished(), "the stream began before the question was stored");
    let listed = app.get(&format!("/api/messages/?conversation={conversation}")).await.body;
    assert_eq!(listed["count"], 2, "{listed}");

    release(held).await;
    let resp = asking.await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = SseReader::new(resp);
    let opening = stream.next().await.unwrap().data;
    let question = opening["userMessage"]["id"].as_str().unwrap().to_string();
    let bot_id = opening["botMessageId"].as_str().unwrap().to_string();
    let mut text = String::new();
    let last = loop {
        let e = stream.next().await.expect("the stream goes on").data;
        if e["done"] == true {
            break e;
        }
        text.push_str(e["content"].as_str().unwrap());
    };
    assert_eq!(
        (text.as_str(), &last["botMessage"]["content"]),
        ("Fine, thanks.", &Value::from("Fine, thanks."))
    );
    let listed = app.get(&format!("/api/messages/?conversation={conversation}")).await.body;
    assert_eq!(listed["count"], 4);
    // On the live events too, the question comes before any piece of its reply.
    let mut seen = vec![];
    while seen.last().is_none_or(|(kind, id)| !(kind == "message" && *id == bot_id)) {
        let e = live.next().await.expect("live events go on");
        let id = e.data["id"].as_str().or(e.data["messageId"].as_str()).unwrap_or("").to_string();
        seen.push((e.event.unwrap_or_default(), id));
    }
    let position = |kind: &str, id: &str| seen.iter().position(|(k, i)| k == kind && i == id);
    let asked = position("message", &question).expect("the question's event");
    assert!(asked < position("delta", &bot_id).expect("a delta of the reply"), "{seen:?}");
});

backend_tests!(a_question_that_cannot_be_stored_is_not_asked, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let mut providers = Providers::empty();
    providers.insert_config("fake", ProviderConfig::openai(&fake.base_url()).unwrap()).unwrap();
    let app = TestApp::spawn_with(db, move |s| s.with_providers(providers)).await;
    let bot = app.post("/api/chatbots/", json!({"name": "LLM", "model": "fake/m"})).await;
    let path = format!("/api/chatbots/{}/completions/", bot.body["id"].as_str().unwrap());
    // An attachment the store does not know: the images sent upstream are the ones it
    // resolves, so such a question is stored before it is asked, and here never asked.
    let ghost = uuid::Uuid::now_v7();
    for streaming in [false, true] {
        let body =
            json!({"message": {"content": "Look", "attachments": [{"id": ghost}]}, "isStreaming": streaming});
        let r = app.post(&path, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert!(r.body.to_string().contains(&ghost.to_string()), "{}", r.body);
    }
    assert!(fake.requests().is_empty());
    let conversations = app.get("/api/conversations/").await.body;
    for c in conversations["results"].as_array().unwrap() {
        assert_eq!(
            (c["messageCount"].as_i64(), c["isAutoReplyNow"].as_bool()),
            (Some(0), Some(false)),
            "{c}"
        );
    }
});
