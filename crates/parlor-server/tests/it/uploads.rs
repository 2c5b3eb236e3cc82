//! Uploads: the round trip, the size limit (413, nothing stored), files served only to their
//! organization, the media type told from the bytes, messages that reference an upload, and
//! an uploaded image reaching a model as a `data:` URL.

use crate::helpers::{Resp, TestApp};
use base64::Engine as _;
use parlor_llm::{ProviderConfig, Providers};
use parlor_server::app::Limits;
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use parlor_testkit::fake_llm::{FakeLlm, Reply};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// A tiny PNG: the signature and an IHDR chunk are all the sniffer needs.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// One part of a multipart form.
struct Part<'a> {
    name: &'a str,
    filename: Option<&'a str>,
    content_type: Option<&'a str>,
    data: &'a [u8],
}

fn file<'a>(filename: &'a str, content_type: &'a str, data: &'a [u8]) -> Part<'a> {
    Part { name: "file", filename: Some(filename), content_type: Some(content_type), data }
}

fn text<'a>(name: &'a str, value: &'a str) -> Part<'a> {
    Part { name, filename: None, content_type: None, data: value.as_bytes() }
}

/// Encoded by hand (reqwest's `multipart` feature is not built), which also lets the tests
/// send what a browser would not.
fn form(parts: &[Part]) -> (String, Vec<u8>) {
    let boundary = "parlor-test-boundary-7d3f";
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"", p.name).as_bytes(),
        );
        if let Some(f) = p.filename {
            body.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = p.content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(p.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &TestApp, parts: &[Part<'_>]) -> Resp {
    let (content_type, body) = form(parts);
    let resp = app
        .client
        .post(app.url("/api/attachments-upload/"))
        .header("Authorization", format!("Api-Key {}", app.key))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload");
    TestApp::read(resp).await
}

/// GET with a key; the raw response (bodies here are files, not JSON).
async fn download(app: &TestApp, key: &str, url: &str) -> reqwest::Response {
    app.client.get(url).header("Authorization", format!("Api-Key {key}")).send().await.expect("download")
}

/// Every file below `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() { out.extend(files_under(&p)) } else { out.push(p) }
        }
    }
    out
}

backend_tests!(upload_round_trip, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let mut bytes = PNG.to_vec();
    bytes.extend((0..100_000u32).map(|i| (i % 251) as u8));
    let r = upload(&app, &[file("../../cat photo.png", "image/png", &bytes)]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(r.body["type"], "image");
    assert_eq!(r.body["filename"], "cat photo.png", "only the last segment of the client's name");
    assert_eq!(r.body["file"], app.url(&format!("/api/attachments-upload/{id}/file/")));

    let got = download(&app, &app.key, r.body["file"].as_str().unwrap()).await;
    assert_eq!(got.status(), StatusCode::OK);
    let h = got.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let disposition = h["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("inline;") && disposition.contains("cat photo.png"), "{disposition}");
    assert_eq!(got.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Kept in the data dir under a name of Parlor's, nothing left half-written.
    let stored = files_under(&app.db.data_dir.path().join("uploads"));
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(!stored[0].to_string_lossy().contains("cat"), "{stored:?}");
});

backend_tests!(too_large_is_413_and_stores_nothing, |db: TestDb| async move {
    let limits = Limits { upload: 4096, ..Limits::default() };
    let app = TestApp::spawn_with_limits(db, limits).await;
    let exact = vec![b'a'; 4096];
    let r = upload(&app, &[file("ok.txt", "text/plain", &exact)]).await;
    assert_eq!(r.status, StatusCode::CREATED, "exactly the limit is fine: {}", r.body);
    let uploads = app.db.data_dir.path().join("uploads");
    assert_eq!(files_under(&uploads).len(), 1);

    // One byte over, with the whole body's length declared.
    let over = vec![b'a'; 4097];
    let r = upload(&app, &[file("big.txt", "text/plain", &over)]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body, json!({"detail": "Request body is too large."}));

    // Far over, streamed without a length (chunked): cut off while it comes.
    let (content_type, body) = form(&[file("huge.bin", "application/octet-stream", &vec![7u8; 1 << 20])]);
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    let resp = app
        .client
        .post(app.url("/api/attachments-upload/"))
        .header("Authorization", format!("Api-Key {}", app.key))
        .header("Content-Type", content_type)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces)))
        .send()
        .await;
    // The server may answer and close before the client has sent everything; either way,
    // when an answer arrives it is 413.
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    // Nothing but the first file, and no partial file left.
    assert_eq!(files_under(&uploads).len(), 1, "{:?}", files_under(&uploads));
});

