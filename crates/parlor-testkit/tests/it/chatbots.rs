//! Chatbots (with their API web chat), web chats and the inbox view.

use crate::*;
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;

backend_tests!(chatbot_crud, |db: TestDb| async move {
    let s = &*db.store;
    let org = s.create_org("acme").await.unwrap().id;
    let bot = s
        .create_chatbot(
            org,
            NewChatbot {
                model: Some("local/llama3".into()),
                webhook_url: Some("https://hooks.example/x".into()),
                welcome_message: "Welcome".into(),
                ..NewChatbot::named("Sales")
            },
        )
        .await
        .unwrap();
    assert_eq!(bot.name, "Sales");
    assert_eq!(bot.fallback_message, DEFAULT_FALLBACK_MESSAGE);
    assert_eq!((bot.temperature, bot.history_messages), (DEFAULT_TEMPERATURE, DEFAULT_HISTORY_MESSAGES));
    assert_eq!(bot.model.as_deref(), Some("local/llama3"));
    assert_eq!(bot.created_at, bot.updated_at);

    // Its API web chat exists, is this chatbot's, and is an inbox.
    let api = s.get_web_chat(org, bot.api_web_chat_id).await.unwrap();
    assert_eq!((api.chatbot, api.access_type, api.name.as_str()), (bot.id, AccessType::Api, "Sales API"));
    assert_eq!(api.welcome_message, "Welcome");
    assert!(api.allowed_origins.is_empty() && api.is_active && api.enable_file_upload);
    assert_eq!(s.get_inbox(org, api.id).await.unwrap().chatbot, bot.id);

    let got = s.get_chatbot(org, bot.id).await.unwrap();
    assert_eq!(serde_json::to_value(&got).unwrap(), serde_json::to_value(&bot).unwrap());

    let patched = s
        .update_chatbot(
            org,
            bot.id,
            ChatbotPatch { model: Some(None), temperature: Some(0.2), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!((patched.model.as_deref(), patched.temperature, patched.name.as_str()), (None, 0.2, "Sales"));
    assert_eq!(patched.webhook_url.as_deref(), Some("https://hooks.example/x"));
    assert!(patched.updated_at >= bot.updated_at);
    let got = s.get_chatbot(org, bot.id).await.unwrap();
    assert_eq!(serde_json::to_value(&got).unwrap(), serde_json::to_value(&patched).unwrap());
    assert_not_found(s.update_chatbot(org, ChatbotId::new(), ChatbotPatch::default()).await);

    s.delete_chatbot(org, bot.id).await.unwrap();
    assert_not_found(s.get_chatbot(org, bot.id).await);
    assert_not_found(s.get_web_chat(org, api.id).await);
    assert_not_found(s.delete_chatbot(org, bot.id).await);
});

backend_tests!(lists_chatbots_newest_first_by_page, |db: TestDb| async move {
    let s = &*db.store;
    let org = s.create_org("acme").await.unwrap().id;
    let mut made = vec![];
    for i in 0..5 {
        made.push(s.create_chatbot(org, NewChatbot::named(format!("bot {i}"))).await.unwrap().id);
    }
    made.reverse();
    let p1 = s.list_chatbots(org, page(1, 2)).await.unwrap();
    let p3 = s.list_chatbots(org, page(3, 2)).await.unwrap();
    let p4 = s.list_chatbots(org, page(4, 2)).await.unwrap();
    assert_eq!((p1.count, p3.count, p4.count), (5, 5, 5));
    assert_eq!(p1.items.iter().map(|b| b.id).collect::<Vec<_>>(), made[..2]);
    assert_eq!(p3.items.iter().map(|b| b.id).collect::<Vec<_>>(), made[4..]);
    assert!(p4.items.is_empty());
});

backend_tests!(delete_chatbot_takes_its_web_chats_conversations_and_messages, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let conv = conversation(s, w.org, w.web_chat.id).await;
    let msg = say(s, w.org, conv.id, "hello").await;
    let contact = conv.contact.clone().unwrap().id;
    let keep_bot = s.create_chatbot(w.org, NewChatbot::named("Other")).await.unwrap();

    s.delete_chatbot(w.org, w.bot.id).await.unwrap();
    assert_not_found(s.get_web_chat(w.org, w.web_chat.id).await);
    assert_not_found(s.get_inbox(w.org, w.web_chat.id).await);
    assert_not_found(s.get_conversation(w.org, conv.id).await);
    assert_not_found(s.get_message(w.org, msg.id, None).await);
    let (msgs, count) = s.list_messages(w.org, None, first_page(10)).await.unwrap();
    assert!(msgs.items.is_empty() && count.is_none());
    // Contacts are the organization's, not the chatbot's: they stay, with no inboxes left.
    assert!(s.get_contact(w.org, contact).await.unwrap().inboxes.is_empty());
    assert_eq!(s.list_web_chats(w.org, page(1, 10)).await.unwrap().items.len(), 1);
    assert!(s.get_chatbot(w.org, keep_bot.id).await.is_ok());
});

backend_tests!(web_chat_crud, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let wc = &w.web_chat;
    assert_eq!((wc.chatbot, wc.access_type, wc.name.as_str()), (w.bot.id, AccessType::Web, "Site"));
    // Origins keep their order.
    assert_eq!(wc.allowed_origins, vec!["https://b.example", "https://a.example"]);
    let got = s.get_web_chat(w.org, wc.id).await.unwrap();
    assert_eq!(serde_json::to_value(&got).unwrap(), serde_json::to_value(wc).unwrap());

    // The chatbot must be this organization's.
    let other = world(s).await;
    assert_invalid(s.create_web_chat(w.org, new_web_chat(other.bot.id, "x")).await, "chatbot", other.bot.id);
    let ghost = ChatbotId::new();
    assert_invalid(s.create_web_chat(w.org, new_web_chat(ghost, "x")).await, "chatbot", ghost);
    assert_invalid(
        s.update_web_chat(w.org, wc.id, WebChatPatch { chatbot: Some(other.bot.id), ..Default::default() })
            .await,
        "chatbot",
        other.bot.id,
    );

    let bot2 = s.create_chatbot(w.org, NewChatbot::named("Two")).await.unwrap();
    let patched = s
        .update_web_chat(
            w.org,
            wc.id,
            WebChatPatch {
                chatbot: Some(bot2.id),
                allowed_origins: Some(vec![]),
                is_active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((patched.chatbot, patched.is_active, patched.name.as_str()), (bot2.id, false, "Site"));
    assert!(patched.allowed_origins.is_empty());
    let got = s.get_web_chat(w.org, wc.id).await.unwrap();
    assert_eq!(serde_json::to_value(&got).unwrap(), serde_json::to_value(&patched).unwrap());
    assert_not_found(s.update_web_chat(w.org, WebChatId::new(), WebChatPatch::default()).await);

    // Two API web chats and the widget, newest first.
    let list = s.list_web_chats(w.org, page(1, 10)).await.unwrap();
    assert_eq!(list.count, 3);
    assert_eq!(
        list.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![bot2.api_web_chat_id, wc.id, w.bot.api_web_chat_id]
    );

    // Deleting a web chat takes its conversations and their messages.
    let conv = conversation(s, w.org, wc.id).await;
    let msg = say(s, w.org, conv.id, "hi").await;
    s.delete_web_chat(w.org, wc.id).await.unwrap();
    assert_not_found(s.get_conversation(w.org, conv.id).await);
    assert_not_found(s.get_message(w.org, msg.id, None).await);
    assert_not_found(s.delete_web_chat(w.org, wc.id).await);
    assert!(s.get_chatbot(w.org, bot2.id).await.is_ok());
});

backend_tests!(inboxes_count_conversations_with_unread_messages, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let a = conversation(s, w.org, w.web_chat.id).await;
    let b = conversation(s, w.org, w.web_chat.id).await;
    let c = conversation(s, w.org, w.web_chat.id).await;
    say(s, w.org, a.id, "one").await;
    say(s, w.org, a.id, "two").await;
    say(s, w.org, b.id, "three").await;
    // Agent messages are never unread.
    s.create_message(w.org, outgoing(c.id, "hello")).await.unwrap();

    let inbox = s.get_inbox(w.org, w.web_chat.id).await.unwrap();
    assert_eq!((inbox.name.as_str(), inbox.channel_type, inbox.chatbot), ("Site", "web", w.bot.id));
    assert_eq!((inbox.channel.id, inbox.channel.name.as_str()), (w.web_chat.id, "Site"));
    assert_eq!(inbox.unread_conversations_count, 2);

    s.mark_conversation_read(w.org, a.id).await.unwrap();
    assert_eq!(s.get_inbox(w.org, w.web_chat.id).await.unwrap().unread_conversations_count, 1);
    assert_eq!(s.get_inbox(w.org, w.bot.api_web_chat_id).await.unwrap().unread_conversations_count, 0);

    // List: newest first, filtered by chatbot; another organization's chatbot gives nothing.
    let bot2 = s.create_chatbot(w.org, NewChatbot::named("Two")).await.unwrap();
    let all = s.list_inboxes(w.org, InboxFilter::default(), page(1, 10)).await.unwrap();
    assert_eq!(all.count, 3);
    assert_eq!(
        all.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![bot2.api_web_chat_id, w.web_chat.id, w.bot.api_web_chat_id]
    );
    assert_eq!(all.items[1].unread_conversations_count, 1);
    let mine = s.list_inboxes(w.org, InboxFilter { chatbot: Some(w.bot.id) }, page(1, 1)).await.unwrap();
    assert_eq!(mine.count, 2);
    assert_eq!(mine.items.iter().map(|i| i.id).collect::<Vec<_>>(), vec![w.web_chat.id]);
    let other = world(s).await;
    let none = s.list_inboxes(w.org, InboxFilter { chatbot: Some(other.bot.id) }, page(1, 10)).await.unwrap();
    assert_eq!((none.count, none.items.len()), (0, 0));
    assert_not_found(s.get_inbox(w.org, WebChatId::new()).await);
});
