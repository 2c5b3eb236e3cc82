//! Strict organization isolation: every organization-scoped method, called by another
//! organization with this one's ids, answers as if the rows did not exist and changes nothing.

use crate::*;
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;

backend_tests!(another_organization_sees_and_changes_nothing, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let conv = conversation(s, w.org, w.web_chat.id).await;
    let contact = conv.contact.clone().unwrap().id;
    let msg = say(s, w.org, conv.id, "private words").await;
    let file = s
        .create_attachment(
            w.org,
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
    let o = world(s).await;
    let them = o.org;

    // Reads.
    assert_not_found(s.get_chatbot(them, w.bot.id).await);
    assert_not_found(s.get_web_chat(them, w.web_chat.id).await);
    assert_not_found(s.get_inbox(them, w.web_chat.id).await);
    assert_not_found(s.get_contact(them, contact).await);
    assert_not_found(s.get_attachment(them, file).await);
    assert_not_found(s.get_conversation(them, conv.id).await);
    assert_not_found(s.get_message(them, msg.id, None).await);
    assert_not_found(s.get_message(them, msg.id, Some(conv.id)).await);
    let bots = s.list_chatbots(them, page(1, 50)).await.unwrap();
    assert_eq!((bots.count, bots.items.len()), (1, 1));
    assert_eq!(bots.items[0].id, o.bot.id);
    assert_eq!(s.list_web_chats(them, page(1, 50)).await.unwrap().count, 2);
    assert_eq!(s.list_inboxes(them, InboxFilter::default(), page(1, 50)).await.unwrap().count, 2);
    assert_eq!(s.list_contacts(them, None, page(1, 50)).await.unwrap().count, 0);
    assert_eq!(s.list_contacts(them, Some("visitor"), page(1, 50)).await.unwrap().count, 0);
    let convs = s.list_conversations(them, ConversationFilter::default(), first_page(50)).await.unwrap();
    assert!(convs.items.is_empty());
    let (msgs, count) = s.list_messages(them, None, first_page(50)).await.unwrap();
    assert!(msgs.items.is_empty() && count.is_none());

    // Writes.
    assert_not_found(
        s.update_chatbot(them, w.bot.id, ChatbotPatch { name: Some("x".into()), ..Default::default() }).await,
    );
    assert_not_found(s.update_web_chat(them, w.web_chat.id, WebChatPatch::default()).await);
    assert_not_found(
        s.update_contact(them, contact, ContactPatch { name: Some("x".into()), ..Default::default() }).await,
    );
    assert_not_found(
        s.update_conversation(
            them,
            conv.id,
            ConversationPatch { title: Some("x".into()), ..Default::default() },
        )
        .await,
    );
    assert_not_found(s.mark_conversation_read(them, conv.id).await);
    assert_not_found(s.set_message_feedback(them, msg.id, Some("like".into())).await);
    assert_not_found(s.delete_conversation(them, conv.id).await);
    assert_not_found(s.delete_contact(them, contact).await);
    assert_not_found(s.delete_web_chat(them, w.web_chat.id).await);
    assert_not_found(s.delete_chatbot(them, w.bot.id).await);
    assert_invalid(s.create_web_chat(them, new_web_chat(w.bot.id, "x")).await, "chatbot", w.bot.id);
    assert_invalid(
        s.create_conversation(them, NewConversation { web_chat: w.web_chat.id, contact: None, title: None })
            .await,
        "webChat",
        w.web_chat.id,
    );
    assert_invalid(s.create_message(them, incoming(conv.id, "x")).await, "conversation", conv.id);

    // Everything is as it was.
    assert_eq!(s.get_chatbot(w.org, w.bot.id).await.unwrap().name, "Helper");
    assert_eq!(s.get_contact(w.org, contact).await.unwrap().name, conv.contact.unwrap().name);
    let after = s.get_conversation(w.org, conv.id).await.unwrap();
    assert_eq!(
        (after.title.as_str(), after.unread_messages_count, after.message_count),
        ("private words", 1, 1)
    );
    assert!(s.get_message(w.org, msg.id, Some(conv.id)).await.unwrap().feedback.is_none());
    assert_eq!(s.get_inbox(w.org, w.web_chat.id).await.unwrap().unread_conversations_count, 1);
});