backend_tests!(files_are_served_only_to_their_organization, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let r = upload(&app, &[file("cat.png", "image/png", PNG)]).await;
    let url = r.body["file"].as_str().unwrap().to_string();
    let other = app.other_org_key().await;
    let got = download(&app, &other, &url).await;
    assert_eq!(got.status(), StatusCode::NOT_FOUND);
    assert_eq!(got.json::<Value>().await.unwrap(), json!({"detail": "Not found."}));
    // Without a key: 401, as everywhere.
    let got = app.client.get(&url).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::UNAUTHORIZED);
    // An external attachment has no file here; an unknown or malformed id neither.
    let ext =
        app.post("/api/attachments/", json!({"type": "image", "file": "https://example.com/a.png"})).await;
    let path = format!("/api/attachments-upload/{}/file/", ext.body["id"].as_str().unwrap());
    assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/attachments-upload/nope/file/").await.status, StatusCode::NOT_FOUND);
});

backend_tests!(the_bytes_decide_the_media_type, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    // Claimed a PNG, is a PDF: stored and served as a PDF, typed `other`.
    let r = upload(&app, &[file("photo.png", "image/png", b"%PDF-1.4\n1 0 obj\n")]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["type"], "other");
    let got = download(&app, &app.key, r.body["file"].as_str().unwrap()).await;
    assert_eq!(got.headers()["content-type"], "application/pdf");

    // Claimed HTML: served as plain text, to be downloaded, never rendered.
    let r = upload(&app, &[file("x.html", "text/html", b"<script>alert(1)</script>")]).await;
    let got = download(&app, &app.key, r.body["file"].as_str().unwrap()).await;
    assert_eq!(got.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(got.headers()["content-disposition"].to_str().unwrap().starts_with("attachment;"));

    // A `type` given wins over the default; one that is no choice is a field error.
    let r = upload(&app, &[text("type", "sticker"), file("s.png", "image/png", PNG)]).await;
    assert_eq!(r.body["type"], "sticker");
    let r = upload(&app, &[file("s.png", "image/png", PNG), text("type", "gif")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body, json!({"type": ["\"gif\" is not a valid choice."]}));

    // No file, an empty one, a plain field named `file`, or no multipart at all.
    let r = upload(&app, &[text("type", "image")]).await;
    assert_eq!(r.body, json!({"file": ["No file was submitted."]}));
    let r = upload(&app, &[file("e.png", "image/png", b"")]).await;
    assert_eq!(r.body, json!({"file": ["The submitted file is empty."]}));
    let r = upload(&app, &[text("file", "hello")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["file"][0].as_str().unwrap().contains("not a file"));
    let r = app.post("/api/attachments-upload/", json!({"file": "x"})).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Only the three accepted files are on disk; the refused ones left nothing.
    assert_eq!(files_under(&app.db.data_dir.path().join("uploads")).len(), 3);
});

backend_tests!(messages_reference_an_upload_by_id, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let web_chat = app.create_web_chat().await;
    let conv = app.create_conversation(&web_chat).await;
    let up = upload(&app, &[file("cat.png", "image/png", PNG)]).await.body;
    let r = app
        .post(
            "/api/messages/",
            json!({"conversation": conv["id"], "content": "", "attachments": [{"id": up["id"]}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let a = &r.body["attachments"][0];
    assert_eq!((&a["id"], &a["type"], &a["filename"]), (&up["id"], &json!("image"), &json!("cat.png")));
});

backend_tests!(uploaded_images_reach_the_model_inline, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let mut providers = Providers::empty();
    let config = ProviderConfig::openai(&fake.base_url()).unwrap().with_timeout(Duration::from_secs(5));
    providers.insert_config("fake", config).unwrap();
    let app = TestApp::spawn_with(db, move |s| s.with_providers(providers)).await;
    let bot = app.post("/api/chatbots/", json!({"name": "Eyes", "model": "fake/vision"})).await.body;
    let image = upload(&app, &[file("cat.png", "image/png", PNG)]).await.body;
    // Typed `image` by its client, a PDF by its bytes: not sent as an image.
    let pdf = upload(&app, &[text("type", "image"), file("doc.png", "image/png", b"%PDF-1.4\n")]).await.body;
    fake.push(Reply::stream(&["A cat."]));
    let r = app
        .post(
            &format!("/api/chatbots/{}/completions/", bot["id"].as_str().unwrap()),
            json!({"message": {"content": "What is this?", "attachments": [
                {"id": image["id"]},
                {"id": pdf["id"]},
                {"type": "image", "file": "https://example.com/dog.jpg"},
            ]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["content"], "A cat.");
    let req = &fake.requests()[0];
    let question = req.messages().last().unwrap().clone();
    let parts = question["content"].as_array().expect("parts");
    assert_eq!(parts[0], json!({"type": "text", "text": "What is this?"}));
    let data = base64::engine::general_purpose::STANDARD.encode(PNG);
    assert_eq!(parts[1]["image_url"]["url"], format!("data:image/png;base64,{data}"));
    assert_eq!(parts[2]["image_url"]["url"], "https://example.com/dog.jpg");
    assert_eq!(parts.len(), 3, "{question}");
});
