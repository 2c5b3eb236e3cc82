//! The `http2` provider option: replies in flight share one HTTP/2 connection (h2c on a plain
//! `http` base URL), with the same stream and faults as over HTTP/1.1; without it, HTTP/1.1.

use super::{TIMEOUT, engine, request, run};
use futures::future::join_all;
use parlor_core::engine::EngineError;
use parlor_llm::{LlmEngine, ProviderConfig, Providers};
use parlor_testkit::fake_llm::{self, FakeLlm, Reply, Step};
use reqwest::Version;
use std::collections::HashSet;
use std::time::Duration;

fn http2_engine(fake: &FakeLlm) -> LlmEngine {
    let config =
        ProviderConfig::openai(&fake.base_url()).expect("base url").with_timeout(TIMEOUT).with_http2(true);
    LlmEngine::new("fake", config).expect("engine")
}

/// A reply whose pieces come apart in time, so replies started together overlap.
fn slow(pieces: &[&str]) -> Reply {
    let mut steps = Vec::new();
    for p in pieces {
        steps.push(Step::text(&fake_llm::sse(&fake_llm::delta_chunk(p).to_string())));
        steps.push(Step::Pause(Duration::from_millis(30)));
    }
    steps.push(Step::text(&fake_llm::sse(&fake_llm::finish_chunk("stop").to_string())));
    steps.push(Step::text(&fake_llm::sse(fake_llm::DONE)));
    Reply::raw(steps)
}

#[tokio::test]
async fn replies_in_flight_share_one_http2_connection() {
    let fake = FakeLlm::start().await;
    fake.set_default(slow(&["one ", "two ", "three"]));
    let engine = http2_engine(&fake);

    let outcomes = join_all((0..8).map(|_| run(&engine, request()))).await;

    for outcome in outcomes {
        assert_eq!(outcome.expect("reply").text(), "one two three");
    }
    let requests = fake.requests();
    assert_eq!(requests.len(), 8);
    assert!(requests.iter().all(|r| r.version == Version::HTTP_2), "{:?}", requests[0].version);
    let connections: HashSet<_> = requests.iter().map(|r| r.peer).collect();
    assert_eq!(connections.len(), 1, "one connection for all replies: {connections:?}");
}

#[tokio::test]
async fn without_the_option_each_reply_in_flight_has_its_own_http1_connection() {
    let fake = FakeLlm::start().await;
    fake.set_default(slow(&["one ", "two"]));
    let engine = engine(&fake);

    let outcomes = join_all((0..3).map(|_| run(&engine, request()))).await;

    assert!(outcomes.iter().all(|o| o.as_ref().is_ok_and(|o| o.text() == "one two")));
    let requests = fake.requests();
    assert!(requests.iter().all(|r| r.version == Version::HTTP_11));
    assert_eq!(requests.iter().map(|r| r.peer).collect::<HashSet<_>>().len(), 3);
}

#[tokio::test]
async fn faults_end_replies_over_http2_as_over_http1() {
    let fake = FakeLlm::start().await;
    let engine = http2_engine(&fake);
    // Cut mid-stream: the stream's reset ends that reply only.
    let chunk = |c: &str| Step::text(&fake_llm::sse(&fake_llm::delta_chunk(c).to_string()));
    fake.push(Reply::raw(vec![chunk("Half "), Step::Pause(Duration::from_millis(20)), Step::Abort]));
    let cut = run(&engine, request()).await.expect("headers came");
    assert_eq!((cut.text().as_str(), cut.end), ("Half ", Err(EngineError::Cut)));
    // A stalled stream times out; an error status is an error before any text.
    fake.push(Reply::raw(vec![chunk("Slow"), Step::Stall]));
    assert_eq!(run(&engine, request()).await.expect("headers came").end, Err(EngineError::Timeout));
    fake.push(Reply::error(503, "overloaded"));
    assert!(matches!(run(&engine, request()).await, Err(EngineError::Status { status: 503, .. })));
    // The connection survived all three.
    fake.push(Reply::stream(&["fine"]));
    assert_eq!(run(&engine, request()).await.expect("reply").text(), "fine");
    assert_eq!(fake.requests().iter().map(|r| r.peer).collect::<HashSet<_>>().len(), 1);
}

#[test]
fn http2_is_a_boolean_of_the_provider_table() {
    let ok = "[providers.x]\nkind = \"openai\"\nbase_url = \"http://h/v1\"\nhttp2 = true\n";
    assert!(Providers::from_toml_str(ok).is_ok());
    let bad = "[providers.x]\nkind = \"openai\"\nbase_url = \"http://h/v1\"\nhttp2 = \"yes\"\n";
    assert!(Providers::from_toml_str(bad).is_err());
}
