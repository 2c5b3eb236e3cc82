//! The background-reply queue and the webhook outbox: what `finish_reply` writes, claims that
//! exclude each other until their lease ends, and a delivered delivery never claimed again.

use crate::*;
use parlor_core::clock;
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use std::time::Duration;

/// Begins and finishes a bot reply to `question`, as the reply service does.
async fn reply(store: &dyn Store, org: OrgId, bot: ChatbotId, question: &Message, text: &str) -> Message {
    let started = store
        .begin_reply(
            org,
            NewMessage {
                kind: MessageType::Outgoing,
                sender_type: SenderType::Bot,
                sender: Some(Sender { id: Some(bot.0), name: "Helper".into(), avatar: None }),
                ..incoming(question.conversation, "")
            },
        )
        .await
        .unwrap();
    store
        .finish_reply(
            org,
            FinishedReply {
                message: started.id,
                content: text.into(),
                citations: vec![],
                citation_nodes: vec![],
                metadata: JsonObject::new(),
                record: NewRecord {
                    chatbot: bot,
                    user_message: question.id,
                    input_message: question.content.clone(),
                    condense_message: question.content.clone(),
                    context: None,
                    reply_time_ms: 1,
                    error: None,
                    finish_reason: "stop".into(),
                },
            },
        )
        .await
        .unwrap()
}

backend_tests!(auto_reply_queue_in_order_and_emptied_by_replies, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let c = conversation(s, w.org, w.web_chat.id).await;
    let q1 = s.create_message(w.org, incoming(c.id, "first")).await.unwrap();
    let q2 = s.create_message(w.org, incoming(c.id, "second")).await.unwrap();
    let agent = s.create_message(w.org, outgoing(c.id, "an agent")).await.unwrap();
    assert!(s.queue_auto_reply(w.org, q1.id).await.unwrap());
    assert!(s.queue_auto_reply(w.org, q2.id).await.unwrap());
    assert!(!s.queue_auto_reply(w.org, agent.id).await.unwrap(), "outgoing messages are not answered");
    assert!(!s.queue_auto_reply(w.org, q1.id).await.unwrap(), "queued once");
    assert_eq!(s.auto_reply_backlog().await.unwrap(), vec![(w.org, c.id)]);
    assert_eq!(s.next_auto_reply(w.org, c.id).await.unwrap().unwrap().id, q1.id);
    reply(s, w.org, w.bot.id, &q1, "one").await;
    assert_eq!(s.next_auto_reply(w.org, c.id).await.unwrap().unwrap().id, q2.id);
    reply(s, w.org, w.bot.id, &q2, "two").await;
    assert!(s.next_auto_reply(w.org, c.id).await.unwrap().is_none());
    assert!(s.auto_reply_backlog().await.unwrap().is_empty());

    // Auto-reply off: nothing queued.
    let patch = ConversationPatch { auto_reply_enabled: Some(false), ..Default::default() };
    s.update_conversation(w.org, c.id, patch).await.unwrap();
    let q3 = s.create_message(w.org, incoming(c.id, "third")).await.unwrap();
    assert!(!s.queue_auto_reply(w.org, q3.id).await.unwrap());

    // The conversation lock is taken once until released (always free on SQLite, whose one
    // process keeps its runners apart itself).
    assert!(s.try_lock_conversation(c.id).await.unwrap());
    s.unlock_conversation(c.id).await.unwrap();
});

backend_tests!(outbox_claims_leases_and_delivered_is_final, |db: TestDb| async move {
    let s = &*db.store;
    let org = s.create_org("acme").await.unwrap().id;
    let secret = WebhookSecret("whsec_test".into());
    let bot = s
        .create_chatbot(
            org,
            NewChatbot {
                webhook_url: Some("http://127.0.0.1:9/hook".into()),
                webhook_secret: Some(secret.clone()),
                ..NewChatbot::named("Helper")
            },
        )
        .await
        .unwrap();
    let c = conversation(s, org, bot.api_web_chat_id).await;
    let q = s.create_message(org, incoming(c.id, "hello")).await.unwrap();
    let answer = reply(s, org, bot.id, &q, "hi there").await;
    let now = clock::now();
    assert!(s.next_webhook_due().await.unwrap().is_some_and(|t| t <= now));

    let lease = Duration::from_secs(60);
    let claimed = s.claim_webhook_deliveries(now, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let d = &claimed[0];
    assert_eq!((d.chatbot, d.message, d.attempts), (bot.id, answer.id, 0));
    assert_eq!(d.url.as_deref(), Some("http://127.0.0.1:9/hook"));
    assert_eq!(d.secret.as_ref(), Some(&secret));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&d.body).unwrap(),
        serde_json::to_value(&answer).unwrap()
    );
    // Leased: no one else takes it until the lease ends.
    assert!(s.claim_webhook_deliveries(clock::now(), lease, 10).await.unwrap().is_empty());
    assert_eq!(s.claim_webhook_deliveries(now.plus(lease * 2), lease, 10).await.unwrap().len(), 1);

    let record = |status: i64| NewWebhookRecord {
        org,
        chatbot: bot.id,
        message: answer.id,
        url: "http://127.0.0.1:9/hook".into(),
        request_body: d.body.clone(),
        response: Some("nope".into()),
        status_code: Some(status),
        error: None,
        attempt: 1,
    };
    let retry_at = clock::now();
    s.record_webhook_try(WebhookTry {
        delivery: d.id,
        record: Some(record(500)),
        next: DeliveryNext::RetryAt(retry_at),
    })
    .await
    .unwrap();
    let again = s.claim_webhook_deliveries(clock::now(), lease, 10).await.unwrap();
    assert_eq!(again[0].attempts, 1);
    s.record_webhook_try(WebhookTry {
        delivery: d.id,
        record: Some(record(200)),
        next: DeliveryNext::Delivered,
    })
    .await
    .unwrap();
    // Delivered is final: a late retry of a stale worker changes nothing.
    s.record_webhook_try(WebhookTry { delivery: d.id, record: None, next: DeliveryNext::RetryAt(retry_at) })
        .await
        .unwrap();
    let far = clock::now().plus(Duration::from_secs(3600));
    assert!(s.claim_webhook_deliveries(far, lease, 10).await.unwrap().is_empty());
    assert!(s.next_webhook_due().await.unwrap().is_none());

    let page = s.list_webhook_records(org, bot.id, PageRequest { page: 1, page_size: 20 }).await.unwrap();
    assert_eq!(page.count, 2);
    assert_eq!(page.items[0].status_code, Some(200));
    assert_eq!(page.items[1].status_code, Some(500));
    assert_eq!(page.items[0].request_body, serde_json::to_value(&answer).unwrap());
    let other = s.create_org("other").await.unwrap().id;
    assert!(matches!(
        s.list_webhook_records(other, bot.id, PageRequest { page: 1, page_size: 20 }).await,
        Err(StoreError::NotFound)
    ));

    // A chatbot without a webhook gets no delivery.
    let quiet = s.create_chatbot(org, NewChatbot::named("Quiet")).await.unwrap();
    let c2 = conversation(s, org, quiet.api_web_chat_id).await;
    let q2 = s.create_message(org, incoming(c2.id, "hello")).await.unwrap();
    reply(s, org, quiet.id, &q2, "hi").await;
    assert!(s.claim_webhook_deliveries(far, lease, 10).await.unwrap().is_empty());
});
