//! Messages: every field of the contract, the sender rules, attachments, canvas and feedback.

use crate::helpers::{TestApp, assert_ts};
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use reqwest::StatusCode;
use serde_json::json;

backend_tests!(message_shape_and_inputs, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = app.create_web_chat().await;
    let contact = app.post("/api/contacts/", json!({"name": "Grace"})).await.body;
    let conv =
        app.post("/api/conversations/", json!({"webChat": wc["id"], "contact": contact["id"]})).await.body;
    let att = app
        .post("/api/attachments/", json!({"file": "https://x.example/doc.pdf", "type": "other"}))
        .await
        .body;
    let r = app
        .post(
            "/api/messages/",
            json!({
                "conversation": conv["id"],
                "content": "look",
                "contentPayload": {"b": [1, 2], "a": null},
                "query_metadata": {"lang": "en"},
                "attachments": [
                    {"id": att["id"]},
                    {"type": "image", "filename": "p.png", "file": "https://x.example/p.png"}
                ],
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let m = r.body;
    for field in [
        "id",
        "conversation",
        "sender",
        "type",
        "content",
        "contentPayload",
        "queryMetadata",
        "attachments",
        "canvas",
        "feedback",
        "citations",
        "citationNodes",
        "createdAt",
        "senderType",
        "metadata",
    ] {
        assert!(m.get(field).is_some(), "missing {field}");
    }
    assert_eq!(m["type"], "incoming");
    assert_eq!(m["senderType"], "contact");
    assert_eq!(m["sender"], json!({"id": contact["id"], "name": "Grace", "avatar": null}));
    assert_eq!(serde_json::to_string(&m["contentPayload"]).unwrap(), r#"{"b":[1,2],"a":null}"#);
    assert_eq!(m["queryMetadata"], json!({"lang": "en"}));
    assert_eq!(m["attachments"][0], att);
    assert_eq!(m["attachments"][1]["type"], "image");
    assert_eq!(m["canvas"], json!(null));
    assert_eq!(m["citations"], json!([]));
    assert_eq!(m["metadata"], json!({}));
    assert_ts(&m["createdAt"]);
    let fetched = app.get(&format!("/api/messages/{}/", m["id"].as_str().unwrap())).await.body;
    assert_eq!(fetched, m);

    // An agent's message: sender is not taken, the name is.
    let r = app
        .post("/api/messages/", json!({"conversation": conv["id"], "type": "outgoing", "content": "hi", "senderName": "Lin", "sender": contact["id"]}))
        .await;
    assert_eq!(r.body["sender"], json!({"id": null, "name": "Lin", "avatar": null}));
    assert_eq!(r.body["senderType"], "agent");

    // A canvas alone is a message.
    let canvas = json!({"name": "card", "canvasType": "product", "title": "Tent", "content": "2p"});
    let r = app
        .post("/api/messages/", json!({"conversation": conv["id"], "content": "", "canvas": canvas}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["canvas"], canvas);
});

backend_tests!(message_errors, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = app.create_web_chat().await;
    let conv = app.create_conversation(&wc).await;
    let missing = "01900000-0000-7000-8000-000000000000";
    let cases = [
        (json!({"content": "x"}), json!({"conversation": ["This field is required."]})),
        (json!({"conversation": "x", "content": "x"}), json!({"conversation": ["Must be a valid UUID."]})),
        (
            json!({"conversation": missing, "content": "x"}),
            json!({"conversation": [format!("Invalid pk \"{missing}\" - object does not exist.")]}),
        ),
        (
            json!({"conversation": conv["id"], "content": ""}),
            json!({"nonFieldErrors": ["A message needs content, an attachment or a canvas."]}),
        ),
        (
            json!({"conversation": conv["id"], "content": "x", "type": "sideways"}),
            json!({"type": ["\"sideways\" is not a valid choice."]}),
        ),
        (
            json!({"conversation": conv["id"], "canvas": {"name": "c"}}),
            json!({"canvas": {"canvasType": ["This field is required."], "title": ["This field is required."], "content": ["This field is required."]}}),
        ),
        (
            json!({"conversation": conv["id"], "content": "x", "attachments": [{"type": "image", "file": "https://a.example/x.png"}, {"type": "image"}]}),
            json!({"attachments": [{}, {"file": ["This field is required."]}]}),
        ),
        (
            json!({"conversation": conv["id"], "content": "x", "attachments": [{"id": missing}]}),
            json!({"attachments": [format!("Invalid pk \"{missing}\" - object does not exist.")]}),
        ),
        (
            json!({"conversation": conv["id"], "content": "x", "sender": missing}),
            json!({"sender": [format!("Invalid pk \"{missing}\" - object does not exist.")]}),
        ),
        (
            json!({"conversation": conv["id"], "content": "x", "contentPayload": [1]}),
            json!({"contentPayload": ["Expected a dictionary of items but got type \"list\"."]}),
        ),
    ];
    for (body, expected) in cases {
        let r = app.post("/api/messages/", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.body, expected, "{body}");
    }
    assert_eq!(
        app.get(&format!("/api/conversations/{}/", conv["id"].as_str().unwrap())).await.body["messageCount"],
        0,
        "nothing stored"
    );
});

backend_tests!(message_lookup_and_feedback, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = app.create_web_chat().await;
    let a = app.create_conversation(&wc).await;
    let b = app.create_conversation(&wc).await;
    let m = app.post_message(&a, "hello").await;
    let mid = m["id"].as_str().unwrap();
    let r = app.get(&format!("/api/messages/{mid}/?conversation={}", a["id"].as_str().unwrap())).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.get(&format!("/api/messages/{mid}/?conversation={}", b["id"].as_str().unwrap())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.patch(&format!("/api/messages/{mid}/"), json!({"feedback": "like"})).await;
    assert_eq!(r.body["feedback"], "like");
    let r = app.patch(&format!("/api/messages/{mid}/"), json!({"feedback": "meh"})).await;
    assert_eq!(r.body, json!({"feedback": ["\"meh\" is not a valid choice."]}));
    let r = app.patch(&format!("/api/messages/{mid}/"), json!({"feedback": null})).await;
    assert_eq!(r.body["feedback"], json!(null));
});
