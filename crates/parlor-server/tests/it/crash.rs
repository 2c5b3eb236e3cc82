//! Crash safety: `parlor serve` (a real process) is killed with SIGKILL while clients create
//! messages over HTTP. After a restart, every message that was answered 201 is there, each
//! at most once, and the database is consistent: SQLite's own integrity check passes, and on
//! both backends every conversation's `messageCount` equals the messages it lists.

use parlor_store_sqlite::SqliteStore;
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Clients creating messages at once.
const CLIENTS: usize = 8;
/// Conversations they write to (several clients per conversation, so creates contend).
const CONVERSATIONS: usize = 4;
/// Acknowledged creates before the kill: enough that some commit groups are in flight.
const ACKS_BEFORE_KILL: usize = 150;

/// A `parlor serve` process on the test database; killed if still running when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(db: &TestDb) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_parlor"));
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"]).arg(db.data_dir.path());
        if let Some(url) = &db.database_url {
            cmd.args(["--database-url", url]);
        }
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn parlor");
        // A child process has no socket to hand over: wait until it accepts.
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "parlor did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Server { child, base: format!("http://127.0.0.1:{port}") }
    }

    fn kill_9(&mut self) {
        // `Child::kill` is SIGKILL on Unix: no handler runs, nothing is flushed.
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of one server with one key.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Client {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req =
            self.http.request(method, format!("{}{path}", self.base)).header("Authorization", &self.auth);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Every message of a conversation, following `next` links.
    async fn all_messages(&self, conversation: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut path = format!("/api/messages/?conversation={conversation}&pageSize=100");
        loop {
            let (status, page) = self.call(reqwest::Method::GET, &path, None).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            out.extend(page["results"].as_array().unwrap().iter().cloned());
            match page["next"].as_str() {
                Some(next) => path = next[next.find("/api/").unwrap()..].to_string(),
                None => return out,
            }
        }
    }
}

backend_tests!(acknowledged_messages_survive_kill_9, |db: TestDb| async move {
    // Arrange: a key in the database, then a server process on it, a chatbot and
    // conversations that do not auto-reply (only the clients write).
    let org = db.store.create_org("acme").await.unwrap();
    let key = parlor_server::keys::generate();
    db.store.create_api_key(org.id, "k", &parlor_server::keys::hash(&key), "prl_x").await.unwrap();
    db.store.close().await;
    let mut server = Server::start(&db);
    let client = |base: &str| Client {
        http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap(),
        base: base.to_string(),
        auth: format!("Api-Key {key}"),
    };
    let setup = client(&server.base);
    let (_, bot) = setup.call(reqwest::Method::POST, "/api/chatbots/", Some(json!({"name": "B"}))).await;
    let mut conversations = Vec::new();
    for _ in 0..CONVERSATIONS {
        let (s, c) = setup
            .call(reqwest::Method::POST, "/api/conversations/", Some(json!({"webChat": bot["apiWebChatId"]})))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let id = c["id"].as_str().unwrap().to_string();
        let (s, _) = setup
            .call(
                reqwest::Method::PATCH,
                &format!("/api/conversations/{id}/"),
                Some(json!({"autoReplyEnabled": false})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        conversations.push(id);
    }

    // Act: clients create messages as fast as they can; the server is killed mid-way.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (me, conversation) = (client(&server.base), conversations[c % CONVERSATIONS].clone());
        let (acked, count, killed) = (acked.clone(), count.clone(), killed.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let content = format!("client {c} message {i}");
                let body = json!({"conversation": conversation, "content": content});
                let sent = me
                    .http
                    .post(format!("{}/api/messages/", me.base))
                    .header("Authorization", &me.auth)
                    .json(&body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        let Ok(m) = r.json::<Value>().await else { return };
                        acked.lock().unwrap().push((m["id"].as_str().unwrap().to_string(), content));
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        assert!(
                            killed.load(Ordering::Relaxed),
                            "before the kill, every create succeeds: {}",
                            r.status()
                        );
                        return;
                    }
                    // The connection broke or was refused: the server is gone.
                    Err(_) => return,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while count.load(Ordering::Relaxed) < ACKS_BEFORE_KILL {
        assert!(Instant::now() < deadline, "clients made too little progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    killed.store(true, Ordering::Relaxed);
    server.kill_9();
    for t in tasks {
        t.await.expect("client");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= ACKS_BEFORE_KILL);

    // Assert: restarted, the server has every acknowledged message, each once.
    let server = Server::start(&db);
    let after = client(&server.base);
    let mut listed: HashMap<String, Value> = HashMap::new();
    for conversation in &conversations {
        let messages = after.all_messages(conversation).await;
        let (_, c) =
            after.call(reqwest::Method::GET, &format!("/api/conversations/{conversation}/"), None).await;
        assert_eq!(c["messageCount"], messages.len(), "the counter matches the rows of {conversation}");
        let mut contents = HashSet::new();
        for m in messages {
            let content = m["content"].as_str().unwrap().to_string();
            assert!(contents.insert(content.clone()), "stored twice: {content}");
            listed.insert(m["id"].as_str().unwrap().to_string(), m);
        }
    }
    for (id, content) in &acked {
        let m = listed.get(id).unwrap_or_else(|| panic!("acknowledged message {id} ({content}) was lost"));
        assert_eq!(m["content"], content.as_str());
        let (status, one) = after.call(reqwest::Method::GET, &format!("/api/messages/{id}/"), None).await;
        assert_eq!((status, &one["content"]), (StatusCode::OK, &json!(content)));
    }
    drop(server);

    // And SQLite's own check finds the file sound.
    if db.database_url.is_none() {
        let store = SqliteStore::open(&db.data_dir.path().join("parlor.db")).await.unwrap();
        store.integrity_check().await.expect("PRAGMA integrity_check");
    }
});
