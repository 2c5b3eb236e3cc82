//! The web chat widget's visitor API: sessions scoped to a visitor's own conversations,
//! replies streamed as completions stream them, agents' messages live, `allowedOrigins` with
//! CORS, inactive and API-only web chats refused, rate limits, image uploads, and the
//! widget's assets.

use crate::helpers::{Resp, TestApp};
use crate::sse::SseReader;
use parlor_server::app::Limits;
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A request to the visitor API of web chat `wc` (`path` relative to it), as a page at
/// `origin` would send it.
async fn visit(
    app: &TestApp,
    wc: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    origin: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let mut req = app.client.request(method, app.url(&format!("/api/widget/{wc}{path}")));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Visitor {t}"));
    }
    if let Some(o) = origin {
        req = req.header("Origin", o);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    TestApp::read(req.send().await.unwrap()).await
}

/// A new visitor of `wc`: its token.
async fn session(app: &TestApp, wc: &str) -> String {
    let r = visit(app, wc, Method::POST, "/sessions/", None, None, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["token"].as_str().unwrap().to_string()
}

/// A conversation of the visitor: its id.
async fn conversation(app: &TestApp, wc: &str, token: &str) -> String {
    let r = visit(app, wc, Method::POST, "/conversations/", Some(token), None, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

backend_tests!(a_visitor_reaches_only_its_own_conversations, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = id(&app.create_web_chat().await);
    let other_wc = id(&app.create_web_chat().await);

    let r = visit(&app, &wc, Method::POST, "/sessions/", None, None, None).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let a = r.body["token"].as_str().unwrap().to_string();
    assert!(a.starts_with("pvs_"), "{a}");
    assert!(r.body["contact"]["name"].as_str().unwrap().starts_with("Visitor "));
    let me = visit(&app, &wc, Method::GET, "/sessions/current/", Some(&a), None, None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["contact"], r.body["contact"]);
    assert!(me.body.get("token").is_none(), "the token is shown once");

    let conv = conversation(&app, &wc, &a).await;
    let sent = visit(
        &app,
        &wc,
        Method::POST,
        &format!("/conversations/{conv}/messages/"),
        Some(&a),
        None,
        Some(json!({"content": "Hello there"})),
    )
    .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert_eq!(sent.body["done"], true);
    assert_eq!(sent.body["userMessage"]["content"], "Hello there");
    assert_eq!(sent.body["userMessage"]["sender"]["id"], r.body["contact"]["id"]);
    assert_eq!(sent.body["botMessage"]["senderType"], "bot");
    let history =
        visit(&app, &wc, Method::GET, &format!("/conversations/{conv}/messages/"), Some(&a), None, None)
            .await;
    assert_eq!(history.status, StatusCode::OK);
    assert_eq!(history.body["count"], 2);
    let list = visit(&app, &wc, Method::GET, "/conversations/", Some(&a), None, None).await;
    assert_eq!(list.body["results"].as_array().unwrap().len(), 1);

    // Another visitor sees none of it: the conversation does not exist for it.
    let b = session(&app, &wc).await;
    for (method, path) in [
        (Method::GET, format!("/conversations/{conv}/messages/")),
        (Method::POST, format!("/conversations/{conv}/messages/")),
        (Method::GET, format!("/conversations/{conv}/events/")),
    ] {
        let body = (method == Method::POST).then(|| json!({"content": "hi"}));
        let r = visit(&app, &wc, method, &path, Some(&b), None, body).await;
        assert_eq!((r.status, &r.body), (StatusCode::NOT_FOUND, &json!({"detail": "Not found."})), "{path}");
    }
    let list = visit(&app, &wc, Method::GET, "/conversations/", Some(&b), None, None).await;
    assert_eq!(list.body["results"], json!([]));

    // The token opens nothing else: not another web chat, not the organization's API.
    let r = visit(&app, &other_wc, Method::GET, "/conversations/", Some(&a), None, None).await;
    assert_eq!((r.status, &r.body["detail"]), (StatusCode::UNAUTHORIZED, &json!("Invalid visitor token.")));
    assert_eq!(r.headers["www-authenticate"], "Visitor");
    for auth in [format!("Visitor {a}"), format!("Api-Key {a}"), format!("Bearer {a}")] {
        let r = app.call_as(&auth, Method::GET, "/api/conversations/", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth}");
    }
    // No token, a made-up one, a key where a token goes.
    let r = visit(&app, &wc, Method::GET, "/conversations/", None, None, None).await;
    assert_eq!(r.body, json!({"detail": "Authentication credentials were not provided."}));
    let r = visit(&app, &wc, Method::GET, "/conversations/", Some("pvs_madeup"), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .call_as(
            &format!("Api-Key {}", app.key),
            Method::GET,
            &format!("/api/widget/{wc}/conversations/"),
            None,
        )
        .await;
    assert_eq!(r.body, json!({"detail": "Invalid visitor token format."}));

    // The organization sees the visitor's conversation, with its contact.
    let org = app.get(&format!("/api/conversations/{conv}/")).await;
    assert_eq!(org.body["contact"]["id"], r_contact(&me));
    // Deleting the contact ends the session.
    app.delete(&format!("/api/contacts/{}/", r_contact(&me).as_str().unwrap())).await;
    let r = visit(&app, &wc, Method::GET, "/sessions/current/", Some(&a), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
});

fn r_contact(session: &Resp) -> Value {
    session.body["contact"]["id"].clone()
}

backend_tests!(replies_stream_as_completions_do_and_agents_arrive_live, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = id(&app.create_web_chat().await);
    let token = session(&app, &wc).await;
    let conv = conversation(&app, &wc, &token).await;
    let events = app
        .client
        .get(app.url(&format!("/api/widget/{wc}/conversations/{conv}/events/")))
        .header("Authorization", format!("Visitor {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let mut events = SseReader::new(events);

    let resp = app
        .client
        .post(app.url(&format!("/api/widget/{wc}/conversations/{conv}/messages/")))
        .header("Authorization", format!("Visitor {token}"))
        .json(&json!({"content": "What can you do?", "isStreaming": true}))
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut stream = SseReader::new(resp);
    let first = stream.next().await.unwrap();
    assert_eq!(first.data["conversationId"], conv);
    assert_eq!((first.data["content"].as_str(), first.data["done"].as_bool()), (Some(""), Some(false)));
    let bot = first.data["botMessageId"].as_str().unwrap().to_string();
    assert_eq!(first.id.as_deref(), Some(format!("{bot}:0").as_str()));
    let mut text = String::new();
    let last = loop {
        let e = stream.next().await.unwrap();
        if e.data["done"] == true {
            break e;
        }
        text.push_str(e.data["content"].as_str().unwrap());
    };
    assert!(!text.is_empty());
    assert_eq!(last.data["botMessage"]["content"], text);

    // The visitor's events carry its own message, the reply, then an agent's message.
    let (_, reply) = crate::events::follow_reply(&mut events, &bot).await;
    assert_eq!(reply["content"], text);
    let agent = app
        .post("/api/messages/", json!({"conversation": conv, "type": "outgoing", "content": "Hi, I am **Ann**.", "senderName": "Ann"}))
        .await;
    assert_eq!(agent.status, StatusCode::CREATED);
    loop {
        let e = events.next().await.unwrap();
        if e.event.as_deref() == Some("message") && e.data["id"] == agent.body["id"] {
            assert_eq!((&e.data["senderType"], &e.data["sender"]["name"]), (&json!("agent"), &json!("Ann")));
            break;
        }
    }

    // With auto-reply off (an agent took over) the message is stored and nothing answers.
    app.patch(&format!("/api/conversations/{conv}/"), json!({"autoReplyEnabled": false})).await;
    let r = visit(
        &app,
        &wc,
        Method::POST,
        &format!("/conversations/{conv}/messages/"),
        Some(&token),
        None,
        Some(json!({"content": "Thanks Ann", "isStreaming": true})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["userMessage"]["content"], "Thanks Ann");
    // Validation speaks DRF.
    let r = visit(
        &app,
        &wc,
        Method::POST,
        &format!("/conversations/{conv}/messages/"),
        Some(&token),
        None,
        Some(json!({"content": " "})),
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::BAD_REQUEST, json!({"content": ["This field may not be blank."]}))
    );
});

backend_tests!(allowed_origins_are_enforced_with_cors, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = id(&app.create_web_chat().await);
    let shop = "https://shop.example";
    let evil = "https://evil.example";

    // Empty list: any origin, echoed back.
    let r = visit(&app, &wc, Method::GET, "/", None, Some(evil), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["access-control-allow-origin"], evil);
    assert_eq!(r.body["id"], wc);

    app.patch(&format!("/api/web-chats/{wc}/"), json!({"allowedOrigins": [shop]})).await;
    let token = session(&app, &wc).await; // no Origin: not a browser page across origins
    for (method, path) in [
        (Method::GET, "/"),
        (Method::POST, "/sessions/"),
        (Method::GET, "/conversations/"),
        (Method::OPTIONS, "/sessions/"),
    ] {
        let r = visit(&app, &wc, method.clone(), path, Some(&token), Some(evil), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(r.body, json!({"detail": "This origin is not allowed to use this web chat."}));
        assert!(r.headers.get("access-control-allow-origin").is_none(), "a refused page may not read it");
    }
    // The allowed origin: a preflight, then the request, both readable by the page.
    let pre = app
        .client
        .request(Method::OPTIONS, app.url(&format!("/api/widget/{wc}/conversations/")))
        .header("Origin", shop)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), StatusCode::NO_CONTENT);
    assert_eq!(pre.headers()["access-control-allow-origin"], shop);
    assert!(pre.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    assert!(pre.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    let r =
        visit(&app, &wc, Method::GET, "/conversations/", Some(&token), Some("https://SHOP.example/"), None)
            .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["vary"], "Origin");
    // Parlor's own hosted page is allowed whatever the list says.
    let own = format!("http://{}", app.addr);
    let r = visit(&app, &wc, Method::GET, "/", None, Some(&own), None).await;
    assert_eq!(r.status, StatusCode::OK);
});

backend_tests!(inactive_unknown_and_api_web_chats_are_refused, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let web_chat = app.create_web_chat().await;
    let wc = id(&web_chat);
    let token = session(&app, &wc).await;
    app.patch(&format!("/api/web-chats/{wc}/"), json!({"isActive": false})).await;
    for (method, path) in [(Method::GET, "/"), (Method::POST, "/sessions/"), (Method::GET, "/conversations/")]
    {
        let r = visit(&app, &wc, method, path, Some(&token), Some("https://a.example"), None).await;
        assert_eq!(
            (r.status, &r.body),
            (StatusCode::FORBIDDEN, &json!({"detail": "This web chat is not active."}))
        );
        assert_eq!(r.headers["access-control-allow-origin"], "https://a.example", "the widget can say why");
    }
    let unknown = "0190a7c4-0000-7000-8000-000000000000";
    let r = visit(&app, unknown, Method::GET, "/", None, None, None).await;
    assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, json!({"detail": "Not found."})));
    let r = visit(&app, "not-a-uuid", Method::POST, "/sessions/", None, None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A chatbot's API web chat is not a widget.
    let bot = app.get(&format!("/api/chatbots/{}/", web_chat["chatbot"].as_str().unwrap())).await;
    let api_wc = bot.body["apiWebChatId"].as_str().unwrap();
    let r = visit(&app, api_wc, Method::POST, "/sessions/", None, None, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
});

backend_tests!(visitor_requests_are_rate_limited, |db: TestDb| async move {
    let limits = Limits { widget_per_session: 3, widget_per_ip: 8, ..Limits::default() };
    let app = TestApp::spawn_with_limits(db, limits).await;
    let wc = id(&app.create_web_chat().await);
    let token = session(&app, &wc).await; // 1 of the IP's 8
    for _ in 0..3 {
        let r = visit(&app, &wc, Method::GET, "/conversations/", Some(&token), None, None).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r =
        visit(&app, &wc, Method::GET, "/conversations/", Some(&token), Some("https://a.example"), None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body["detail"].as_str().unwrap().starts_with("Request was throttled. Expected available in"));
    assert!(r.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(r.headers["access-control-allow-origin"], "https://a.example");
    // Per IP: new sessions too, until the address's budget is spent.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(visit(&app, &wc, Method::POST, "/sessions/", None, None, None).await.status);
    }
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    // The organization's API is not throttled by the widget's limits.
    assert_eq!(app.get("/api/web-chats/").await.status, StatusCode::OK);
});

/// A multipart body with one `file` field.
fn multipart(filename: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "parlor-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &TestApp, wc: &str, token: &str, filename: &str, bytes: &[u8]) -> Resp {
    let (ct, body) = multipart(filename, bytes);
    let req = app
        .client
        .post(app.url(&format!("/api/widget/{wc}/uploads/")))
        .header("Authorization", format!("Visitor {token}"))
        .header("Content-Type", ct)
        .body(body);
    TestApp::read(req.send().await.unwrap()).await
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

backend_tests!(visitors_upload_images_only_their_own_read_back, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = id(&app.create_web_chat().await);
    let a = session(&app, &wc).await;
    app.patch(&format!("/api/web-chats/{wc}/"), json!({"enableFileUpload": false})).await;
    let r = upload(&app, &wc, &a, "dot.png", PNG).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::FORBIDDEN, json!({"detail": "File upload is not enabled for this web chat."}))
    );
    app.patch(&format!("/api/web-chats/{wc}/"), json!({"enableFileUpload": true})).await;

    let r = upload(&app, &wc, &a, "page.png", b"<svg onload=alert(1)>").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["file"][0].as_str().unwrap().starts_with("Upload a valid image."));
    let r = upload(&app, &wc, &a, "dot.png", PNG).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!((&r.body["type"], &r.body["filename"]), (&json!("image"), &json!("dot.png")));
    let attachment = id(&r.body);

    // The owner reads it back as the sniffed type; another visitor cannot; the org can.
    let file = |auth: String| {
        app.client
            .get(app.url(&format!("/api/widget/{wc}/uploads/{attachment}/")))
            .header("Authorization", auth)
            .send()
    };
    let mine = file(format!("Visitor {a}")).await.unwrap();
    assert_eq!(mine.status(), StatusCode::OK);
    assert_eq!(mine.headers()["content-type"], "image/png");
    assert_eq!(mine.headers()["x-content-type-options"], "nosniff");
    assert_eq!(&mine.bytes().await.unwrap()[..], PNG);
    let b = session(&app, &wc).await;
    assert_eq!(file(format!("Visitor {b}")).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(file(format!("Api-Key {}", app.key)).await.unwrap().status(), StatusCode::OK);
    let other = app.other_org_key().await;
    assert_eq!(file(format!("Api-Key {other}")).await.unwrap().status(), StatusCode::NOT_FOUND);

    // It goes with a message of its owner, and with no one else's.
    let conv = conversation(&app, &wc, &a).await;
    let send = |token: String, conv: String| {
        let app = &app;
        let wc = wc.clone();
        let attachment = attachment.clone();
        async move {
            visit(
                app,
                &wc,
                Method::POST,
                &format!("/conversations/{conv}/messages/"),
                Some(&token),
                None,
                Some(json!({"content": "", "attachments": [{"id": attachment}]})),
            )
            .await
        }
    };
    let r = send(a.clone(), conv.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["userMessage"]["attachments"][0]["id"], json!(attachment));
    let b_conv = conversation(&app, &wc, &b).await;
    let r = send(b.clone(), b_conv).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["attachments"][0].as_str().unwrap().starts_with("Invalid pk"));
});

backend_tests!(the_script_and_the_hosted_page_are_served, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let wc = id(&app.create_web_chat().await);
    let r = app.client.get(app.url(&format!("/widget/{wc}.js"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(r.text().await.unwrap().contains("attachShadow"));
    let r = app.client.get(app.url(&format!("/chat/{wc}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert!(r.text().await.unwrap().contains(&format!("src=\"/widget/{wc}.js\" data-mode=\"page\"")));
    for path in ["/widget/0190a7c4-0000-7000-8000-000000000000.js", &format!("/widget/{wc}"), "/chat/nope"] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
});
