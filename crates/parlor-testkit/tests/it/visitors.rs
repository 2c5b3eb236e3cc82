//! Widget visitors: a web chat found by id alone, sessions found by token digest, the
//! contact filter of the conversation list, and what deleting ends.

use crate::*;
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;

backend_tests!(finds_a_web_chat_by_id_alone, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let (org, found) = s.find_web_chat(w.web_chat.id).await.unwrap();
    assert_eq!(
        (org, found.id, found.allowed_origins.clone()),
        (w.org, w.web_chat.id, w.web_chat.allowed_origins)
    );
    assert_not_found(s.find_web_chat(WebChatId::new()).await);
});

backend_tests!(sessions_make_a_visitor_and_are_found_by_digest, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let a = s.create_visitor_session(w.org, w.web_chat.id, "digest-a").await.unwrap();
    let b = s.create_visitor_session(w.org, w.web_chat.id, "digest-b").await.unwrap();
    assert_ne!(a.contact, b.contact, "each session is a visitor of its own");
    assert_eq!(s.get_contact(w.org, a.contact).await.unwrap().name, "Visitor 1");
    assert_eq!(s.find_visitor_session("digest-a").await.unwrap(), Some(a.clone()));
    assert_eq!(s.find_visitor_session("nope").await.unwrap(), None);
    // A digest is unique; a web chat of another organization is not found.
    assert!(matches!(
        s.create_visitor_session(w.org, w.web_chat.id, "digest-a").await,
        Err(StoreError::Conflict(_))
    ));
    let other = s.create_org("other").await.unwrap().id;
    assert_not_found(s.create_visitor_session(other, w.web_chat.id, "digest-c").await);
});

backend_tests!(conversations_filter_by_contact, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let a = s.create_visitor_session(w.org, w.web_chat.id, "a").await.unwrap();
    let mine = s
        .create_conversation(
            w.org,
            NewConversation { web_chat: w.web_chat.id, contact: Some(a.contact), title: None },
        )
        .await
        .unwrap();
    conversation(s, w.org, w.web_chat.id).await;
    let filter = ConversationFilter { inbox: Some(w.web_chat.id), keyword: None, contact: Some(a.contact) };
    let page = s.list_conversations(w.org, filter, first_page(10)).await.unwrap();
    assert_eq!(ids(&page, |c| c.id.0), vec![mine.id.0]);
});

backend_tests!(deleting_the_contact_or_web_chat_ends_sessions, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let a = s.create_visitor_session(w.org, w.web_chat.id, "a").await.unwrap();
    s.create_visitor_session(w.org, w.web_chat.id, "b").await.unwrap();
    s.delete_contact(w.org, a.contact).await.unwrap();
    assert_eq!(s.find_visitor_session("a").await.unwrap(), None);
    s.delete_web_chat(w.org, w.web_chat.id).await.unwrap();
    assert_eq!(s.find_visitor_session("b").await.unwrap(), None);
});
