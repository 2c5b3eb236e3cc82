//! Contacts: `Visitor <n>` numbering, the `query` filter, inboxes, and what deleting leaves.

use crate::*;
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use serde_json::json;
use std::collections::BTreeSet;

backend_tests!(numbers_visitors_per_organization, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let v1 = s.create_contact(w.org, NewContact::default()).await.unwrap();
    let named =
        s.create_contact(w.org, NewContact { name: Some("Ann".into()), ..Default::default() }).await.unwrap();
    let v2 = s.create_contact(w.org, NewContact::default()).await.unwrap();
    // A conversation without a contact gets a new visitor.
    let conv = conversation(s, w.org, w.web_chat.id).await;
    assert_eq!((v1.name.as_str(), named.name.as_str(), v2.name.as_str()), ("Visitor 1", "Ann", "Visitor 2"));
    assert_eq!(conv.contact.unwrap().name, "Visitor 3");
    // Each organization counts its own.
    let other = s.create_org("other").await.unwrap().id;
    assert_eq!(s.create_contact(other, NewContact::default()).await.unwrap().name, "Visitor 1");
});

backend_tests!(visitor_numbers_never_repeat_under_concurrency, |db: TestDb| async move {
    let w = world(&*db.store).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = db.store.clone();
        let web_chat = w.web_chat.id;
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                store.create_contact(w.org, NewContact::default()).await.unwrap().name
            } else {
                conversation(&*store, w.org, web_chat).await.contact.unwrap().name
            }
        }));
    }
    let mut names = BTreeSet::new();
    for t in tasks {
        names.insert(t.await.unwrap());
    }
    let expected: BTreeSet<String> = (1..=12).map(|n| format!("Visitor {n}")).collect();
    assert_eq!(names, expected);
});

backend_tests!(query_matches_name_email_or_phone_case_insensitively, |db: TestDb| async move {
    let s = &*db.store;
    let org = s.create_org("acme").await.unwrap().id;
    let mk = |name: &str, email: Option<&str>, phone: Option<&str>| NewContact {
        name: Some(name.into()),
        email: email.map(Into::into),
        phone_number: phone.map(Into::into),
        ..Default::default()
    };
    let ann = s.create_contact(org, mk("Ann Smith", Some("ann@Example.com"), None)).await.unwrap();
    let bob = s.create_contact(org, mk("Bob", None, Some("+1 555 0100"))).await.unwrap();
    let pct = s.create_contact(org, mk("100% Carl_x", Some("carl@example.org"), None)).await.unwrap();
    let other = s.create_org("other").await.unwrap().id;
    s.create_contact(other, mk("Ann Other", None, None)).await.unwrap();

    let q = |text: &'static str| async move {
        let p = s.list_contacts(org, Some(text), page(1, 10)).await.unwrap();
        (p.count, p.items.iter().map(|c| c.id).collect::<Vec<_>>())
    };
    assert_eq!(q("ANN").await, (1, vec![ann.id]));
    assert_eq!(q("smi").await, (1, vec![ann.id]));
    assert_eq!(q("EXAMPLE").await, (2, vec![pct.id, ann.id]));
    assert_eq!(q("555 01").await, (1, vec![bob.id]));
    // LIKE's wildcards are plain characters here.
    assert_eq!(q("%").await, (1, vec![pct.id]));
    assert_eq!(q("l_x").await, (1, vec![pct.id]));
    assert_eq!(q("_").await, (1, vec![pct.id]));
    assert_eq!(q("nobody").await, (0, vec![]));
    let all = s.list_contacts(org, None, page(1, 2)).await.unwrap();
    assert_eq!(all.count, 3);
    assert_eq!(all.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![pct.id, bob.id]);

    // Any script, not only ASCII; the match does not run across two fields; a rename is
    // matched by the new name.
    let emile = s.create_contact(org, mk("ÉMILE Żółw", Some("ΟΔΟΣ@example.gr"), None)).await.unwrap();
    assert_eq!(q("émile żółw").await, (1, vec![emile.id]));
    assert_eq!(q("οδοσ@").await, (1, vec![emile.id]));
    assert_eq!(q("żółwοδοσ").await, (0, vec![]));
    let patch = ContactPatch { name: Some("Ölaf".into()), ..Default::default() };
    s.update_contact(org, emile.id, patch).await.unwrap();
    assert_eq!(q("ÖLAF").await, (1, vec![emile.id]));
    assert_eq!(q("émile").await, (0, vec![]));
});

