//! Cursor pagination: absolute links, no row seen twice or skipped while rows are added,
//! reverse pages, and bad cursors.

use crate::helpers::{TestApp, path_of};
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;

backend_tests!(pages_through_messages_while_rows_are_added, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = app.create_web_chat().await;
    let conv = app.create_quiet_conversation(&wc).await;
    let cid = conv["id"].as_str().unwrap().to_string();
    let mut all = vec![];
    for i in 0..45 {
        all.push(app.post_message(&conv, &format!("m{i}")).await["id"].clone());
    }
    let first = app.get(&format!("/api/v1/messages/?conversation={cid}&pageSize=20")).await.body;
    assert_eq!(first["count"], 45);
    assert_eq!(first["previous"], json!(null));
    let next = first["next"].as_str().unwrap();
    assert!(next.starts_with(&format!("http://{}/api/v1/messages/?", app.addr)), "{next}");
    assert!(next.contains(&format!("conversation={cid}")) && next.contains("pageSize=20"), "{next}");

    let mut seen: Vec<Value> = first["results"].as_array().unwrap().iter().map(|m| m["id"].clone()).collect();
    let mut link = first["next"].clone();
    let mut added = vec![];
    let mut pages = vec![first.clone()];
    while !link.is_null() {
        // New messages arrive between pages: they are newer, so they never show up later.
        added.push(app.post_message(&conv, "late").await["id"].clone());
        let page = app.get(&path_of(&link)).await.body;
        seen.extend(page["results"].as_array().unwrap().iter().map(|m| m["id"].clone()));
        link = page["next"].clone();
        pages.push(page);
    }
    let expected: Vec<Value> = all.iter().rev().cloned().collect();
    assert_eq!(seen, expected, "every original row once, in order, none of the added ones");
    assert_eq!(pages.len(), 3);

    // previous of the last page gives back the second page exactly.
    let last = pages.last().unwrap();
    let prev = app.get(&path_of(&last["previous"])).await.body;
    assert_eq!(prev["results"], pages[1]["results"]);

    let r = app.get(&format!("/api/messages/?conversation={cid}&cursor=bogus")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Invalid cursor"}));
    // Page size rules.
    let n = |q: &str| {
        let app = &app;
        let url = format!("/api/messages/?conversation={cid}&pageSize={q}");
        async move { app.get(&url).await.body["results"].as_array().unwrap().len() }
    };
    assert_eq!(n("5").await, 5);
    assert_eq!(n("0").await, 20);
    assert_eq!(n("abc").await, 20);
    assert_eq!(n("1000").await, 45 + added.len());
    let all_org = app.get("/api/messages/").await.body;
    assert_eq!(all_org["count"], json!(null), "no count without a conversation");
});

backend_tests!(pages_through_conversations_deeply, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = app.create_web_chat().await;
    for _ in 0..25 {
        app.create_conversation(&wc).await;
    }
    let mut link = Value::String(format!("http://{}/api/conversations/?pageSize=3", app.addr));
    let mut ids = HashSet::new();
    let mut count = 0;
    let mut last_created: Option<(String, String)> = None;
    while !link.is_null() {
        let page = app.get(&path_of(&link)).await.body;
        for c in page["results"].as_array().unwrap() {
            let key = (c["createdAt"].as_str().unwrap().to_string(), c["id"].as_str().unwrap().to_string());
            if let Some(prev) = &last_created {
                assert!(key < *prev, "newest first");
            }
            last_created = Some(key);
            ids.insert(c["id"].clone());
            count += 1;
        }
        link = page["next"].clone();
    }
    assert_eq!(count, 25);
    assert_eq!(ids.len(), 25);
});

backend_tests!(page_number_lists, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    for i in 0..5 {
        app.create_chatbot(&format!("b{i}")).await;
    }
    let p1 = app.get("/api/chatbots/?pageSize=2").await.body;
    assert_eq!(p1["count"], 5);
    assert_eq!(p1["previous"], json!(null));
    let p2 = app.get(&path_of(&p1["next"])).await.body;
    assert!(p1["next"].as_str().unwrap().contains("page=2"));
    assert_eq!(path_of(&p2["previous"]), "/api/chatbots/?pageSize=2");
    let r = app.get("/api/chatbots/?page=4&pageSize=2").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Invalid page."}));
    let r = app.get("/api/chatbots/?page=zero").await;
    assert_eq!(r.body, json!({"detail": "Invalid page."}));
});

backend_tests!(forwarded_headers_shape_links, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    for i in 0..3 {
        app.create_chatbot(&format!("b{i}")).await;
    }
    let r = app
        .client
        .get(app.url("/api/chatbots/?pageSize=1"))
        .header("Authorization", format!("Api-Key {}", app.key))
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "chat.example.com")
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["next"], "https://chat.example.com/api/chatbots/?pageSize=1&page=2");
});
