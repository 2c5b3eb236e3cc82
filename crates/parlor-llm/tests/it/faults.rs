//! Every way a provider fails becomes one clear `EngineError`, and nothing hangs.

use super::{TIMEOUT, engine, engine_at, request, run};
use parlor_core::engine::EngineError;
use parlor_core::model::FinishReason;
use parlor_testkit::fake_llm::{
    DONE, FakeLlm, Reply, Step, WRITE_GAP, delta_chunk, finish_chunk, refused_base_url,
};
use serde_json::json;
use std::time::{Duration, Instant};

async fn generate_error(script: Reply) -> EngineError {
    let fake = FakeLlm::start().await;
    fake.push(script);
    run(&engine(&fake), request()).await.expect_err("generate should fail")
}

#[tokio::test]
async fn a_refused_connection_is_unreachable() {
    let url = refused_base_url().await;

    let err = run(&engine_at(&url), request()).await.expect_err("refused");

    assert!(matches!(&err, EngineError::Unreachable(msg) if msg.starts_with("fake: ")), "{err:?}");
}

#[tokio::test]
async fn a_500_carries_the_openai_error_message() {
    let err =
        generate_error(Reply::error(500, "The server had an error while processing your request.")).await;

    assert_eq!(
        err,
        EngineError::Status {
            status: 500,
            body: "The server had an error while processing your request.".to_owned()
        }
    );
}

#[tokio::test]
async fn a_401_is_a_status_error() {
    let err = generate_error(Reply::error(401, "Incorrect API key provided.")).await;

    assert_eq!(err, EngineError::Status { status: 401, body: "Incorrect API key provided.".to_owned() });
}

#[tokio::test]
async fn other_error_bodies_are_kept_cut_to_about_a_kibibyte() {
    let err = generate_error(Reply::json(400, &json!({"error": "model 'x' not found"}))).await;
    assert_eq!(err, EngineError::Status { status: 400, body: "model 'x' not found".to_owned() });

    let long = "é".repeat(5000);
    let mut script = Reply::raw(vec![Step::text(&long)]);
    script.status = 503;
    script.content_type = "text/plain".to_owned();
    let EngineError::Status { status, body } = generate_error(script).await else {
        panic!("not a status error")
    };
    assert_eq!(status, 503);
    assert!(body.len() <= 1024 + '…'.len_utf8(), "{}", body.len());
    assert!(body.starts_with("éé") && body.ends_with('…'));
}

#[tokio::test]
async fn a_malformed_chunk_ends_the_reply_after_what_came() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::events([delta_chunk("Hel").to_string(), "{\"choices\": [".to_owned(), DONE.to_owned()]));

    let out = run(&engine(&fake), request()).await.expect("generate");

    assert_eq!(out.deltas, ["Hel"]);
    assert!(matches!(out.end, Err(EngineError::Malformed(_))), "{:?}", out.end);
}

#[tokio::test]
async fn invalid_utf8_is_malformed() {
    let fake = FakeLlm::start().await;
    let mut bad = format!("data: {}\n\n", delta_chunk("ok")).into_bytes();
    bad.extend_from_slice(b"data: {\"choices\": [{\"delta\": {\"content\": \"\xff\xfe\"}}]}\n\n");
    fake.push(Reply::raw(vec![Step::Write(bad)]));

    let out = run(&engine(&fake), request()).await.expect("generate");

    assert_eq!(out.deltas, ["ok"]);
    assert!(matches!(out.end, Err(EngineError::Malformed(_))), "{:?}", out.end);
}

#[tokio::test]
async fn an_error_payload_mid_stream_is_a_status_error() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::events([
        delta_chunk("Hel").to_string(),
        json!({"error": {"message": "upstream overloaded", "type": "server_error"}}).to_string(),
    ]));

    let out = run(&engine(&fake), request()).await.expect("generate");

    assert_eq!(out.deltas, ["Hel"]);
    assert_eq!(out.end, Err(EngineError::Status { status: 200, body: "upstream overloaded".to_owned() }));
}

