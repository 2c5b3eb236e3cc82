//! The test harness: the real server on `127.0.0.1:0` over a fresh database, and API-shaped
//! helpers that speak HTTP to it like a client would.

use parlor_core::id::OrgId;
use parlor_server::app::{AppState, Limits, serve};
use parlor_testkit::db::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;

/// The shutdown grace period of test servers, unless a test sets its own.
const GRACE: Duration = Duration::from_secs(5);

pub(crate) struct TestApp {
    pub(crate) addr: SocketAddr,
    pub(crate) key: String,
    pub(crate) org: OrgId,
    pub(crate) client: reqwest::Client,
    pub(crate) db: TestDb,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

/// A response: status, headers and the JSON body (`Value::Null` when empty or not JSON).
pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

impl TestApp {
    /// Serves a new app on `db` with a new organization and key.
    pub(crate) async fn spawn(db: TestDb) -> TestApp {
        let org = db.store.create_org("test").await.expect("org");
        let key = parlor_server::keys::generate();
        db.store
            .create_api_key(org.id, "test", &parlor_server::keys::hash(&key), "prl_test")
            .await
            .expect("key");
        Self::serve(db, org.id, key).await
    }

    /// [`TestApp::spawn`] with other limits (tight rate limits, short timeouts).
    pub(crate) async fn spawn_with_limits(db: TestDb, limits: Limits) -> TestApp {
        Self::spawn_with(db, move |mut s| {
            s.limits = limits;
            s
        })
        .await
    }

    /// Like [`TestApp::spawn`], with the app's state adjusted first (providers, limits).
    pub(crate) async fn spawn_with(db: TestDb, configure: impl FnOnce(AppState) -> AppState) -> TestApp {
        Self::spawn_with_grace(db, GRACE, configure).await
    }

    /// [`TestApp::spawn_with`] with another shutdown grace period.
    pub(crate) async fn spawn_with_grace(
        db: TestDb,
        grace: Duration,
        configure: impl FnOnce(AppState) -> AppState,
    ) -> TestApp {
        let mut app = Self::spawn(db).await;
        let (db, org, key) = {
            let stop = app.stop.take();
            drop(stop);
            if let Some(h) = app.handle.take() {
                h.await.expect("server task");
            }
            (app.db, app.org, app.key)
        };
        Self::serve_state(db, org, key, grace, configure).await
    }

    async fn serve(db: TestDb, org: OrgId, key: String) -> TestApp {
        Self::serve_state(db, org, key, GRACE, |s| s).await
    }

    async fn serve_state(
        db: TestDb,
        org: OrgId,
        key: String,
        grace: Duration,
        configure: impl FnOnce(AppState) -> AppState,
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = configure(AppState::new(db.store.clone()).with_data_dir(db.data_dir.path()));
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            serve(listener, state, async { drop(stopped.await) }, grace).await.expect("serve");
        });
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        TestApp { addr, key, org, client, db, stop: Some(stop), handle: Some(handle) }
    }

    /// Signals shutdown without waiting for it (streams in flight go on); [`TestApp::stop`]
    /// then waits for the server to stop.
    pub(crate) fn begin_stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    /// Stops the server gracefully and returns its database.
    pub(crate) async fn stop(mut self) -> (TestDb, OrgId, String) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task");
        }
        (self.db, self.org, self.key)
    }

    /// Stops the server, closes and reopens the store from its files/URL, and serves again:
    /// what a restart of the process does.
    pub(crate) async fn restart(self) -> TestApp {
        self.restart_with(|s| s).await
    }

    /// [`TestApp::restart`] with the new server's state changed by `configure`.
    pub(crate) async fn restart_with(self, configure: impl FnOnce(AppState) -> AppState) -> TestApp {
        let (mut db, org, key) = self.stop().await;
        db.store.close().await;
        let args = parlor_server::storage::StoreArgs {
            data_dir: db.data_dir.path().to_path_buf(),
            database_url: db.database_url.clone(),
            database_max_connections: 4,
        };
        db.store = parlor_server::storage::open(&args).await.expect("reopen store");
        Self::serve_state(db, org, key, GRACE, configure).await
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A request with this app's key.
    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.call_as(&format!("Api-Key {}", self.key), method, path, body).await
    }

    /// A request with the given `Authorization` header value ("" for none).
    pub(crate) async fn call_as(&self, auth: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        if !auth.is_empty() {
            req = req.header("Authorization", auth);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        Self::read(resp).await
    }

    pub(crate) async fn read(resp: reqwest::Response) -> Resp {
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp { status, headers, body }
    }

    pub(crate) async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }
    pub(crate) async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }
    pub(crate) async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub(crate) async fn put(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub(crate) async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    /// A second organization's key on the same server.
    pub(crate) async fn other_org_key(&self) -> String {
        let org = self.db.store.create_org("other").await.expect("org");
        let key = parlor_server::keys::generate();
        self.db
            .store
            .create_api_key(org.id, "other", &parlor_server::keys::hash(&key), "prl_oth")
            .await
            .expect("key");
        key
    }

    pub(crate) async fn create_chatbot(&self, name: &str) -> Value {
        let r = self.post("/api/chatbots/", json!({"name": name})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    /// A chatbot and a web chat for it; returns the web chat.
    pub(crate) async fn create_web_chat(&self) -> Value {
        let bot = self.create_chatbot("Bot").await;
        let r = self.post("/api/web-chats/", json!({"name": "Site", "chatbot": bot["id"]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    pub(crate) async fn create_conversation(&self, web_chat: &Value) -> Value {
        let r = self.post("/api/conversations/", json!({"webChat": web_chat["id"]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    /// A conversation with auto-reply off: only the test's own messages go into it (its
    /// chatbot would otherwise answer each incoming one in the background).
    pub(crate) async fn create_quiet_conversation(&self, web_chat: &Value) -> Value {
        let conv = self.create_conversation(web_chat).await;
        let path = format!("/api/conversations/{}/", conv["id"].as_str().expect("id"));
        let r = self.patch(&path, json!({"autoReplyEnabled": false})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }

    pub(crate) async fn post_message(&self, conversation: &Value, content: &str) -> Value {
        let r = self
            .post("/api/messages/", json!({"conversation": conversation["id"], "content": content}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }
}

/// Asserts a 13-digit millisecond timestamp string.
pub(crate) fn assert_ts(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("timestamp is not a string: {v}"));
    assert_eq!(s.len(), 13, "{s}");
    assert!(s.chars().all(|c| c.is_ascii_digit()), "{s}");
}

/// The path and query of an absolute page link.
pub(crate) fn path_of(link: &Value) -> String {
    let s = link.as_str().expect("link");
    let rest = s.strip_prefix("http://").expect("absolute http link");
    rest[rest.find('/').expect("path")..].to_string()
}
