//! Chatbots, web chats, inboxes, contacts and attachments: the CRUD a client sets up
//! conversations with.

use crate::helpers::{TestApp, assert_ts};
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use reqwest::StatusCode;
use serde_json::json;

backend_tests!(chatbot_crud, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let r = app
        .post("/api/chatbots/", json!({"name": "Helper", "welcome_message": "Hi", "historyMessages": 4}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let bot = r.body;
    for field in [
        "id",
        "name",
        "instructions",
        "welcomeMessage",
        "fallbackMessage",
        "model",
        "temperature",
        "historyMessages",
        "webhookUrl",
        "apiWebChatId",
        "createdAt",
        "updatedAt",
    ] {
        assert!(bot.get(field).is_some(), "missing {field}");
    }
    assert_eq!(bot["welcomeMessage"], "Hi", "snake_case request keys are accepted");
    assert_eq!(bot["historyMessages"], 4);
    assert_eq!(bot["model"], json!(null));
    assert_ts(&bot["createdAt"]);
    let id = bot["id"].as_str().unwrap();

    // Its API web chat exists.
    let wc = app.get(&format!("/api/web-chats/{}/", bot["apiWebChatId"].as_str().unwrap())).await;
    assert_eq!(wc.status, StatusCode::OK);
    assert_eq!(wc.body["accessType"], "api");

    let r = app.patch(&format!("/api/chatbots/{id}/"), json!({"instructions": "Be brief."})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["instructions"], "Be brief.");
    assert_eq!(r.body["name"], "Helper");

    let r = app.put(&format!("/api/chatbots/{id}/"), json!({"instructions": "x"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"name": ["This field is required."]}));

    let r = app.delete(&format!("/api/chatbots/{id}/")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/chatbots/{id}/")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/web-chats/").await.body["count"], 0, "its web chats went with it");
});