#[tokio::test]
async fn a_stream_that_ends_early_is_cut() {
    let fake = FakeLlm::start().await;
    // A clean end of the body, before `[DONE]` or a finish reason.
    fake.push(Reply::events([delta_chunk("Hel").to_string(), delta_chunk("lo").to_string()]));
    // The connection dropped mid-body (after a pause, so what came before is sent first).
    fake.push(Reply::events([delta_chunk("Hel").to_string()]).then(Step::Pause(WRITE_GAP)).then(Step::Abort));
    // Dropped in the middle of an event.
    fake.push(Reply::raw(vec![
        Step::text("data: {\"choices\": [{\"delta\": {\"con"),
        Step::Pause(WRITE_GAP),
        Step::Abort,
    ]));

    let clean = run(&engine(&fake), request()).await.expect("generate");
    let aborted = run(&engine(&fake), request()).await.expect("generate");
    let mid_event = run(&engine(&fake), request()).await.expect("generate");

    assert_eq!(clean.deltas, ["Hel", "lo"]);
    assert_eq!(clean.end, Err(EngineError::Cut));
    assert_eq!(aborted.deltas, ["Hel"]);
    assert_eq!(aborted.end, Err(EngineError::Cut));
    assert!(mid_event.deltas.is_empty());
    assert_eq!(mid_event.end, Err(EngineError::Cut));
}

#[tokio::test]
async fn a_stall_mid_stream_times_out() {
    let fake = FakeLlm::start().await;
    fake.push(
        Reply::events([delta_chunk("Hel").to_string(), delta_chunk("lo").to_string()]).then(Step::Stall),
    );
    let started = Instant::now();

    let out = run(&engine(&fake), request()).await.expect("generate");

    assert_eq!(out.deltas, ["Hel", "lo"]);
    assert_eq!(out.end, Err(EngineError::Timeout));
    assert!(started.elapsed() < TIMEOUT * 4, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_stall_after_the_finish_reason_keeps_the_reply() {
    let fake = FakeLlm::start().await;
    fake.push(
        Reply::events([delta_chunk("Hi").to_string(), finish_chunk("length").to_string()]).then(Step::Stall),
    );

    let out = run(&engine(&fake), request()).await.expect("generate");

    assert_eq!(out.deltas, ["Hi"]);
    assert_eq!(out.end, Ok((FinishReason::Length, None)));
}

#[tokio::test]
async fn silence_shorter_than_the_idle_timeout_is_fine() {
    let fake = FakeLlm::start().await;
    let pause = Step::Pause(TIMEOUT / 2);
    // Longer in total than the timeout, but never silent for that long: pings count as life.
    fake.push(Reply::raw(vec![
        Step::text(": ping\n\n"),
        pause.clone(),
        Step::text(": ping\n\n"),
        pause.clone(),
        Step::text(&format!("data: {}\n\n", delta_chunk("slow"))),
        pause,
        Step::text(&format!("data: {DONE}\n\n")),
    ]));

    let out = run(&engine(&fake), request()).await.expect("generate");

    assert_eq!(out.deltas, ["slow"]);
    assert_eq!(out.end, Ok((FinishReason::Stop, None)));
}

#[tokio::test]
async fn no_headers_in_time_is_a_timeout() {
    let started = Instant::now();

    let err = generate_error(Reply::stream(&["late"]).delay_headers(Duration::from_secs(5))).await;

    assert_eq!(err, EngineError::Timeout);
    assert!(started.elapsed() < TIMEOUT * 4, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_slow_first_byte_within_the_timeout_is_fine() {
    let fake = FakeLlm::start().await;
    fake.push(Reply::stream(&["late"]).delay_headers(TIMEOUT / 2));

    let out = run(&engine(&fake), request()).await.expect("generate");

    assert_eq!(out.deltas, ["late"]);
}