backend_tests!(contact_crud_keeps_client_json_as_given, |db: TestDb| async move {
    let s = &*db.store;
    let org = s.create_org("acme").await.unwrap().id;
    let meta = object(json!({"zeta": 1, "alpha": {"y": [1, 2], "b": null}, "mid": "x"}));
    let c = s
        .create_contact(
            org,
            NewContact {
                name: Some("Ann".into()),
                avatar: Some("https://img.example/a.png".into()),
                source_id: Some("crm-7".into()),
                query_metadata: Some(meta.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let text = |c: &Contact| serde_json::to_string(&c.query_metadata).unwrap();
    assert_eq!(text(&c), r#"{"zeta":1,"alpha":{"y":[1,2],"b":null},"mid":"x"}"#);
    let got = s.get_contact(org, c.id).await.unwrap();
    assert_eq!(serde_json::to_value(&got).unwrap(), serde_json::to_value(&c).unwrap());
    assert_eq!(text(&got), text(&c));
    assert!(got.inboxes.is_empty());

    let patched = s
        .update_contact(
            org,
            c.id,
            ContactPatch {
                email: Some(Some("ann@example.com".into())),
                avatar: Some(None),
                query_metadata: Some(Some(object(json!({"b": 2, "a": 1})))),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((patched.name.as_str(), patched.avatar.as_deref()), ("Ann", None));
    assert_eq!(patched.email.as_deref(), Some("ann@example.com"));
    let got = s.get_contact(org, c.id).await.unwrap();
    assert_eq!(text(&got), r#"{"b":2,"a":1}"#);
    assert_eq!(serde_json::to_value(&got).unwrap(), serde_json::to_value(&patched).unwrap());
    let cleared =
        s.update_contact(org, c.id, ContactPatch { query_metadata: Some(None), ..Default::default() }).await;
    assert!(cleared.unwrap().query_metadata.is_none());
    assert!(s.get_contact(org, c.id).await.unwrap().query_metadata.is_none());
    assert_not_found(s.update_contact(org, ContactId::new(), ContactPatch::default()).await);
});

backend_tests!(contacts_list_the_inboxes_they_talked_through, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let second = s.create_web_chat(w.org, new_web_chat(w.bot.id, "Second")).await.unwrap();
    let c = s.create_contact(w.org, NewContact::default()).await.unwrap();
    for web_chat in [second.id, w.web_chat.id, second.id] {
        s.create_conversation(w.org, NewConversation { web_chat, contact: Some(c.id), title: None })
            .await
            .unwrap();
    }
    let inboxes = |c: &Contact| c.inboxes.iter().map(|i| (i.id, i.name.clone())).collect::<Vec<_>>();
    let expected = vec![(w.web_chat.id, "Site".to_string()), (second.id, "Second".to_string())];
    assert_eq!(inboxes(&s.get_contact(w.org, c.id).await.unwrap()), expected);
    let listed = s.list_contacts(w.org, None, page(1, 10)).await.unwrap();
    assert_eq!(inboxes(&listed.items[0]), expected);
    let updated = s.update_contact(w.org, c.id, ContactPatch::default()).await.unwrap();
    assert_eq!(inboxes(&updated), expected);
});

backend_tests!(deleting_a_contact_keeps_its_conversations, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let conv = conversation(s, w.org, w.web_chat.id).await;
    let msg = say(s, w.org, conv.id, "hello").await;
    let contact = conv.contact.unwrap().id;

    s.delete_contact(w.org, contact).await.unwrap();
    assert_not_found(s.get_contact(w.org, contact).await);
    assert_not_found(s.delete_contact(w.org, contact).await);
    let after = s.get_conversation(w.org, conv.id).await.unwrap();
    assert!(after.contact.is_none());
    assert_eq!(after.message_count, 1);
    // The message keeps the sender it was sent with.
    let kept = s.get_message(w.org, msg.id, None).await.unwrap();
    assert_eq!(kept.sender.unwrap().id, Some(contact.0));
    // New messages in it have no sender.
    let later = s.create_message(w.org, incoming(conv.id, "still here")).await.unwrap();
    assert!(later.sender.is_none());
});
