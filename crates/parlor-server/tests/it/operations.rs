//! Operations endpoints: `GET /metrics` in Prometheus's format, public.

use crate::helpers::TestApp;
use parlor_testkit::db::TestDb;
use reqwest::StatusCode;

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    assert_eq!(app.get("/api/chatbots/").await.status, StatusCode::OK);
    let bot = app.create_chatbot("Bot").await;
    let missing = format!("/api/v1/chatbots/{}/", uuid::Uuid::now_v7());
    assert_eq!(app.get(&missing).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/nothing-here").await.status, StatusCode::NOT_FOUND);
    assert!(bot["id"].is_string());

    // Public: no key.
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = r.text().await.unwrap();
    // The recorder is shared by every app of this test process, so look for series, not counts.
    for series in [
        r#"http_requests_total{method="GET",route="/api/chatbots",status="200"}"#,
        r#"http_requests_total{method="POST",route="/api/chatbots",status="201"}"#,
        r#"http_requests_total{method="GET",route="/api/v1/chatbots/{id}",status="404"}"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"}"#,
        r#"http_request_duration_seconds_bucket{method="GET",route="/api/chatbots",status="200",le="0.1"}"#,
    ] {
        assert!(text.contains(series), "missing {series} in:\n{text}");
    }
    // Ids never become labels.
    assert!(!text.contains(&missing[..20]) || !text.contains(missing.trim_end_matches('/')), "{text}");
}
