//! Keyword search over conversation titles and message contents: terms ANDed, each a word
//! prefix, case-insensitive, CJK by substring, the same on both backends.

use crate::*;
use parlor_core::search::{Combine, Query};
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;

/// The ids of conversations `keyword` finds, newest first.
async fn find(s: &dyn Store, org: OrgId, keyword: &str) -> Vec<ConversationId> {
    let Some(q) = Query::keyword(keyword) else { return vec![] };
    let filter = ConversationFilter { inbox: None, keyword: Some(q), contact: None };
    s.list_conversations(org, filter, first_page(100)).await.unwrap().items.iter().map(|c| c.id).collect()
}

/// A conversation titled `title` (explicitly) with one message per content.
async fn conv(s: &dyn Store, w: &World, title: Option<&str>, contents: &[&str]) -> ConversationId {
    let c = s
        .create_conversation(
            w.org,
            NewConversation { web_chat: w.web_chat.id, contact: None, title: title.map(Into::into) },
        )
        .await
        .unwrap();
    for text in contents {
        s.create_message(w.org, outgoing(c.id, text)).await.unwrap();
    }
    c.id
}

backend_tests!(matches_word_prefixes_case_insensitively, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let hello = conv(s, &w, None, &["Hello, World! How are you?"]).await;
    let export = conv(s, &w, None, &["Please EXPORT the records (2024-05)."]).await;
    assert_eq!(find(s, w.org, "hello").await, vec![hello]);
    assert_eq!(find(s, w.org, "HEL").await, vec![hello]);
    assert_eq!(find(s, w.org, "wor").await, vec![hello]);
    assert_eq!(find(s, w.org, "export").await, vec![export]);
    assert_eq!(find(s, w.org, "rec").await, vec![export]);
    assert_eq!(find(s, w.org, "2024").await, vec![export]);
    assert_eq!(find(s, w.org, "05").await, vec![export]);
    // Not in the middle of a word, no stemming.
    assert!(find(s, w.org, "ello").await.is_empty());
    assert!(find(s, w.org, "exports").await.is_empty());
    // Punctuation in the keyword is ignored like punctuation in the text.
    assert_eq!(find(s, w.org, "world!!!").await, vec![hello]);
    assert_eq!(find(s, w.org, "(records)").await, vec![export]);
    // Quotes and operators of either query language are plain text.
    assert!(find(s, w.org, "hello' | 'export").await.is_empty());
    assert!(find(s, w.org, "\"hello\" OR export").await.is_empty());
    assert_eq!(find(s, w.org, "hello & !world").await, vec![hello]);
});

backend_tests!(terms_are_anded_within_one_text, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let both = conv(s, &w, None, &["refund for my order"]).await;
    let split = conv(s, &w, None, &["refund please", "about my order"]).await;
    let titled = conv(s, &w, Some("Refund"), &["order 42"]).await;
    assert_eq!(find(s, w.org, "refund").await, vec![titled, split, both]);
    assert_eq!(find(s, w.org, "order refund").await, vec![both]);
    assert_eq!(find(s, w.org, "ref ord").await, vec![both]);
    assert!(find(s, w.org, "refund parcel").await.is_empty());
});

backend_tests!(matches_titles_as_well_as_messages, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let explicit = conv(s, &w, Some("Invoice question"), &[]).await;
    let automatic = conversation(s, w.org, w.web_chat.id).await.id;
    s.create_message(w.org, incoming(automatic, "Shipping delay")).await.unwrap();
    assert_eq!(find(s, w.org, "invoice").await, vec![explicit]);
    assert_eq!(find(s, w.org, "shipping").await, vec![automatic]);
    // A new title replaces the old one in the index.
    s.update_conversation(
        w.org,
        explicit,
        ConversationPatch { title: Some("Billing".into()), ..Default::default() },
    )
    .await
    .unwrap();
    assert!(find(s, w.org, "invoice").await.is_empty());
    assert_eq!(find(s, w.org, "bill").await, vec![explicit]);
    // Deleted conversations and messages leave the index.
    s.delete_conversation(w.org, automatic).await.unwrap();
    assert!(find(s, w.org, "shipping").await.is_empty());
});

backend_tests!(matches_cjk_text_by_substring, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let zh = conv(s, &w, None, &["我想导出聊天记录，可以吗？"]).await;
    let ja = conv(s, &w, Some("注文のキャンセル"), &[]).await;
    let mixed = conv(s, &w, None, &["Export记录 now"]).await;
    assert_eq!(find(s, w.org, "导出").await, vec![zh]);
    assert_eq!(find(s, w.org, "记录").await, vec![mixed, zh]);
    assert_eq!(find(s, w.org, "聊天记录").await, vec![zh]);
    assert_eq!(find(s, w.org, "记录 导出").await, vec![zh]);
    assert_eq!(find(s, w.org, "记").await, vec![mixed, zh]);
    assert!(find(s, w.org, "出导").await.is_empty());
    assert_eq!(find(s, w.org, "キャンセル").await, vec![ja]);
    assert_eq!(find(s, w.org, "exp 记录").await, vec![mixed]);
    assert_eq!(find(s, w.org, "now记录").await, vec![mixed]);
});

backend_tests!(a_keyword_without_words_matches_nothing, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    conv(s, &w, Some("?!"), &["...", "!!! ???"]).await;
    assert!(Query::keyword("?!").is_none());
    let empty = Query { clauses: vec![vec![]], combine: Combine::All };
    let filter = ConversationFilter { inbox: None, keyword: Some(empty), contact: None };
    let page = s.list_conversations(w.org, filter, first_page(10)).await.unwrap();
    assert!(page.items.is_empty() && page.next.is_none() && page.previous.is_none());
});

