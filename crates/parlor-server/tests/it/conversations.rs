//! Conversations: creation, the state the server keeps current, keyword search, and data
//! surviving a restart.

use crate::helpers::{TestApp, assert_ts};
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use reqwest::StatusCode;
use serde_json::json;

backend_tests!(conversation_shape_and_derived_state, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = app.create_web_chat().await;
    let r = app.post("/api/conversations/", json!({})).await;
    assert_eq!(r.body, json!({"webChat": ["This field is required."]}));
    let r = app.post("/api/conversations/", json!({"webChat": "x"})).await;
    assert_eq!(r.body, json!({"webChat": ["Must be a valid UUID."]}));
    let missing = "01900000-0000-7000-8000-000000000000";
    let r = app.post("/api/conversations/", json!({"webChat": wc["id"], "contact": missing})).await;
    assert_eq!(r.body, json!({"contact": [format!("Invalid pk \"{missing}\" - object does not exist.")]}));

    let conv = app.create_conversation(&wc).await;
    for field in [
        "id",
        "contact",
        "inbox",
        "title",
        "lastMessage",
        "lastMessageCreatedAt",
        "unreadMessagesCount",
        "autoReplyEnabled",
        "isAutoReplyNow",
        "lastReadAt",
        "isGroupChat",
        "enableGroupMention",
        "createdAt",
        "webChat",
        "chatbot",
        "status",
        "messageCount",
        "updatedAt",
    ] {
        assert!(conv.get(field).is_some(), "missing {field}");
    }
    assert!(conv["contact"]["name"].as_str().unwrap().starts_with("Visitor "));
    assert_eq!(conv["inbox"], json!({"id": wc["id"], "name": "Site", "channelType": "web"}));
    assert_eq!(conv["title"], "");
    assert_eq!(conv["lastMessage"], json!(null));
    assert_eq!(conv["autoReplyEnabled"], true);
    assert_eq!(conv["isGroupChat"], false);
    assert_eq!(conv["status"], "open");
    assert_ts(&conv["createdAt"]);
    // Only this test's messages from here on (its chatbot answers none).
    let id = conv["id"].as_str().unwrap();
    app.patch(&format!("/api/conversations/{id}/"), json!({"autoReplyEnabled": false})).await;

    let long = "a".repeat(150);
    app.post_message(&conv, &long).await;
    let m2 = app.post_message(&conv, "second question").await;
    let id = conv["id"].as_str().unwrap();
    let c = app.get(&format!("/api/conversations/{id}/")).await.body;
    assert_eq!(c["title"], "a".repeat(100), "first incoming message cut to 100 characters");
    assert_eq!(c["messageCount"], 2);
    assert_eq!(c["unreadMessagesCount"], 2);
    assert_eq!(c["lastMessage"]["id"], m2["id"]);
    assert_eq!(c["lastMessageCreatedAt"], m2["createdAt"]);

    let c = app.post(&format!("/api/conversations/{id}/read/"), json!({})).await.body;
    assert_eq!(c["unreadMessagesCount"], 0);
    assert_ts(&c["lastReadAt"]);
    // Agent messages are not unread.
    app.post("/api/messages/", json!({"conversation": id, "type": "outgoing", "content": "on it"})).await;
    assert_eq!(app.get(&format!("/api/conversations/{id}/")).await.body["unreadMessagesCount"], 0);

    let r = app
        .patch(
            &format!("/api/conversations/{id}/"),
            json!({"title": "Billing", "status": "resolved", "auto_reply_enabled": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["title"].as_str(), r.body["status"].as_str(), r.body["autoReplyEnabled"].as_bool()),
        (Some("Billing"), Some("resolved"), Some(false))
    );
    let r = app.patch(&format!("/api/conversations/{id}/"), json!({"status": "closed"})).await;
    assert_eq!(r.body, json!({"status": ["\"closed\" is not a valid choice."]}));

    assert_eq!(app.delete(&format!("/api/conversations/{id}/")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/conversations/{id}/")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/messages/?conversation={id}")).await.body["results"], json!([]));
});

backend_tests!(keyword_search, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = app.create_web_chat().await;
    let a = app.create_conversation(&wc).await;
    app.post_message(&a, "How do I EXPORT my records to Excel?").await;
    let b = app.create_conversation(&wc).await;
    app.post_message(&b, "Refund for order #123, please").await;
    app.post_message(&b, "我想导出记录").await;
    let c =
        app.post("/api/conversations/", json!({"webChat": wc["id"], "title": "Exports are slow"})).await.body;

    let ids = |body: serde_json::Value| -> Vec<String> {
        body["results"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
    };
    let s = |v: &serde_json::Value| v["id"].as_str().unwrap().to_string();
    assert_eq!(
        ids(app.get("/api/conversations/?keyword=export").await.body),
        vec![s(&c), s(&a)],
        "newest first, title or content, prefix"
    );
    assert_eq!(
        ids(app.get("/api/conversations/?keyword=EXPO%20excel").await.body),
        vec![s(&a)],
        "terms ANDed"
    );
    assert_eq!(ids(app.get("/api/conversations/?keyword=refund").await.body), vec![s(&b)]);
    assert_eq!(ids(app.get("/api/conversations/?keyword=导出").await.body), vec![s(&b)], "CJK by substring");
    assert_eq!(
        ids(app.get("/api/conversations/?keyword=xport").await.body),
        Vec::<String>::new(),
        "prefixes, not infixes"
    );
    assert_eq!(ids(app.get("/api/conversations/?keyword=%3F%21").await.body), Vec::<String>::new());
    let inbox = wc["id"].as_str().unwrap();
    assert_eq!(
        ids(app.get(&format!("/api/conversations/?keyword=refund&inbox={inbox}")).await.body),
        vec![s(&b)]
    );
    let other = "01900000-0000-7000-8000-000000000000";
    assert_eq!(ids(app.get(&format!("/api/conversations/?inbox={other}")).await.body), Vec::<String>::new());
    let r = app.get("/api/conversations/?inbox=nope").await;
    assert_eq!(r.body, json!({"inbox": ["Must be a valid UUID."]}));
});

backend_tests!(restart_keeps_all_data, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = app.create_web_chat().await;
    let conv = app.create_quiet_conversation(&wc).await;
    let mut sent = vec![];
    for i in 0..5 {
        sent.push(app.post_message(&conv, &format!("message {i}")).await);
    }
    let before = app.get(&format!("/api/conversations/{}/", conv["id"].as_str().unwrap())).await.body;
    let app = app.restart().await;
    let after = app.get(&format!("/api/conversations/{}/", conv["id"].as_str().unwrap())).await.body;
    assert_eq!(before, after);
    let list = app.get(&format!("/api/messages/?conversation={}", conv["id"].as_str().unwrap())).await.body;
    let got: Vec<_> = list["results"].as_array().unwrap().iter().rev().cloned().collect();
    assert_eq!(got, sent);
    assert_eq!(
        app.get("/api/conversations/?keyword=message").await.body["results"].as_array().unwrap().len(),
        1
    );
});
