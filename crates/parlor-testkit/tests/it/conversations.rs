//! Conversations: creation and references, the automatic title, derived counters, read
//! state, patch, delete, and keyset pages.

use crate::*;
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;

backend_tests!(creates_with_or_without_a_contact, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let ann =
        s.create_contact(w.org, NewContact { name: Some("Ann".into()), ..Default::default() }).await.unwrap();
    let c = s
        .create_conversation(
            w.org,
            NewConversation { web_chat: w.web_chat.id, contact: Some(ann.id), title: None },
        )
        .await
        .unwrap();
    let contact = c.contact.clone().unwrap();
    assert_eq!((contact.id, contact.name.as_str(), contact.created_at), (ann.id, "Ann", ann.created_at));
    assert_eq!((c.inbox.id, c.inbox.name.as_str(), c.inbox.channel_type), (w.web_chat.id, "Site", "web"));
    assert_eq!((c.web_chat, c.chatbot, c.status), (w.web_chat.id, Some(w.bot.id), ConversationStatus::Open));
    assert_eq!((c.title.as_str(), c.message_count, c.unread_messages_count), ("", 0, 0));
    assert!(c.last_message.is_none() && c.last_message_created_at.is_none() && c.last_read_at.is_none());
    assert!(c.auto_reply_enabled && !c.is_auto_reply_now && !c.is_group_chat);
    assert_eq!(c.created_at, c.updated_at);
    let got = s.get_conversation(w.org, c.id).await.unwrap();
    assert_eq!(serde_json::to_value(&got).unwrap(), serde_json::to_value(&c).unwrap());

    let anon = conversation(s, w.org, w.bot.api_web_chat_id).await;
    assert!(anon.contact.unwrap().name.starts_with("Visitor "));
});

backend_tests!(rejects_references_of_other_organizations, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let other = world(s).await;
    let theirs = s.create_contact(other.org, NewContact::default()).await.unwrap();
    let new = |web_chat, contact| NewConversation { web_chat, contact, title: None };
    assert_invalid(
        s.create_conversation(w.org, new(other.web_chat.id, None)).await,
        "webChat",
        other.web_chat.id,
    );
    let ghost = WebChatId::new();
    assert_invalid(s.create_conversation(w.org, new(ghost, None)).await, "webChat", ghost);
    assert_invalid(
        s.create_conversation(w.org, new(w.web_chat.id, Some(theirs.id))).await,
        "contact",
        theirs.id,
    );
    // Nothing was made by the failed calls (no visitor either).
    assert_eq!(s.list_contacts(w.org, None, page(1, 10)).await.unwrap().count, 0);
    let list = s.list_conversations(w.org, ConversationFilter::default(), first_page(10)).await.unwrap();
    assert!(list.items.is_empty());
});

backend_tests!(title_comes_from_the_first_incoming_message, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let c = conversation(s, w.org, w.web_chat.id).await;
    // Agent messages and empty contents do not name it.
    s.create_message(w.org, outgoing(c.id, "Welcome!")).await.unwrap();
    say(s, w.org, c.id, "   ").await;
    assert_eq!(s.get_conversation(w.org, c.id).await.unwrap().title, "");
    let long = format!("  {}é and more", "x".repeat(98));
    say(s, w.org, c.id, &long).await;
    let titled = s.get_conversation(w.org, c.id).await.unwrap();
    assert_eq!(titled.title, format!("{}é ", "x".repeat(98)).chars().take(100).collect::<String>());
    assert_eq!(titled.title.chars().count(), 100);
    say(s, w.org, c.id, "second question").await;
    assert_eq!(s.get_conversation(w.org, c.id).await.unwrap().title, titled.title);

    // An explicit title (at creation or by patch) is never replaced.
    let named = s
        .create_conversation(
            w.org,
            NewConversation { web_chat: w.web_chat.id, contact: None, title: Some("Billing".into()) },
        )
        .await
        .unwrap();
    say(s, w.org, named.id, "my invoice").await;
    assert_eq!(s.get_conversation(w.org, named.id).await.unwrap().title, "Billing");
    let blank = s
        .create_conversation(
            w.org,
            NewConversation { web_chat: w.web_chat.id, contact: None, title: Some(String::new()) },
        )
        .await
        .unwrap();
    say(s, w.org, blank.id, "first words").await;
    assert_eq!(s.get_conversation(w.org, blank.id).await.unwrap().title, "");
    let patched = conversation(s, w.org, w.web_chat.id).await;
    s.update_conversation(
        w.org,
        patched.id,
        ConversationPatch { title: Some("Set".into()), ..Default::default() },
    )
    .await
    .unwrap();
    say(s, w.org, patched.id, "hello").await;
    assert_eq!(s.get_conversation(w.org, patched.id).await.unwrap().title, "Set");
});

