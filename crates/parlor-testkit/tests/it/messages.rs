//! Messages and attachments: senders, references, client JSON, feedback, keyset pages that
//! hold while rows are added, counters under concurrent writers, and a question stored with
//! the reply begun for it.

use crate::*;
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use serde_json::json;
use std::collections::HashSet;

backend_tests!(attachments_uploaded_or_external, |db: TestDb| async move {
    let s = &*db.store;
    let org = s.create_org("acme").await.unwrap().id;
    let up = s
        .create_attachment(
            org,
            NewAttachment {
                kind: AttachmentType::Image,
                filename: "cat.png".into(),
                file: None,
                storage_path: Some("uploads/cat.png".into()),
                content_type: Some("image/png".into()),
                size: Some(1234),
            },
        )
        .await
        .unwrap();
    assert_eq!(up.attachment.file, upload_url(up.attachment.id));
    assert_eq!((up.storage_path.as_deref(), up.size), (Some("uploads/cat.png"), Some(1234)));
    let ext = s
        .create_attachment(
            org,
            NewAttachment {
                kind: AttachmentType::Other,
                filename: "doc.pdf".into(),
                file: Some("https://files.example/doc.pdf".into()),
                storage_path: None,
                content_type: None,
                size: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(ext.attachment.file, "https://files.example/doc.pdf");
    for a in [&up, &ext] {
        let got = s.get_attachment(org, a.attachment.id).await.unwrap();
        assert_eq!(got.attachment, a.attachment);
        assert_eq!(
            (got.storage_path.clone(), got.content_type.clone(), got.size),
            (a.storage_path.clone(), a.content_type.clone(), a.size)
        );
        assert_eq!(got.created_at, a.created_at);
    }
    let other = s.create_org("other").await.unwrap().id;
    assert_not_found(s.get_attachment(other, up.attachment.id).await);
    assert_not_found(s.get_attachment(org, AttachmentId::new()).await);
});

backend_tests!(stores_messages_as_given, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let c = conversation(s, w.org, w.web_chat.id).await;
    let contact = c.contact.clone().unwrap();
    let up = s
        .create_attachment(
            w.org,
            NewAttachment {
                kind: AttachmentType::Audio,
                filename: "a.mp3".into(),
                file: None,
                storage_path: Some("u/a.mp3".into()),
                content_type: None,
                size: None,
            },
        )
        .await
        .unwrap();
    let payload = object(json!({"z": 1, "a": [3, 1], "m": {"y": true, "b": "é"}}));
    let meta = object(json!({"zz": "1", "aa": 2}));
    let canvas =
        Canvas { name: "c".into(), canvas_type: "chart".into(), title: "T".into(), content: "{}".into() };
    let msg = s
        .create_message(
            w.org,
            NewMessage {
                content_payload: Some(payload.clone()),
                query_metadata: Some(meta.clone()),
                attachments: vec![
                    AttachmentInput::Existing(up.attachment.id),
                    AttachmentInput::External {
                        kind: AttachmentType::Video,
                        filename: "v.mp4".into(),
                        file: "https://v.example/v.mp4".into(),
                    },
                ],
                canvas: Some(canvas.clone()),
                metadata: object(json!({"k2": 1, "k1": 2})),
                ..incoming(c.id, "Hello \u{1F600} 'quoted' \\ back")
            },
        )
        .await
        .unwrap();
    let sender = msg.sender.clone().unwrap();
    assert_eq!((sender.id, sender.name.as_str()), (Some(contact.id.0), contact.name.as_str()));
    assert_eq!(
        (msg.kind, msg.sender_type, msg.feedback.clone()),
        (MessageType::Incoming, SenderType::Contact, None)
    );
    assert_eq!(msg.attachments.len(), 2);
    assert_eq!(msg.attachments[0], up.attachment);
    assert_eq!(
        (msg.attachments[1].kind, msg.attachments[1].file.as_str()),
        (AttachmentType::Video, "https://v.example/v.mp4")
    );
    // The external file was registered and can be referenced by id later.
    assert!(s.get_attachment(w.org, msg.attachments[1].id).await.is_ok());

    let got = s.get_message(w.org, msg.id, Some(c.id)).await.unwrap();
    let text = |m: &Message| serde_json::to_string(m).unwrap();
    assert_eq!(text(&got), text(&msg));
    assert!(text(&got).contains(r#""contentPayload":{"z":1,"a":[3,1],"m":{"y":true,"b":"é"}}"#));
    assert!(text(&got).contains(r#""queryMetadata":{"zz":"1","aa":2}"#));
    assert!(text(&got).contains(r#""metadata":{"k2":1,"k1":2}"#));
    assert_eq!(got.canvas, Some(canvas));
    assert_eq!(got.content, "Hello \u{1F600} 'quoted' \\ back");

    // Agent messages keep the sender they were given; an explicit contact is checked.
    let agent = s
        .create_message(
            w.org,
            NewMessage {
                sender: Some(Sender { id: None, name: "Sam".into(), avatar: Some("https://a/s.png".into()) }),
                ..outgoing(c.id, "")
            },
        )
        .await
        .unwrap();
    assert_eq!(agent.sender.clone().unwrap().name, "Sam");
    assert_eq!(text(&s.get_message(w.org, agent.id, None).await.unwrap()), text(&agent));
    let ann =
        s.create_contact(w.org, NewContact { name: Some("Ann".into()), ..Default::default() }).await.unwrap();
    let by_ann =
        s.create_message(w.org, NewMessage { contact: Some(ann.id), ..incoming(c.id, "hi") }).await.unwrap();
    assert_eq!(by_ann.sender.unwrap().name, "Ann");
});

backend_tests!(rejects_references_that_are_not_the_organizations, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let other = world(s).await;
    let c = conversation(s, w.org, w.web_chat.id).await;
    let theirs = conversation(s, other.org, other.web_chat.id).await;
    let their_contact = theirs.contact.clone().unwrap().id;
    let their_file = s
        .create_attachment(
            other.org,
            NewAttachment {
                kind: AttachmentType::Image,
                filename: "x.png".into(),
                file: None,
                storage_path: None,
                content_type: None,
                size: None,
            },
        )
        .await
        .unwrap()
        .attachment
        .id;
    assert_invalid(s.create_message(w.org, incoming(theirs.id, "x")).await, "conversation", theirs.id);
    let ghost = ConversationId::new();
    assert_invalid(s.create_message(w.org, incoming(ghost, "x")).await, "conversation", ghost);
    assert_invalid(
        s.create_message(w.org, NewMessage { contact: Some(their_contact), ..incoming(c.id, "x") }).await,
        "sender",
        their_contact,
    );
    assert_invalid(
        s.create_message(
            w.org,
            NewMessage { attachments: vec![AttachmentInput::Existing(their_file)], ..incoming(c.id, "x") },
        )
        .await,
        "attachments",
        their_file,
    );
    // Nothing of the failed calls was kept.
    let got = s.get_conversation(w.org, c.id).await.unwrap();
    assert_eq!((got.message_count, got.title.as_str()), (0, ""));
    assert_eq!(s.get_conversation(other.org, theirs.id).await.unwrap().message_count, 0);
});

backend_tests!(gets_and_sets_feedback, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let c = conversation(s, w.org, w.web_chat.id).await;
    let c2 = conversation(s, w.org, w.web_chat.id).await;
    let m = say(s, w.org, c.id, "hi").await;
    assert_not_found(s.get_message(w.org, m.id, Some(c2.id)).await);
    assert_not_found(s.get_message(w.org, MessageId::new(), None).await);
    let liked = s.set_message_feedback(w.org, m.id, Some("like".into())).await.unwrap();
    assert_eq!(liked.feedback.as_deref(), Some("like"));
    assert_eq!(s.get_message(w.org, m.id, None).await.unwrap().feedback.as_deref(), Some("like"));
    let cleared = s.set_message_feedback(w.org, m.id, None).await.unwrap();
    assert!(cleared.feedback.is_none());
    assert_not_found(s.set_message_feedback(w.org, MessageId::new(), None).await);
});

backend_tests!(lists_newest_first_with_count, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let a = conversation(s, w.org, w.web_chat.id).await;
    let b = conversation(s, w.org, w.web_chat.id).await;
    let a1 = say(s, w.org, a.id, "a1").await;
    let b1 = say(s, w.org, b.id, "b1").await;
    let a2 = s.create_message(w.org, outgoing(a.id, "a2")).await.unwrap();
    let (p, count) = s.list_messages(w.org, Some(a.id), first_page(10)).await.unwrap();
    assert_eq!(ids(&p, |m| m.id.0), vec![a2.id.0, a1.id.0]);
    assert_eq!(count, Some(2));
    assert!(p.next.is_none() && p.previous.is_none());
    let (p, count) = s.list_messages(w.org, None, first_page(10)).await.unwrap();
    assert_eq!(ids(&p, |m| m.id.0), vec![a2.id.0, b1.id.0, a1.id.0]);
    assert_eq!(count, None);
    // A conversation that is not the organization's lists nothing.
    let other = world(s).await;
    let (p, count) = s.list_messages(other.org, Some(a.id), first_page(10)).await.unwrap();
    assert!(p.items.is_empty());
    assert_eq!(count, Some(0));
});

backend_tests!(keyset_pages_hold_while_messages_are_added, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let c = conversation(s, w.org, w.web_chat.id).await;
    let mut made = vec![];
    for i in 0..7 {
        made.push(say(s, w.org, c.id, &format!("m{i}")).await.id.0);
    }
    made.reverse();
    let p1 = s.list_messages(w.org, Some(c.id), first_page(3)).await.unwrap().0;
    assert_eq!(ids(&p1, |m| m.id.0), made[..3]);
    // New messages arrive while the client pages: they never show up behind the cursor, and
    // nothing is skipped or repeated.
    let mut newer = vec![];
    for i in 0..3 {
        newer.push(say(s, w.org, c.id, &format!("new{i}")).await.id.0);
    }
    let p2 = s.list_messages(w.org, Some(c.id), at(p1.next, 3)).await.unwrap().0;
    assert_eq!(ids(&p2, |m| m.id.0), made[3..6]);
    say(s, w.org, c.id, "even newer").await;
    let p3 = s.list_messages(w.org, Some(c.id), at(p2.next, 3)).await.unwrap().0;
    assert_eq!(ids(&p3, |m| m.id.0), made[6..]);
    assert!(p3.next.is_none());

    // Reverse cursors walk back towards the newest, a page at a time, oldest-first fetched
    // but shown newest first.
    let back = s.list_messages(w.org, Some(c.id), at(p2.previous, 3)).await.unwrap().0;
    assert_eq!(ids(&back, |m| m.id.0), made[..3]);
    let newest = s.list_messages(w.org, Some(c.id), at(back.previous, 3)).await.unwrap().0;
    newer.reverse();
    assert_eq!(ids(&newest, |m| m.id.0), newer);
    let top = s.list_messages(w.org, Some(c.id), at(newest.previous, 3)).await.unwrap().0;
    assert_eq!(top.items.len(), 1);
    assert_eq!(top.items[0].content, "even newer");
    assert!(top.previous.is_none());
    assert!(top.next.is_some());
});

backend_tests!(concurrent_messages_keep_counters_right, |db: TestDb| async move {
    let w = world(&*db.store).await;
    let c = conversation(&*db.store, w.org, w.web_chat.id).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            let input =
                if i % 3 == 0 { outgoing(c.id, &format!("a{i}")) } else { incoming(c.id, &format!("q{i}")) };
            store.create_message(w.org, input).await.unwrap()
        }));
    }
    let mut made = vec![];
    for t in tasks {
        made.push(t.await.unwrap());
    }
    let s = &*db.store;
    let got = s.get_conversation(w.org, c.id).await.unwrap();
    assert_eq!((got.message_count, got.unread_messages_count), (24, 16));
    let newest = made.iter().max_by_key(|m| (m.created_at, m.id)).unwrap();
    assert_eq!(got.last_message.unwrap().id, newest.id);
    assert_eq!(got.last_message_created_at, Some(newest.created_at));
    // The first incoming message (in creation order) named the conversation.
    let first = made.iter().filter(|m| m.kind == MessageType::Incoming).min_by_key(|m| (m.created_at, m.id));
    assert_eq!(got.title, first.unwrap().content);
    let (all, count) = s.list_messages(w.org, Some(c.id), first_page(100)).await.unwrap();
    assert_eq!(count, Some(24));
    assert_eq!(all.items.iter().map(|m| m.id).collect::<HashSet<_>>().len(), 24);
    // Creation order is commit order within a conversation: newest first by time and id.
    let order: Vec<_> = all.items.iter().map(|m| (m.created_at, m.id)).collect();
    let mut sorted = order.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(order, sorted);
});

