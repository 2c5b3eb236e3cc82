//! Two `parlor serve` processes on one PostgreSQL database: either answers any request the
//! same; a message posted to one reaches a subscriber on the other; a reply generated on one
//! is followed to its end from the other after the first client dropped mid-reply.
//! PostgreSQL only (SQLite is one process by design).

use crate::events::{follow_reply, slow_reply};
use crate::sse::SseReader;
use parlor_testkit::db::{Backend, TestDb};
use parlor_testkit::fake_llm::FakeLlm;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(url: &str, data_dir: &std::path::Path, config: &std::path::Path) -> Instance {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", url, "--data-dir"])
        .arg(data_dir)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn parlor");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "parlor did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Instance { child, base: format!("http://127.0.0.1:{port}") }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_database() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        eprintln!("skipped: {} is not set", parlor_testkit::db::PG_URL_VAR);
        return;
    };
    let url = db.database_url.clone().expect("a PostgreSQL URL");
    let org = db.store.create_org("acme").await.unwrap();
    let key = parlor_server::keys::generate();
    db.store.create_api_key(org.id, "k", &parlor_server::keys::hash(&key), "prl_x").await.unwrap();
    let fake = FakeLlm::start().await;
    let config = db.data_dir.path().join("parlor.toml");
    std::fs::write(
        &config,
        format!("[providers.fake]\nkind = \"openai\"\nbase_url = \"{}\"\n", fake.base_url()),
    )
    .unwrap();
    let a = start(&url, &db.data_dir.path().join("a"), &config);
    let b = start(&url, &db.data_dir.path().join("b"), &config);
    let client = reqwest::Client::new();
    let auth = format!("Api-Key {key}");
    let call = |method: reqwest::Method, base: &str, path: &str, body: Option<Value>| {
        let mut req = client.request(method, format!("{base}{path}")).header("Authorization", &auth);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
    };

    // Set up through A, read through B: the same answers.
    let bot: Value =
        call(reqwest::Method::POST, &a.base, "/api/chatbots/", Some(json!({"name": "B", "model": "fake/m"})))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let conv: Value = call(
        reqwest::Method::POST,
        &a.base,
        "/api/conversations/",
        Some(json!({"webChat": bot["apiWebChatId"]})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let cid = conv["id"].as_str().unwrap().to_string();
    // Auto-reply off: the replies here are the completions ones, scripted one by one.
    let r = call(
        reqwest::Method::PATCH,
        &a.base,
        &format!("/api/conversations/{cid}/"),
        Some(json!({"autoReplyEnabled": false})),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    for path in
        [format!("/api/conversations/{cid}/"), "/api/chatbots/".to_string(), "/api/web-chats/".to_string()]
    {
        let x: Value = call(reqwest::Method::GET, &a.base, &path, None).await.unwrap().json().await.unwrap();
        let y: Value = call(reqwest::Method::GET, &b.base, &path, None).await.unwrap().json().await.unwrap();
        let strip = |mut v: Value| {
            // Page links name the host they were asked on.
            for k in ["next", "previous"] {
                if v.get(k).is_some_and(|l| !l.is_null()) {
                    v[k] = json!("link");
                }
            }
            v
        };
        assert_eq!(strip(x), strip(y), "{path}");
    }

    // A message posted to A reaches a subscriber on B.
    let resp = client
        .get(format!("{}/api/conversations/{cid}/events/", b.base))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    let mut on_b = SseReader::new(resp);
    let m: Value = call(
        reqwest::Method::POST,
        &a.base,
        "/api/messages/",
        Some(json!({"conversation": cid, "content": "from A"})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let e = on_b.next().await.unwrap();
    assert_eq!(e.event.as_deref(), Some("message"));
    assert_eq!(e.data["id"], m["id"]);

    // A reply generated on A, its client dropped after the first piece, followed to the end
    // on B.
    fake.push(slow_reply(&["one ", "two ", "three ", "four ", "five"]));
    let resp = call(
        reqwest::Method::POST,
        &a.base,
        &format!("/api/chatbots/{}/completions/", bot["id"].as_str().unwrap()),
        Some(json!({"conversation": cid, "message": {"content": "count"}, "isStreaming": true})),
    )
    .await
    .unwrap();
    let mut on_a = SseReader::new(resp);
    let first = on_a.next().await.unwrap();
    let bot_id = first.data["botMessageId"].as_str().unwrap().to_string();
    let piece = on_a.next().await.unwrap();
    assert_eq!(piece.data["content"], "one ");
    let last_id = piece.id.clone().unwrap();
    drop(on_a);
    let resp = client
        .get(format!("{}/api/conversations/{cid}/events/", b.base))
        .header("Authorization", &auth)
        .header("Last-Event-ID", &last_id)
        .send()
        .await
        .unwrap();
    let mut resumed = SseReader::new(resp);
    let (rest, message) = follow_reply(&mut resumed, &bot_id).await;
    assert_eq!(rest, "two three four five");
    assert_eq!(message["content"], "one two three four five");
    // And B's own live subscriber saw the question and the whole reply too.
    let (text, _) = follow_reply(&mut on_b, &bot_id).await;
    assert!(text.ends_with("four five"), "{text}");

    // An instance stopped gracefully mid-reply finishes and stores it before it exits.
    fake.push(slow_reply(&["a ", "b ", "c ", "d ", "e ", "f"]));
    let resp = call(
        reqwest::Method::POST,
        &a.base,
        &format!("/api/chatbots/{}/completions/", bot["id"].as_str().unwrap()),
        Some(json!({"conversation": cid, "message": {"content": "letters"}, "isStreaming": true})),
    )
    .await
    .unwrap();
    let mut on_a = SseReader::new(resp);
    let bot_id = on_a.next().await.unwrap().data["botMessageId"].as_str().unwrap().to_string();
    on_a.next().await.unwrap();
    let mut a = a;
    Command::new("kill").args(["-TERM", &a.child.id().to_string()]).status().unwrap();
    let status = a.child.wait().unwrap();
    assert!(status.success(), "graceful exit: {status:?}");
    let stored: Value = call(reqwest::Method::GET, &b.base, &format!("/api/messages/{bot_id}/"), None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["content"], "a b c d e f");
    assert_eq!(stored["metadata"]["finishReason"], "stop");
    drop((a, b));
}