backend_tests!(keyword_pages_combine_with_the_inbox_filter, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let mut hits = vec![];
    for i in 0..5 {
        hits.push(conv(s, &w, None, &[&format!("ticket number {i}")]).await);
        conv(s, &w, None, &["unrelated"]).await;
    }
    let api = conversation(s, w.org, w.bot.api_web_chat_id).await.id;
    s.create_message(w.org, incoming(api, "ticket via api")).await.unwrap();
    hits.reverse();
    let q = || Some(Query::keyword("tick").unwrap());
    let p1 = s
        .list_conversations(
            w.org,
            ConversationFilter { inbox: Some(w.web_chat.id), keyword: q(), contact: None },
            first_page(2),
        )
        .await
        .unwrap();
    assert_eq!(p1.items.iter().map(|c| c.id).collect::<Vec<_>>(), hits[..2]);
    let p2 = s
        .list_conversations(
            w.org,
            ConversationFilter { inbox: Some(w.web_chat.id), keyword: q(), contact: None },
            at(p1.next, 2),
        )
        .await
        .unwrap();
    assert_eq!(p2.items.iter().map(|c| c.id).collect::<Vec<_>>(), hits[2..4]);
    let all = find(s, w.org, "tick").await;
    assert_eq!(all.len(), 6);
    assert_eq!(all[0], api);
});

backend_tests!(never_matches_another_organizations_rows, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let other = world(s).await;
    let mine = conv(s, &w, None, &["secret plan"]).await;
    conv(s, &other, Some("secret plan"), &["secret plan"]).await;
    assert_eq!(find(s, w.org, "secret plan").await, vec![mine]);
    assert_eq!(find(s, other.org, "secret").await.len(), 1);
    assert!(!find(s, other.org, "secret").await.contains(&mine));
});

backend_tests!(accents_are_ignored_alike_on_both_databases, |db: TestDb| async move {
    let s = &*db.store;
    let w = world(s).await;
    let creme = conv(s, &w, None, &["Crème brûlée at the Café Müller"]).await;
    let plain = conv(s, &w, Some("Cafe opening hours"), &["Tieng Viet"]).await;
    assert_eq!(find(s, w.org, "creme brulee").await, vec![creme]);
    assert_eq!(find(s, w.org, "CRÈME").await, vec![creme]);
    assert_eq!(find(s, w.org, "muller").await, vec![creme]);
    // Accented or not, on either side.
    assert_eq!(find(s, w.org, "café").await, vec![plain, creme]);
    assert_eq!(find(s, w.org, "Tiếng Việt").await, vec![plain]);
});

/// A title-only search query for passages.
fn passage_query(text: &str) -> Query {
    let clauses = parlor_core::search::split_terms(text).into_iter().map(|t| vec![t]).collect();
    Query { clauses, combine: Combine::Any }
}

backend_tests!(text_indexed_by_an_older_version_is_normalized_again_at_open, |db: TestDb| async move {
    let mut db = db;
    let w = world(&*db.store).await;
    let c = conv(&*db.store, &w, Some("Réservation"), &["Crème brûlée"]).await;
    let contact = db
        .store
        .create_contact(w.org, NewContact { name: Some("ÉMILE Zola".into()), ..Default::default() })
        .await
        .unwrap();
    let doc = NewDocument {
        title: "Économie".into(),
        content: "Prix réduits".into(),
        metadata: Default::default(),
    };
    db.store.create_document(w.org, w.bot.id, doc).await.unwrap();
    // What a database written by version 1 holds: text lowercased but not folded, so the
    // folded queries of this version find nothing; contacts without their folded text.
    let stale = match db.backend {
        parlor_testkit::db::Backend::Sqlite => {
            "INSERT INTO message_index (message_index) VALUES ('delete-all');
             INSERT INTO conversation_title_fts (conversation_title_fts) VALUES ('delete-all');
             UPDATE passage_fts SET title = 'économie', text = 'prix réduits';
             UPDATE contacts SET search_folded = '';
             UPDATE parlor_meta SET value = 1"
        }
        parlor_testkit::db::Backend::Postgres => {
            "UPDATE messages SET content_search = lower(content);
             UPDATE conversations SET title_search = lower(title);
             UPDATE passages SET title_search = 'économie', text_search = 'prix réduits';
             UPDATE contacts SET search_folded = '';
             UPDATE parlor_meta SET value = 1"
        }
    };
    db.execute_raw(stale).await;
    let s = &*db.store;
    assert!(find(s, w.org, "creme").await.is_empty(), "the stale index misses folded queries");
    db.reopen().await;
    let s = &*db.store;
    assert_eq!(find(s, w.org, "creme").await, vec![c]);
    assert_eq!(find(s, w.org, "reservation").await, vec![c]);
    let hits = s.search_passages(w.org, w.bot.id, &passage_query("economie reduits"), None, 5).await.unwrap();
    assert_eq!(hits.len(), 1);
    let found = s.list_contacts(w.org, Some("émile"), page(1, 10)).await.unwrap();
    assert_eq!(found.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![contact.id]);
    // Done once: the version is recorded, and a second open changes nothing.
    db.reopen().await;
    assert_eq!(find(&*db.store, w.org, "brulee").await, vec![c]);
});