backend_tests!(begins_an_exchange_in_one_transaction, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let c = conversation(s, w.org, w.web_chat.id).await;
    let contact = c.contact.clone().unwrap();
    let external = AttachmentInput::External {
        kind: AttachmentType::Image,
        filename: "p.png".into(),
        file: "https://p.example/p.png".into(),
    };
    let question = NewMessage { attachments: vec![external], ..incoming(c.id, "Where is my refund?") };
    let (q, r) = s.begin_exchange(w.org, question, bot_reply(c.id, &w.bot)).await.unwrap();

    // Both stored as `create_message` and `begin_reply` store them, the reply after the
    // question.
    assert_eq!(q.sender.clone().unwrap().id, Some(contact.id.0));
    assert_eq!((q.attachments.len(), q.attachments[0].file.as_str()), (1, "https://p.example/p.png"));
    assert_eq!((r.sender_type, r.sender.clone().unwrap().name), (SenderType::Bot, w.bot.name.clone()));
    assert!((q.created_at, q.id) < (r.created_at, r.id));
    let text = |m: &Message| serde_json::to_string(m).unwrap();
    assert_eq!(text(&s.get_message(w.org, q.id, Some(c.id)).await.unwrap()), text(&q));
    assert_eq!(text(&s.get_message(w.org, r.id, Some(c.id)).await.unwrap()), text(&r));
    let (page, count) = s.list_messages(w.org, Some(c.id), first_page(10)).await.unwrap();
    assert_eq!((ids(&page, |m| m.id.0), count), (vec![r.id.0, q.id.0], Some(2)));
    // The conversation: titled by the question, answered now, last message the reply.
    let got = s.get_conversation(w.org, c.id).await.unwrap();
    assert_eq!((got.message_count, got.unread_messages_count), (2, 1));
    assert_eq!((got.title.as_str(), got.is_auto_reply_now), ("Where is my refund?", true));
    assert_eq!(got.last_message.unwrap().id, r.id);
    let refund = parlor_core::search::Query::keyword("refund").unwrap();
    let found = s
        .list_conversations(
            w.org,
            ConversationFilter { inbox: None, keyword: Some(refund), contact: None },
            first_page(10),
        )
        .await
        .unwrap();
    assert_eq!(ids(&found, |c| c.id.0), vec![c.id.0]);

    // Either both are stored or neither: a bad reference in the question keeps the reply out.
    let other = world(s).await;
    let theirs = conversation(s, other.org, other.web_chat.id).await;
    let their_contact = theirs.contact.clone().unwrap().id;
    let c2 = conversation(s, w.org, w.web_chat.id).await;
    let foreign = NewMessage { contact: Some(their_contact), ..incoming(c2.id, "x") };
    assert_invalid(s.begin_exchange(w.org, foreign, bot_reply(c2.id, &w.bot)).await, "sender", their_contact);
    let ghost = AttachmentId::new();
    let missing = NewMessage { attachments: vec![AttachmentInput::Existing(ghost)], ..incoming(c2.id, "x") };
    assert_invalid(s.begin_exchange(w.org, missing, bot_reply(c2.id, &w.bot)).await, "attachments", ghost);
    assert_invalid(
        s.begin_exchange(w.org, incoming(theirs.id, "x"), bot_reply(theirs.id, &w.bot)).await,
        "conversation",
        theirs.id,
    );
    // The reply must be in the question's conversation.
    assert_invalid(
        s.begin_exchange(w.org, incoming(c2.id, "x"), bot_reply(c.id, &w.bot)).await,
        "conversation",
        c.id,
    );
    let got = s.get_conversation(w.org, c2.id).await.unwrap();
    assert_eq!((got.message_count, got.is_auto_reply_now, got.title.as_str()), (0, false, ""));
    assert_eq!(s.get_conversation(w.org, c.id).await.unwrap().message_count, 2);

    // The reply finishes as any begun reply does.
    let done = s
        .finish_reply(
            w.org,
            FinishedReply {
                message: r.id,
                content: "Refunds take five days.".into(),
                citations: vec![],
                citation_nodes: vec![],
                metadata: object(json!({"finishReason": "stop"})),
                record: NewRecord {
                    chatbot: w.bot.id,
                    user_message: q.id,
                    input_message: q.content.clone(),
                    condense_message: q.content.clone(),
                    context: None,
                    reply_time_ms: 1,
                    error: None,
                    finish_reason: "stop".into(),
                },
            },
        )
        .await
        .unwrap();
    assert_eq!(done.content, "Refunds take five days.");
    assert!(!s.get_conversation(w.org, c.id).await.unwrap().is_auto_reply_now);
});
