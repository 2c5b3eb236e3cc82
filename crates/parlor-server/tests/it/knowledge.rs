//! Knowledge documents over HTTP, and answer quality of the retrieval pipeline measured on
//! the database's own full-text index (not an approximation of it).

use crate::helpers::TestApp;
use async_trait::async_trait;
use parlor_core::StoreError;
use parlor_core::id::{ChatbotId, OrgId};
use parlor_core::input::{NewChatbot, NewDocument};
use parlor_core::knowledge::Vocabulary;
use parlor_core::knowledge::eval::{Category, EvalSet, SearchBackend, evaluate};
use parlor_core::model::PassageHit;
use parlor_core::search::Query;
use parlor_core::store::Store;
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;

backend_tests!(knowledge_crud, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let bot = app.create_chatbot("K").await;
    let base = format!("/api/chatbots/{}/knowledge/", bot["id"].as_str().unwrap());
    let r = app.post(&base, json!({"title": "How do refunds work?"})).await;
    assert_eq!(r.body, json!({"content": ["This field is required."]}));
    let r = app
        .post(&base, json!({"title": "How do refunds work?", "content": "Refunds take 5 days.", "metadata": {"lang": "en"}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["charactersCount"], 20);
    assert_eq!(r.body["metadata"], json!({"lang": "en"}));
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = app.patch(&format!("{base}{id}/"), json!({"content": "Refunds take 3 days."})).await;
    assert_eq!(r.body["content"], "Refunds take 3 days.");
    assert_eq!(app.get(&base).await.body["count"], 1);
    let missing = "01900000-0000-7000-8000-000000000000";
    assert_eq!(app.get(&format!("/api/chatbots/{missing}/knowledge/")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("{base}{missing}/")).await.status, StatusCode::NOT_FOUND);

    // Retrieval sees the update, and not the old text.
    let org = app.org;
    let chatbot: ChatbotId = bot["id"].as_str().unwrap().parse().unwrap();
    let hits = app
        .db
        .store
        .search_passages(org, chatbot, &Query::keyword("3 days").unwrap(), None, 5)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    let hits = app
        .db
        .store
        .search_passages(org, chatbot, &Query::keyword("5 days").unwrap(), None, 5)
        .await
        .unwrap();
    assert!(hits.is_empty());
    // Metadata filters: every given key must match.
    let en = json!({"lang": "en"}).as_object().unwrap().clone();
    let fr = json!({"lang": "fr"}).as_object().unwrap().clone();
    let q = Query::keyword("refunds").unwrap();
    assert_eq!(app.db.store.search_passages(org, chatbot, &q, Some(&en), 5).await.unwrap().len(), 1);
    assert_eq!(app.db.store.search_passages(org, chatbot, &q, Some(&fr), 5).await.unwrap().len(), 0);

    assert_eq!(app.delete(&format!("{base}{id}/")).await.status, StatusCode::NO_CONTENT);
    assert!(app.db.store.search_passages(org, chatbot, &q, None, 5).await.unwrap().is_empty());
});

/// Retrieval through a real store, for the evaluation harness.
struct StoreBackend {
    store: Arc<dyn Store>,
    org: OrgId,
    chatbot: ChatbotId,
}

#[async_trait]
impl SearchBackend for StoreBackend {
    async fn search(&self, query: &Query, limit: usize) -> Result<Vec<PassageHit>, StoreError> {
        self.store.search_passages(self.org, self.chatbot, query, None, limit).await
    }
}

backend_tests!(answer_quality_on_the_real_index, |db: TestDb| async move {
    let set = EvalSet::parse(
        include_str!("../../../parlor-core/tests/data/help_center.txt"),
        include_str!("../../../parlor-core/tests/data/help_center_questions.txt"),
    )
    .unwrap();
    let org = db.store.create_org("eval").await.unwrap();
    let bot = db.store.create_chatbot(org.id, NewChatbot::named("Help center")).await.unwrap();
    for (title, content) in &set.documents {
        let doc =
            NewDocument { title: title.clone(), content: content.clone(), metadata: Default::default() };
        db.store.create_document(org.id, bot.id, doc).await.unwrap();
    }
    let texts = db.store.passage_texts(org.id, bot.id).await.unwrap();
    let vocabulary = Vocabulary::from_texts(texts.iter().flat_map(|(t, x)| [t.as_str(), x.as_str()]));
    let backend = StoreBackend { store: db.store.clone(), org: org.id, chatbot: bot.id };
    let report =
        evaluate(&set, &vocabulary, &backend, &format!("{:?} full-text index", db.backend)).await.unwrap();
    println!("{report}");
    let (p, b) = (&report.pipeline, &report.baseline);
    assert!(p.accuracy(Category::ExactTitle) >= 0.9);
    assert!(p.accuracy(Category::Typo) >= 0.8);
    assert!(p.accuracy(Category::LongPassage) >= 0.75);
    assert!(p.accuracy(Category::Unanswerable) >= 0.6);
    assert!(p.accuracy(Category::Paraphrase) > b.accuracy(Category::Paraphrase));
    assert!(p.accuracy(Category::Typo) >= b.accuracy(Category::Typo) + 0.2);
});
