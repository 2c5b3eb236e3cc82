//! Background replies and their webhooks, against a real local receiver (axum on
//! `127.0.0.1:0`): signatures, retries after failures, deliveries that survive a restart,
//! replies of a conversation in order, and the log of tries.

use crate::helpers::TestApp;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use hmac::{Hmac, Mac};
use parlor_core::input::NewDocument;
use parlor_core::knowledge::demo_documents;
use parlor_llm::{ProviderConfig, Providers};
use parlor_server::app::AppState;
use parlor_server::webhooks::{WebhookConfig, Webhooks};
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use parlor_testkit::fake_llm::{FakeLlm, Reply};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request the receiver got.
#[derive(Clone, Debug)]
struct Hit {
    headers: HeaderMap,
    body: Bytes,
}

impl Hit {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

#[derive(Default)]
struct Shared {
    hits: Mutex<Vec<Hit>>,
    /// Requests still to answer with a 500 (and a long body) before answering 200.
    failures_left: AtomicUsize,
}

/// The integrator's server: records every request, fails the first ones when told to.
struct Receiver {
    url: String,
    shared: Arc<Shared>,
}

impl Receiver {
    async fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let s = s.clone();
                async move {
                    s.hits.lock().unwrap().push(Hit { headers, body });
                    let failing = s
                        .failures_left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if failing {
                        (AxumStatus::INTERNAL_SERVER_ERROR, "x".repeat(10_000))
                    } else {
                        (AxumStatus::OK, "thanks".to_string())
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, shared }
    }

    fn fail_next(&self, n: usize) {
        self.shared.failures_left.store(n, Ordering::SeqCst);
    }

    fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests came (10 s at most).
    async fn wait_for(&self, n: usize) -> Vec<Hit> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            assert!(Instant::now() < deadline, "expected {n} webhook requests, got {}", hits.len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Retries within milliseconds, so the schedule runs out in a test's time.
fn fast_webhooks() -> Webhooks {
    Webhooks::new(WebhookConfig {
        timeout: Duration::from_secs(2),
        first_retry: Duration::from_millis(50),
        max_attempts: 5,
        poll: Duration::from_millis(200),
        // The receivers of these tests listen on 127.0.0.1.
        allow_local_network: true,
        ..Default::default()
    })
}

/// The default schedule, to receivers on this machine.
fn local_webhooks(s: AppState) -> AppState {
    let config = WebhookConfig { allow_local_network: true, ..Default::default() };
    AppState { webhooks: Webhooks::new(config), ..s }
}

fn with_fast_webhooks(s: AppState) -> AppState {
    AppState { webhooks: fast_webhooks(), ..s }
}

/// A knowledge chatbot with the demo knowledge and a webhook to `receiver`; returns the
/// chatbot as created (with its `webhookSecret`).
async fn hooked_bot(app: &TestApp, receiver: &Receiver) -> Value {
    let r = app.post("/api/chatbots/", json!({"name": "Guide", "webhookUrl": receiver.url})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().parse().unwrap();
    for (title, content) in demo_documents() {
        app.db
            .store
            .create_document(app.org, id, NewDocument { title, content, metadata: Default::default() })
            .await
            .unwrap();
    }
    r.body
}

async fn conversation_of(app: &TestApp, bot: &Value) -> Value {
    let r = app.post("/api/conversations/", json!({"webChat": bot["apiWebChatId"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

fn verify(secret: &str, hit: &Hit) {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&hit.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(hit.header("x-parlor-signature"), expected);
}

async fn records(app: &TestApp, bot: &Value) -> Value {
    let r = app.get(&format!("/api/chatbots/{}/webhook-records/", bot["id"].as_str().unwrap())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

backend_tests!(a_background_reply_reaches_the_webhook_signed, |db: TestDb| async move {
    let app = TestApp::spawn_with(db, with_fast_webhooks).await;
    let receiver = Receiver::start().await;
    let bot = hooked_bot(&app, &receiver).await;
    let secret = bot["webhookSecret"].as_str().expect("the response that sets webhookUrl shows the secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    // Shown once: never by a read, nor by a change that keeps the URL.
    let path = format!("/api/chatbots/{}/", bot["id"].as_str().unwrap());
    assert!(app.get(&path).await.body.get("webhookSecret").is_none());
    let same = app.patch(&path, json!({"webhookUrl": receiver.url, "name": "Guide"})).await;
    assert!(same.body.get("webhookSecret").is_none(), "{}", same.body);
    let conv = conversation_of(&app, &bot).await;

    let question = app.post_message(&conv, "how do I export records?").await;
    assert_eq!(question["type"], "incoming");

    let hit = receiver.wait_for(1).await.remove(0);
    verify(secret, &hit);
    assert_eq!(hit.header("content-type"), "application/json");
    assert!(!hit.header("x-parlor-delivery").is_empty());
    let reply = hit.json();
    assert_eq!(reply["type"], "outgoing");
    assert_eq!(reply["senderType"], "bot");
    assert_eq!(reply["conversation"], conv["id"]);
    assert_eq!(reply["metadata"]["finishReason"], "stop");
    assert!(reply["content"].as_str().unwrap().contains("export-excel"), "{reply}");
    assert!(!reply["citations"].as_array().unwrap().is_empty());
    // The body is the stored Message, as the API shows it.
    let stored = app.get(&format!("/api/messages/{}/", reply["id"].as_str().unwrap())).await.body;
    assert_eq!(stored, reply);
    let c = app.get(&format!("/api/conversations/{}/", conv["id"].as_str().unwrap())).await.body;
    assert_eq!((c["messageCount"].clone(), c["isAutoReplyNow"].clone()), (json!(2), json!(false)));

    // Every try is listed.
    let list = records(&app, &bot).await;
    assert_eq!(list["count"], 1, "{list}");
    let rec = &list["results"][0];
    assert_eq!(rec["chatbot"], bot["id"]);
    assert_eq!(rec["url"], receiver.url.as_str());
    assert_eq!(rec["statusCode"], 200);
    assert_eq!(rec["response"], "thanks");
    assert_eq!(rec["requestBody"], reply);
    assert_eq!(rec["message"], reply["id"]);
    assert_eq!(rec["attempt"], 1);
    crate::helpers::assert_ts(&rec["createdAt"]);

    // An agent's outgoing message triggers nothing; nor does an incoming one with auto-reply
    // off.
    let r = app
        .post(
            "/api/messages/",
            json!({"conversation": conv["id"], "type": "outgoing", "content": "Hi, agent here"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let conv_path = format!("/api/conversations/{}/", conv["id"].as_str().unwrap());
    let r = app.patch(&conv_path, json!({"autoReplyEnabled": false})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.post_message(&conv, "how do I export records?").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.hits().len(), 1);
    assert_eq!(app.get(&conv_path).await.body["messageCount"], 4);

    // Completions replies to incoming messages are delivered too.
    let r = app
        .post(
            &format!("/api/chatbots/{}/completions/", bot["id"].as_str().unwrap()),
            json!({"conversation": conv["id"], "message": {"content": "how do I receive webhooks?"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let hit = receiver.wait_for(2).await.remove(1);
    verify(secret, &hit);
    assert_eq!(hit.json(), r.body["botMessage"]);

    // Another organization sees no records.
    let other = app.other_org_key().await;
    let r = app
        .call_as(
            &format!("Api-Key {other}"),
            reqwest::Method::GET,
            &format!("/api/chatbots/{}/webhook-records/", bot["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

backend_tests!(a_receiver_failing_three_times_gets_the_reply_once_more, |db: TestDb| async move {
    let app = TestApp::spawn_with(db, with_fast_webhooks).await;
    let receiver = Receiver::start().await;
    receiver.fail_next(3);
    let bot = hooked_bot(&app, &receiver).await;
    let conv = conversation_of(&app, &bot).await;
    app.post_message(&conv, "how do I export records?").await;

    let hits = receiver.wait_for(4).await;
    // Nothing more once the 2xx is recorded (several retry periods later).
    tokio::time::sleep(Duration::from_millis(800)).await;
    let hits_after = receiver.hits();
    assert_eq!(hits_after.len(), 4, "sent again after a 2xx");
    let secret = bot["webhookSecret"].as_str().unwrap();
    for h in &hits {
        verify(secret, h);
        assert_eq!(h.body, hits[0].body, "every try sends the same bytes");
        assert_eq!(h.header("x-parlor-delivery"), hits[0].header("x-parlor-delivery"));
    }
    let list = records(&app, &bot).await;
    assert_eq!(list["count"], 4, "{list}");
    let codes: Vec<&Value> = list["results"].as_array().unwrap().iter().map(|r| &r["statusCode"]).collect();
    assert_eq!(codes, [&json!(200), &json!(500), &json!(500), &json!(500)]);
    let attempts: Vec<&Value> = list["results"].as_array().unwrap().iter().map(|r| &r["attempt"]).collect();
    assert_eq!(attempts, [&json!(4), &json!(3), &json!(2), &json!(1)]);
    // The receiver's long error body is kept cut to a few KiB.
    assert_eq!(list["results"][1]["response"].as_str().unwrap().len(), 4096);
    // Page-number pagination.
    let page = app
        .get(&format!("/api/chatbots/{}/webhook-records/?pageSize=3&page=2", bot["id"].as_str().unwrap()))
        .await;
    assert_eq!(page.body["results"].as_array().unwrap().len(), 1, "{}", page.body);
    assert_eq!(page.body["results"][0]["attempt"], 1);
});

backend_tests!(a_receiver_down_for_good_is_given_up_on, |db: TestDb| async move {
    let app = TestApp::spawn_with(db, with_fast_webhooks).await;
    let receiver = Receiver::start().await;
    receiver.fail_next(usize::MAX);
    let bot = hooked_bot(&app, &receiver).await;
    let conv = conversation_of(&app, &bot).await;
    app.post_message(&conv, "how do I export records?").await;
    // 5 tries, 50 + 100 + 200 + 400 ms apart (±20 %), then no more.
    receiver.wait_for(5).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(receiver.hits().len(), 5);
    assert_eq!(records(&app, &bot).await["count"], 5);
});

backend_tests!(deliveries_pending_at_shutdown_are_sent_after_a_restart, |db: TestDb| async move {
    // A first retry far enough away that the server is stopped before it.
    let app = TestApp::spawn_with(db, |s| AppState {
        webhooks: Webhooks::new(WebhookConfig {
            first_retry: Duration::from_millis(1500),
            allow_local_network: true,
            ..Default::default()
        }),
        ..s
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.fail_next(1);
    let bot = hooked_bot(&app, &receiver).await;
    let conv = conversation_of(&app, &bot).await;
    app.post_message(&conv, "how do I export records?").await;
    receiver.wait_for(1).await;
    // The failure is recorded before the server stops.
    let deadline = Instant::now() + Duration::from_secs(5);
    while records(&app, &bot).await["count"] != 1 {
        assert!(Instant::now() < deadline, "the failed try was not recorded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let app = app.restart_with(local_webhooks).await;
    let hits = receiver.wait_for(2).await;
    verify(bot["webhookSecret"].as_str().unwrap(), &hits[1]);
    assert_eq!(hits[1].body, hits[0].body);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.hits().len(), 2);
    let list = records(&app, &bot).await;
    assert_eq!(list["count"], 2, "{list}");
    assert_eq!(list["results"][0]["statusCode"], 200);
});

backend_tests!(questions_queued_at_shutdown_are_answered_after_a_restart, |db: TestDb| async move {
    let app = TestApp::spawn_with(db, with_fast_webhooks).await;
    let receiver = Receiver::start().await;
    let bot = hooked_bot(&app, &receiver).await;
    let conv = conversation_of(&app, &bot).await;
    // A question queued as the API queues it, but with no runner started for it: what a
    // server stopped (or killed) right after the 201 leaves behind.
    let queued = app
        .db
        .store
        .create_message(
            app.org,
            parlor_core::input::NewMessage {
                conversation: conv["id"].as_str().unwrap().parse().unwrap(),
                kind: parlor_core::model::MessageType::Incoming,
                sender_type: parlor_core::model::SenderType::Contact,
                contact: None,
                sender: None,
                content: "how do I receive webhooks?".into(),
                content_payload: None,
                query_metadata: None,
                attachments: vec![],
                canvas: None,
                metadata: Default::default(),
            },
        )
        .await
        .unwrap();
    assert!(app.db.store.queue_auto_reply(app.org, queued.id).await.unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(receiver.hits().is_empty());

    let app = app.restart_with(local_webhooks).await;
    let hit = receiver.wait_for(1).await.remove(0);
    assert!(hit.json()["content"].as_str().unwrap().contains("webhookUrl"), "{}", hit.json());
    let c = app.get(&format!("/api/conversations/{}/", conv["id"].as_str().unwrap())).await.body;
    assert_eq!(c["messageCount"], 2);
});

/// An app whose provider `fake` is the given local upstream, with fast webhooks.
async fn with_fake(db: TestDb, fake: &FakeLlm) -> TestApp {
    let mut providers = Providers::empty();
    let config = ProviderConfig::openai(&fake.base_url()).unwrap().with_timeout(Duration::from_secs(2));
    providers.insert_config("fake", config).unwrap();
    TestApp::spawn_with(db, move |s| with_fast_webhooks(s.with_providers(providers))).await
}

backend_tests!(replies_of_a_conversation_come_in_order_one_at_a_time, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let app = with_fake(db, &fake).await;
    let receiver = Receiver::start().await;
    let r = app
        .post("/api/chatbots/", json!({"name": "LLM", "model": "fake/m", "webhookUrl": receiver.url}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let bot = r.body;
    let conv = conversation_of(&app, &bot).await;
    for i in 1..=3 {
        fake.push(Reply::stream(&[&format!("A{i}")]).delay_headers(Duration::from_millis(150)));
    }
    // The last reply fails: stored with finishReason `error`, and still delivered.
    fake.push(Reply::error(500, "the model is down"));

    // Four questions in quick succession; each 201 comes before its reply.
    let started = Instant::now();
    for i in 1..=4 {
        let m = app.post_message(&conv, &format!("Q{i}")).await;
        assert_eq!(m["content"], format!("Q{i}"));
    }
    assert!(started.elapsed() < Duration::from_millis(150 * 3), "the 201s waited for replies");
    let conv_path = format!("/api/conversations/{}/", conv["id"].as_str().unwrap());
    // A reply is being generated: the conversation says so.
    let deadline = Instant::now() + Duration::from_secs(2);
    while app.get(&conv_path).await.body["isAutoReplyNow"] != true {
        assert!(Instant::now() < deadline, "isAutoReplyNow never became true");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let hits = receiver.wait_for(4).await;
    let bodies: Vec<Value> = hits.iter().map(Hit::json).collect();
    let contents: Vec<&str> = bodies.iter().map(|b| b["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["A1", "A2", "A3", ""]);
    assert_eq!(bodies[3]["metadata"]["finishReason"], "error");
    assert!(bodies[3]["metadata"]["error"]["code"].is_string(), "{}", bodies[3]);

    // One at a time: three replies of 150 ms each took 450 ms at least (together they would
    // have taken 150), and the model was asked the questions in order.
    assert!(started.elapsed() >= Duration::from_millis(450), "{:?}", started.elapsed());
    let asked: Vec<Value> =
        fake.requests().iter().map(|r| r.messages().last().unwrap()["content"].clone()).collect();
    assert_eq!(asked, [json!("Q1"), json!("Q2"), json!("Q3"), json!("Q4")]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.get(&conv_path).await.body["isAutoReplyNow"] != false {
        assert!(Instant::now() < deadline, "isAutoReplyNow stayed true");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(app.get(&conv_path).await.body["messageCount"], 8);
});

/// Two instances on one PostgreSQL database: questions posted to either are answered in
/// order, one at a time, and each reply is delivered once (not once per worker).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_queue_and_the_outbox() {
    let Some(db) = TestDb::new(parlor_testkit::db::Backend::Postgres).await else {
        eprintln!("skipped: {} is not set", parlor_testkit::db::PG_URL_VAR);
        return;
    };
    let fake = FakeLlm::start().await;
    fake.set_default(Reply::stream(&["Answer."]).delay_headers(Duration::from_millis(150)));
    let providers = || {
        let mut p = Providers::empty();
        p.insert_config("fake", ProviderConfig::openai(&fake.base_url()).unwrap()).unwrap();
        p
    };
    let args = parlor_server::storage::StoreArgs {
        data_dir: db.data_dir.path().to_path_buf(),
        database_url: db.database_url.clone(),
        database_max_connections: 4,
    };
    let p1 = providers();
    let a = TestApp::spawn_with(db, move |s| with_fast_webhooks(s.with_providers(p1))).await;
    // The second instance: its own store (pool, lock connection), worker and runners.
    let store_b = parlor_server::storage::open(&args).await.unwrap();
    let state_b = with_fast_webhooks(AppState::new(store_b).with_providers(providers()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b_url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
    let b = tokio::spawn(parlor_server::app::serve(
        listener,
        state_b,
        async { drop(stopped_b.await) },
        Duration::from_secs(5),
    ));

    let receiver = Receiver::start().await;
    let r = app_post(
        &a,
        &a.url("/api/chatbots/"),
        json!({"name": "LLM", "model": "fake/m", "webhookUrl": receiver.url}),
    )
    .await;
    let conv = conversation_of(&a, &r).await;
    let started = Instant::now();
    for i in 1..=4 {
        let base = if i % 2 == 1 { a.url("") } else { b_url.clone() };
        app_post(
            &a,
            &format!("{base}/api/messages/"),
            json!({"conversation": conv["id"], "content": format!("Q{i}")}),
        )
        .await;
    }
    receiver.wait_for(4).await;
    assert!(started.elapsed() >= Duration::from_millis(600), "replies overlapped: {:?}", started.elapsed());
    let asked: Vec<Value> =
        fake.requests().iter().map(|r| r.messages().last().unwrap()["content"].clone()).collect();
    assert_eq!(asked, [json!("Q1"), json!("Q2"), json!("Q3"), json!("Q4")]);
    // Both workers ran all along; each delivery went out once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.hits().len(), 4);
    let ids: std::collections::HashSet<String> =
        receiver.hits().iter().map(|h| h.json()["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 4);

    let _ = stop_b.send(());
    b.await.unwrap().unwrap();
}

/// A POST with `app`'s key to an absolute URL (either instance); asserts 201.
async fn app_post(app: &TestApp, url: &str, body: Value) -> Value {
    let r = app
        .client
        .post(url)
        .header("Authorization", format!("Api-Key {}", app.key))
        .json(&body)
        .send()
        .await
        .unwrap();
    let r = TestApp::read(r).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

backend_tests!(webhooks_do_not_reach_the_local_network_unless_allowed, |db: TestDb| async move {
    // `parlor serve`'s default: public addresses only.
    let app = TestApp::spawn_with(db, |s| AppState {
        webhooks: Webhooks::new(WebhookConfig {
            allow_local_network: false,
            ..fast_webhooks().config.as_ref().clone()
        }),
        ..s
    })
    .await;
    let receiver = Receiver::start().await;
    // A literal loopback address, and a name that resolves only to one.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    for url in [receiver.url.clone(), by_name] {
        let bot = hooked_bot(&app, &Receiver { url: url.clone(), shared: receiver.shared.clone() }).await;
        let conv = conversation_of(&app, &bot).await;
        app.post_message(&conv, "how do I export records?").await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let list = loop {
            let list = records(&app, &bot).await;
            if list["count"].as_i64() >= Some(1) || Instant::now() > deadline {
                break list;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let rec = &list["results"][0];
        assert_eq!(rec["url"], url.as_str());
        assert_eq!(rec["statusCode"], Value::Null, "{rec}");
        let error = rec["error"].as_str().unwrap_or_default();
        assert!(error.contains("--webhook-allow-local-network"), "{url}: {rec}");
    }
    assert!(receiver.hits().is_empty(), "nothing reached the receiver");
});