backend_tests!(chatbot_validation_reports_every_field, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let r = app
        .post(
            "/api/chatbots/",
            json!({"temperature": 5, "historyMessages": "many", "model": "nope/x", "webhookUrl": "ftp://x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["name"], json!(["This field is required."]));
    assert_eq!(r.body["temperature"], json!(["Ensure this value is less than or equal to 2."]));
    assert_eq!(r.body["historyMessages"], json!(["A valid integer is required."]));
    assert!(r.body["model"][0].as_str().unwrap().starts_with("Unknown provider \"nope\""));
    assert_eq!(r.body["webhookUrl"], json!(["Enter a valid URL."]));
    let r = app.post("/api/chatbots/", json!({"name": "  "})).await;
    assert_eq!(r.body, json!({"name": ["This field may not be blank."]}));
    let r = app.post("/api/chatbots/", json!({"name": null})).await;
    assert_eq!(r.body, json!({"name": ["This field may not be null."]}));
});

backend_tests!(web_chats_and_inboxes, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let bot = app.create_chatbot("B").await;
    let r = app.post("/api/web-chats/", json!({"name": "Site"})).await;
    assert_eq!(r.body, json!({"chatbot": ["This field is required."]}));
    let r = app.post("/api/web-chats/", json!({"name": "Site", "chatbot": "nope"})).await;
    assert_eq!(r.body, json!({"chatbot": ["Must be a valid UUID."]}));
    let missing = "01900000-0000-7000-8000-000000000000";
    let r = app.post("/api/web-chats/", json!({"name": "Site", "chatbot": missing})).await;
    assert_eq!(r.body, json!({"chatbot": [format!("Invalid pk \"{missing}\" - object does not exist.")]}));
    let r = app
        .post(
            "/api/web-chats/",
            json!({"name": "Site", "chatbot": bot["id"], "allowedOrigins": ["https://Example.com/"], "accessType": "x"}),
        )
        .await;
    assert_eq!(r.body, json!({"accessType": ["\"x\" is not a valid choice."]}));
    let r = app
        .post(
            "/api/web-chats/",
            json!({"name": "Site", "chatbot": bot["id"], "allowedOrigins": ["https://Example.com/"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["allowedOrigins"], json!(["https://example.com"]));
    assert_eq!(r.body["accessType"], "web");
    let wc = r.body;

    // Unread conversations show on the inbox.
    let conv = app.create_conversation(&wc).await;
    app.post_message(&conv, "hello").await;
    let inbox = app.get(&format!("/api/inboxes/{}/", wc["id"].as_str().unwrap())).await.body;
    assert_eq!(inbox["channelType"], "web");
    assert_eq!(inbox["channel"], json!({"id": wc["id"], "name": "Site"}));
    assert_eq!(inbox["unreadConversationsCount"], 1);
    let list = app.get(&format!("/api/inboxes/?chatbot={}", bot["id"].as_str().unwrap())).await.body;
    assert_eq!(list["count"], 2, "the API web chat and the site: {list}");
    assert_eq!(app.get("/api/inboxes/?channelType=email").await.body["count"], 0);
});

backend_tests!(contacts_crud_and_query, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let r = app
        .post(
            "/api/contacts/",
            json!({"name": "Ada Lovelace", "email": "ada@example.com", "queryMetadata": {"Z": 1, "a": 2}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        serde_json::to_string(&r.body["queryMetadata"]).unwrap(),
        r#"{"Z":1,"a":2}"#,
        "keys untouched, in order"
    );
    let ada = r.body;
    let r = app.post("/api/contacts/", json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.body["name"].as_str().unwrap().starts_with("Visitor "), "{}", r.body);
    let r = app.post("/api/contacts/", json!({"email": "not-an-email"})).await;
    assert_eq!(r.body, json!({"email": ["Enter a valid email address."]}));

    let found = app.get("/api/contacts/?query=LOVE").await.body;
    assert_eq!(found["count"], 1);
    assert_eq!(found["results"][0]["id"], ada["id"]);
    let found = app.get("/api/contacts/?query=example.COM").await.body;
    assert_eq!(found["count"], 1);

    let id = ada["id"].as_str().unwrap();
    let r = app.patch(&format!("/api/contacts/{id}/"), json!({"phoneNumber": "+33 1"})).await;
    assert_eq!(r.body["phoneNumber"], "+33 1");

    // A contact's conversations stay when it is deleted, without it.
    let wc = app.create_web_chat().await;
    let conv = app.post("/api/conversations/", json!({"webChat": wc["id"], "contact": id})).await.body;
    let c = app.get(&format!("/api/contacts/{id}/")).await.body;
    assert_eq!(c["inboxes"], json!([{"id": wc["id"], "name": "Site"}]));
    assert_eq!(app.delete(&format!("/api/contacts/{id}/")).await.status, StatusCode::NO_CONTENT);
    let conv = app.get(&format!("/api/conversations/{}/", conv["id"].as_str().unwrap())).await;
    assert_eq!(conv.status, StatusCode::OK);
    assert_eq!(conv.body["contact"], json!(null));
});

backend_tests!(attachments_register_by_url, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let r = app
        .post("/api/attachments/", json!({"file": "https://cdn.example.com/a/cat.png", "type": "image"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["filename"], "cat.png");
    assert_eq!(r.body["type"], "image");
    let r = app.post("/api/attachments/", json!({"file": "not a url", "type": "gif"})).await;
    assert_eq!(r.body, json!({"type": ["\"gif\" is not a valid choice."], "file": ["Enter a valid URL."]}));
});

backend_tests!(organizations_are_isolated, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = app.create_web_chat().await;
    let conv = app.create_quiet_conversation(&wc).await;
    let msg = app.post_message(&conv, "secret plans").await;
    let other = format!("Api-Key {}", app.other_org_key().await);
    let get = |path: String| {
        let other = other.clone();
        let app = &app;
        async move { app.call_as(&other, reqwest::Method::GET, &path, None).await }
    };
    let conv_id = conv["id"].as_str().unwrap();
    assert_eq!(get(format!("/api/conversations/{conv_id}/")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(format!("/api/messages/{}/", msg["id"].as_str().unwrap())).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(format!("/api/web-chats/{}/", wc["id"].as_str().unwrap())).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(format!("/api/chatbots/{}/", wc["chatbot"].as_str().unwrap())).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get("/api/conversations/".into()).await.body["results"], json!([]));
    assert_eq!(get("/api/conversations/?keyword=secret".into()).await.body["results"], json!([]));
    assert_eq!(get(format!("/api/messages/?conversation={conv_id}")).await.body["results"], json!([]));
    assert_eq!(get("/api/contacts/".into()).await.body["count"], 0);
    let r = app
        .call_as(
            &other,
            reqwest::Method::POST,
            "/api/messages/",
            Some(json!({"conversation": conv_id, "content": "hi"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"conversation": [format!("Invalid pk \"{conv_id}\" - object does not exist.")]})
    );
    let r = app
        .call_as(&other, reqwest::Method::POST, "/api/conversations/", Some(json!({"webChat": wc["id"]})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // And the first organization still sees everything.
    assert_eq!(app.get(&format!("/api/conversations/{conv_id}/")).await.body["messageCount"], 1);
});