backend_tests!(keeps_counters_last_message_and_read_state, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let c = conversation(s, w.org, w.web_chat.id).await;
    say(s, w.org, c.id, "one").await;
    say(s, w.org, c.id, "two").await;
    let reply = s.create_message(w.org, outgoing(c.id, "answer")).await.unwrap();
    let got = s.get_conversation(w.org, c.id).await.unwrap();
    assert_eq!((got.message_count, got.unread_messages_count), (3, 2));
    let last = got.last_message.clone().unwrap();
    assert_eq!(serde_json::to_value(&*last).unwrap(), serde_json::to_value(&reply).unwrap());
    assert_eq!(got.last_message_created_at, Some(reply.created_at));
    assert_eq!(got.updated_at, reply.created_at);

    let read = s.mark_conversation_read(w.org, c.id).await.unwrap();
    assert_eq!(read.unread_messages_count, 0);
    let read_at = read.last_read_at.expect("read");
    assert!(read_at >= reply.created_at);
    let later = say(s, w.org, c.id, "three").await;
    let got = s.get_conversation(w.org, c.id).await.unwrap();
    assert_eq!((got.message_count, got.unread_messages_count, got.last_read_at), (4, 1, Some(read_at)));
    assert_eq!(got.last_message.unwrap().id, later.id);
    assert_not_found(s.mark_conversation_read(w.org, ConversationId::new()).await);
});

backend_tests!(patches_and_deletes, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let c = conversation(s, w.org, w.web_chat.id).await;
    let m = say(s, w.org, c.id, "hello").await;
    let p = s
        .update_conversation(
            w.org,
            c.id,
            ConversationPatch {
                status: Some(ConversationStatus::Resolved),
                auto_reply_enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (p.status, p.auto_reply_enabled, p.title.as_str()),
        (ConversationStatus::Resolved, false, "hello")
    );
    assert!(p.updated_at >= m.created_at);
    let got = s.get_conversation(w.org, c.id).await.unwrap();
    assert_eq!(serde_json::to_value(&got).unwrap(), serde_json::to_value(&p).unwrap());
    let p = s
        .update_conversation(
            w.org,
            c.id,
            ConversationPatch { title: Some("New".into()), ..Default::default() },
        )
        .await;
    assert_eq!(p.unwrap().status, ConversationStatus::Resolved);
    assert_not_found(s.update_conversation(w.org, ConversationId::new(), ConversationPatch::default()).await);

    s.delete_conversation(w.org, c.id).await.unwrap();
    assert_not_found(s.get_conversation(w.org, c.id).await);
    assert_not_found(s.get_message(w.org, m.id, None).await);
    assert_not_found(s.delete_conversation(w.org, c.id).await);
    let (msgs, count) = s.list_messages(w.org, Some(c.id), first_page(10)).await.unwrap();
    assert!(msgs.items.is_empty());
    assert_eq!(count, Some(0));
    assert!(s.get_contact(w.org, got.contact.unwrap().id).await.is_ok());
});

backend_tests!(lists_newest_first_in_keyset_pages, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let mut made = vec![];
    for i in 0..7 {
        let web_chat = if i % 2 == 0 { w.web_chat.id } else { w.bot.api_web_chat_id };
        made.push(conversation(s, w.org, web_chat).await.id.0);
    }
    made.reverse();
    let all = ConversationFilter::default;
    let p1 = s.list_conversations(w.org, all(), first_page(3)).await.unwrap();
    assert_eq!(ids(&p1, |c| c.id.0), made[..3]);
    assert!(p1.previous.is_none());
    let p2 = s.list_conversations(w.org, all(), at(p1.next, 3)).await.unwrap();
    assert_eq!(ids(&p2, |c| c.id.0), made[3..6]);
    let p3 = s.list_conversations(w.org, all(), at(p2.next, 3)).await.unwrap();
    assert_eq!(ids(&p3, |c| c.id.0), made[6..]);
    assert!(p3.next.is_none());
    // Back again.
    let back = s.list_conversations(w.org, all(), at(p3.previous, 3)).await.unwrap();
    assert_eq!(ids(&back, |c| c.id.0), made[3..6]);
    let back = s.list_conversations(w.org, all(), at(back.previous, 3)).await.unwrap();
    assert_eq!(ids(&back, |c| c.id.0), made[..3]);
    assert!(back.previous.is_none());

    // The inbox filter; another organization's inbox gives nothing.
    let inbox = ConversationFilter { inbox: Some(w.web_chat.id), keyword: None, contact: None };
    let p = s.list_conversations(w.org, inbox, first_page(10)).await.unwrap();
    assert_eq!(ids(&p, |c| c.id.0), vec![made[0], made[2], made[4], made[6]]);
    let other = world(s).await;
    conversation(s, other.org, other.web_chat.id).await;
    let foreign = ConversationFilter { inbox: Some(other.web_chat.id), keyword: None, contact: None };
    assert!(s.list_conversations(w.org, foreign, first_page(10)).await.unwrap().items.is_empty());
});
