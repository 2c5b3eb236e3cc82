//! What the client sends: endpoint, model, temperature, streaming options, the grounded
//! system prompt, history, the question (with image parts) and the bearer key.

use super::{engine, request, run};
use parlor_llm::Providers;
use parlor_testkit::fake_llm::{FakeLlm, Reply};
use serde_json::json;

#[tokio::test]
async fn sends_a_streaming_grounded_chat_request() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::stream(&["ok"]));

    run(&engine(&fake), request()).await.expect("reply");

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.model(), Some("llama3"));
    assert_eq!(sent.temperature(), Some(0.3));
    assert_eq!(sent.body["stream"], json!(true));
    assert_eq!(sent.body["stream_options"], json!({"include_usage": true}));
    assert_eq!(sent.authorization(), None, "no key configured, no auth header");

    let messages = sent.messages();
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert_eq!(messages[0]["role"], "system");
    let system = messages[0]["content"].as_str().expect("system text");
    assert!(system.starts_with("You are Parlor's helpful assistant."), "{system}");
    assert!(
        system.contains("[1] Account help\nUse the Forgot password link on the sign-in page."),
        "{system}"
    );
    assert!(system.contains("[2] FAQ\nPasswords must be 12 characters long."), "{system}");
    assert!(system.contains("do not contain the answer"), "{system}");
    assert!(system.contains("Sorry, I don't know."), "{system}");
    assert_eq!(messages[1], json!({"role": "user", "content": "Hi"}));
    assert_eq!(messages[2], json!({"role": "assistant", "content": "Hello! How can I help?"}));
    assert_eq!(messages[3], json!({"role": "user", "content": "How do I reset my password?"}));
}

#[tokio::test]
async fn images_make_the_question_a_list_of_parts() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::stream(&["ok"]));
    let mut req = request();
    req.history.clear();
    req.image_urls =
        vec!["https://example.com/a.png".to_owned(), "data:image/png;base64,iVBORw0K".to_owned()];

    run(&engine(&fake), req).await.expect("reply");

    let sent = &fake.requests()[0];
    let messages = sent.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[1],
        json!({"role": "user", "content": [
            {"type": "text", "text": "How do I reset my password?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
        ]})
    );
}

#[tokio::test]
async fn no_passages_still_tells_the_model_not_to_guess() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::stream(&["ok"]));
    let mut req = request();
    req.passages.clear();
    req.instructions.clear();

    run(&engine(&fake), req).await.expect("reply");

    let sent = &fake.requests()[0];
    let system = sent.messages()[0]["content"].as_str().expect("system text").to_owned();
    assert!(system.starts_with("No passages"), "{system}");
    assert!(!system.contains("[1]"), "{system}");
}

#[tokio::test]
async fn a_configured_key_is_sent_as_bearer() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::stream(&["ok"]));
    let text = format!(
        "[providers.fake]\nkind = \"openai\"\nbase_url = \"{}\"\napi_key_env = \"FAKE_KEY\"\ntimeout_s = 2\n",
        fake.base_url()
    );
    let providers =
        Providers::from_toml_str_with_env(&text, |var| (var == "FAKE_KEY").then(|| "sk-test-123".to_owned()))
            .expect("valid");
    let (engine, model) = providers.resolve("fake/org/model-7b").expect("resolves");
    let mut req = request();
    req.model = model;

    let mut stream = engine.generate(req).await.expect("generate");
    while futures::StreamExt::next(&mut stream).await.is_some() {}

    let sent = &fake.requests()[0];
    assert_eq!(sent.authorization(), Some("Bearer sk-test-123"));
    assert_eq!(sent.model(), Some("org/model-7b"));
}
