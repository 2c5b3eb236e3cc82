//! Reading replies: normal streams, the lenient chunk shapes real servers send, odd TCP
//! splits, and servers that answer with one JSON completion.

use super::{Outcome, engine, request, run, usage};
use parlor_core::model::FinishReason;
use parlor_testkit::fake_llm::{
    DONE, FAKE_PROMPT_TOKENS, FakeLlm, Reply, Step, delta_chunk, finish_chunk, sse, usage_chunk,
};
use serde_json::json;

async fn reply_to(script: Reply) -> Outcome {
    let fake = FakeLlm::start().await;
    fake.push(script);
    run(&engine(&fake), request()).await.expect("generate")
}

#[tokio::test]
async fn a_normal_stream_yields_each_piece_then_done_with_usage() {
    let out = reply_to(Reply::stream(&["Use the ", "Forgot password", " link."])).await;

    assert_eq!(out.deltas, ["Use the ", "Forgot password", " link."]);
    assert_eq!(out.end, Ok((FinishReason::Stop, usage(FAKE_PROMPT_TOKENS, 3))));
}

#[tokio::test]
async fn bare_chunks_without_ids_nulls_or_usage_are_accepted() {
    let out = reply_to(Reply::events([
        json!({"choices": [{"delta": {"role": "assistant"}}]}).to_string(),
        json!({"choices": [{"delta": {"content": null}}]}).to_string(),
        json!({"choices": [{"index": 0, "delta": {"content": "Hi"}}]}).to_string(),
        json!({"choices": [{"delta": {}}]}).to_string(),
        json!({"choices": [{"delta": {"content": " there"}, "finish_reason": null}], "usage": null})
            .to_string(),
        json!({"choices": [{"delta": {}, "finish_reason": "stop"}]}).to_string(),
        DONE.to_owned(),
    ]))
    .await;

    assert_eq!(out.deltas, ["Hi", " there"]);
    assert_eq!(out.end, Ok((FinishReason::Stop, None)));
}

#[tokio::test]
async fn finish_reasons_map_to_stop_or_length() {
    for (reason, finish) in [
        ("abort", FinishReason::Stop),
        ("eos", FinishReason::Stop),
        ("content_filter", FinishReason::Stop),
        ("something_new", FinishReason::Stop),
        ("length", FinishReason::Length),
    ] {
        let out = reply_to(Reply::events([
            delta_chunk("partial").to_string(),
            finish_chunk(reason).to_string(),
            usage_chunk(5, 1).to_string(),
            DONE.to_owned(),
        ]))
        .await;
        assert_eq!(out.deltas, ["partial"], "{reason}");
        assert_eq!(out.end, Ok((finish, usage(5, 1))), "{reason}");
    }
}

#[tokio::test]
async fn an_event_split_across_writes_is_reassembled() {
    // Cut inside `data:`, inside the JSON, inside the two bytes of "é" and between the two
    // newlines that end the event.
    let event = sse(&delta_chunk("café").to_string());
    let e_acute = event.find('é').expect("é");
    let end = event.len();
    let mut raw = event.clone().into_bytes();
    raw.extend_from_slice(sse(&finish_chunk("stop").to_string()).as_bytes());
    raw.extend_from_slice(sse(DONE).as_bytes());

    let out = reply_to(Reply::split(&raw, &[3, 20, e_acute + 1, end - 1])).await;

    assert_eq!(out.text(), "café");
    assert_eq!(out.end, Ok((FinishReason::Stop, None)));
}

#[tokio::test]
async fn several_events_in_one_write_each_yield() {
    let all: String = [
        sse(&delta_chunk("one").to_string()),
        sse(&delta_chunk(" two").to_string()),
        sse(&delta_chunk(" three").to_string()),
        sse(&finish_chunk("stop").to_string()),
        sse(&usage_chunk(4, 3).to_string()),
        sse(DONE),
    ]
    .concat();

    let out = reply_to(Reply::raw(vec![Step::text(&all)])).await;

    assert_eq!(out.deltas, ["one", " two", " three"]);
    assert_eq!(out.end, Ok((FinishReason::Stop, usage(4, 3))));
}

#[tokio::test]
async fn comments_crlf_and_no_space_after_data_are_read() {
    let raw = format!(
        ": keep-alive\r\n\r\ndata:{}\r\n\r\nevent: message\ndata: {}\n\ndata: {}\n\n",
        delta_chunk("a"),
        delta_chunk("b"),
        DONE
    );

    let whole = reply_to(Reply::raw(vec![Step::text(&raw)])).await;
    // A CRLF split between its CR and LF must not count as two line ends.
    let crlf = raw.find("\r\n\r\nevent").expect("second CRLF pair");
    let split = reply_to(Reply::split(raw.as_bytes(), &[crlf + 1, crlf + 3])).await;

    for out in [whole, split] {
        assert_eq!(out.deltas, ["a", "b"]);
        assert_eq!(out.end, Ok((FinishReason::Stop, None)));
    }
}

#[tokio::test]
async fn usage_on_the_finish_chunk_and_content_as_parts_are_read() {
    let out = reply_to(Reply::events([
        json!({"choices": [{"delta": {"content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}]}}]})
            .to_string(),
        json!({"choices": [{"delta": {}, "finish_reason": "length"}],
               "usage": {"prompt_tokens": 2, "completion_tokens": 9}})
        .to_string(),
        DONE.to_owned(),
    ]))
    .await;

    assert_eq!(out.deltas, ["xy"]);
    // `total_tokens` missing: the sum.
    assert_eq!(out.end, Ok((FinishReason::Length, usage(2, 9))));
}

#[tokio::test]
async fn done_without_a_finish_reason_is_a_stop() {
    let out = reply_to(Reply::events([delta_chunk("hi").to_string(), DONE.to_owned()])).await;

    assert_eq!(out.deltas, ["hi"]);
    assert_eq!(out.end, Ok((FinishReason::Stop, None)));
}

#[tokio::test]
async fn a_close_after_the_finish_reason_is_a_complete_reply() {
    let out =
        reply_to(Reply::events([delta_chunk("done").to_string(), finish_chunk("stop").to_string()])).await;

    assert_eq!(out.deltas, ["done"]);
    assert_eq!(out.end, Ok((FinishReason::Stop, None)));
}

#[tokio::test]
async fn other_choices_than_the_first_are_ignored() {
    let out = reply_to(Reply::events([
        json!({"choices": [{"index": 1, "delta": {"content": "other"}}, {"index": 0, "delta": {"content": "mine"}}]})
            .to_string(),
        DONE.to_owned(),
    ]))
    .await;

    assert_eq!(out.deltas, ["mine"]);
}

#[tokio::test]
async fn a_json_answer_to_a_stream_request_is_one_delta() {
    let out = reply_to(Reply::completion("The whole answer.")).await;

    assert_eq!(out.deltas, ["The whole answer."]);
    assert_eq!(out.end, Ok((FinishReason::Stop, usage(FAKE_PROMPT_TOKENS, 1))));
}
