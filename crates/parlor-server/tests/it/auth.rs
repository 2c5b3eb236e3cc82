//! Authentication, routing conventions and error shapes common to every endpoint.

use crate::helpers::TestApp;
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::json;

backend_tests!(auth_errors_follow_the_contract, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let r = app.call_as("", Method::GET, "/api/chatbots/", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, json!({"detail": "Authentication credentials were not provided."}));
    assert_eq!(r.headers["www-authenticate"], "Api-Key");

    let r = app.call_as("Basic abc", Method::GET, "/api/chatbots/", None).await;
    assert_eq!(r.body, json!({"detail": "Invalid API key format."}));
    let r = app.call_as("Api-Key", Method::GET, "/api/chatbots/", None).await;
    assert_eq!(r.body, json!({"detail": "Invalid API key format."}));
    let r = app.call_as("Api-Key prl_nope", Method::GET, "/api/chatbots/", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, json!({"detail": "Invalid API key."}));

    for scheme in ["Api-Key", "api-key", "Bearer", "Token", "TOKEN"] {
        let r = app.call_as(&format!("{scheme} {}", app.key), Method::GET, "/api/chatbots/", None).await;
        assert_eq!(r.status, StatusCode::OK, "{scheme}");
    }
});

backend_tests!(revoked_key_is_rejected, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let keys = app.db.store.list_api_keys(app.org).await.unwrap();
    app.db.store.revoke_api_key(keys[0].id).await.unwrap();
    let r = app.get("/api/chatbots/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, json!({"detail": "Invalid API key."}));
});

// A key in use is remembered for at most `KEY_CACHE_TTL` (revocation happens in another
// process, which cannot tell the server): once that has passed, the revoked key is refused.
backend_tests!(revoked_key_in_use_is_refused_after_the_cache_lifetime, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    assert_eq!(app.get("/api/chatbots/").await.status, StatusCode::OK);
    let keys = app.db.store.list_api_keys(app.org).await.unwrap();
    app.db.store.revoke_api_key(keys[0].id).await.unwrap();
    tokio::time::sleep(parlor_server::http::key_cache::KEY_CACHE_TTL + std::time::Duration::from_millis(50))
        .await;
    let r = app.get("/api/chatbots/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, json!({"detail": "Invalid API key."}));
});

backend_tests!(paths_under_both_prefixes_with_and_without_slash, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    for path in ["/api/chatbots/", "/api/chatbots", "/api/v1/chatbots/", "/api/v1/chatbots"] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.body["count"], 0);
    }
});

backend_tests!(unknown_routes_and_methods, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    // An unknown route is 404 before auth.
    let r = app.call_as("", Method::GET, "/api/nothing-here/", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Not found."}));
    let r = app.delete("/api/messages/").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body, json!({"detail": "Method \"DELETE\" not allowed."}));
    assert!(r.headers.get("allow").is_some(), "405 carries Allow");
    // A path id that is not a UUID is 404.
    let r = app.get("/api/chatbots/not-a-uuid/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body, json!({"detail": "Not found."}));
});

backend_tests!(bad_bodies_get_clear_errors, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let auth = format!("Api-Key {}", app.key);
    let send = |ct: &'static str, body: Vec<u8>| {
        app.client
            .post(app.url("/api/chatbots/"))
            .header("Authorization", &auth)
            .header("Content-Type", ct)
            .body(body)
    };
    let r = TestApp::read(send("application/json", b"{\"name\": ".to_vec()).send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["detail"].as_str().unwrap().starts_with("JSON parse error - "), "{}", r.body);

    let r = TestApp::read(send("application/json", b"[1, 2]".to_vec()).send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"nonFieldErrors": ["Invalid data. Expected a dictionary, but got list."]}));

    let r = TestApp::read(send("text/plain", b"hello".to_vec()).send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.body, json!({"detail": "Unsupported media type \"text/plain\" in request."}));

    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = TestApp::read(send("application/json", big.into_bytes()).send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body, json!({"detail": "Request body is too large."}));
    assert_eq!(r.headers["connection"], "close", "the unread body makes the connection unusable");

    // Nothing was stored by any of them.
    assert_eq!(app.get("/api/chatbots/").await.body["count"], 0);
});

backend_tests!(health_endpoints_are_public, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let r = app.call_as("", Method::GET, "/healthz", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.call_as("", Method::GET, "/readyz", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ok");
});

backend_tests!(responses_carry_a_request_id, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let r = app.get("/api/chatbots/").await;
    let id = r.headers["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let r = app.client.get(app.url("/healthz")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123", "a caller's id is kept");
});
