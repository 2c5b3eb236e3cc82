//! Records and their Excel export: records made by completions (fields, New and Follow, a
//! failed reply), date filters in the configured zone (across a DST change), text filters,
//! validation, pagination, and the export read back with calamine and compared row by row
//! with the list.

use crate::helpers::TestApp;
use calamine::{Data, Range, Reader, Xlsx};
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use parlor_core::clock;
use parlor_llm::{ProviderConfig, Providers};
use parlor_testkit::backend_tests;
use parlor_testkit::db::{Backend, TestDb};
use parlor_testkit::fake_llm::{FakeLlm, Reply};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Cursor;
use std::time::Duration;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// An app whose chatbots may use the provider `fake`, in zone `tz`.
async fn app_with(db: TestDb, fake: &FakeLlm, tz: Tz) -> TestApp {
    let mut providers = Providers::empty();
    let config = ProviderConfig::openai(&fake.base_url()).unwrap().with_timeout(Duration::from_secs(2));
    providers.insert_config("fake", config).unwrap();
    TestApp::spawn_with(db, move |mut s| {
        s.time_zone = tz;
        s.with_providers(providers)
    })
    .await
}

async fn llm_bot(app: &TestApp, name: &str) -> Value {
    let r = app.post("/api/chatbots/", json!({"name": name, "model": "fake/test-model"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

/// Asks `bot` a question, in `conversation` or a new one, with the fake answering `answer`;
/// returns the completions body (`conversationId`, `userMessage`, `botMessage`).
async fn ask(
    app: &TestApp,
    fake: &FakeLlm,
    bot: &Value,
    conversation: Option<&Value>,
    q: &str,
    answer: &str,
) -> Value {
    fake.push(Reply::stream(&[answer]));
    let mut body = json!({"message": {"content": q}});
    if let Some(c) = conversation {
        body["conversation"] = c.clone();
    }
    let r = app.post(&format!("/api/chatbots/{}/completions/", bot["id"].as_str().unwrap()), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

fn records_path(bot: &Value, query: &str) -> String {
    format!("/api/chatbots/{}/records/?{query}", bot["id"].as_str().unwrap())
}

fn export_path(bot: &Value, query: &str) -> String {
    format!("/api/chatbots/{}/records/export-excel/?{query}", bot["id"].as_str().unwrap())
}

/// `startDate` and `endDate` around today (UTC), so a test running over midnight still
/// finds what it just made.
fn around_today() -> String {
    let today = clock::now().0.date_naive();
    format!("startDate={}&endDate={}", today.pred_opt().unwrap(), today.succ_opt().unwrap())
}

/// The ids of a list body's results, in order.
fn ids(body: &Value) -> Vec<String> {
    body["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

/// Moves a record's question time, so date filters can be tested at exact instants. Written
/// straight into the test's database, as no API sets it.
async fn set_asked_at(db: &TestDb, record: &Value, at: &str) {
    let id: uuid::Uuid = record["id"].as_str().unwrap().parse().unwrap();
    let at: DateTime<Utc> = at.parse().unwrap();
    match db.backend {
        Backend::Sqlite => {
            let opts = parlor_store_sqlite::connect_options(&db.data_dir.path().join("parlor.db"));
            let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
            sqlx::query("UPDATE records SET created_at = ? WHERE id = ?")
                .bind(at.timestamp_micros())
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(db.database_url.as_deref().unwrap()).await.unwrap();
            sqlx::query("UPDATE records SET created_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}

/// Runs `sql` on the test's database (both backends take it as written).
async fn execute(db: &TestDb, sql: &'static str) {
    match db.backend {
        Backend::Sqlite => {
            let opts = parlor_store_sqlite::connect_options(&db.data_dir.path().join("parlor.db"));
            let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(db.database_url.as_deref().unwrap()).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

backend_tests!(completions_make_records, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let app = app_with(db, &fake, Tz::UTC).await;
    let bot = llm_bot(&app, "Helper").await;
    let first = ask(&app, &fake, &bot, None, "When do you open?", "At nine.").await;
    let conv = first["conversationId"].clone();
    let second = ask(&app, &fake, &bot, Some(&conv), "And on Sundays?", "Closed on Sundays.").await;
    // A reply that fails still makes a record, with its error.
    fake.push(Reply::error(500, "the model is overloaded"));
    let r = app
        .post(
            &format!("/api/chatbots/{}/completions/", bot["id"].as_str().unwrap()),
            json!({"message": {"content": "Hello?"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.body);

    let list = app.get(&records_path(&bot, &around_today())).await;

    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["count"], 3);
    assert_eq!(list.body["next"], Value::Null);
    assert_eq!(list.body["previous"], Value::Null);
    let results = list.body["results"].as_array().unwrap();
    let (failed, follow, new) = (&results[0], &results[1], &results[2]);
    // Every field of the contract, always present.
    let keys = [
        "id",
        "inputMessage",
        "condenseMessage",
        "outputMessage",
        "context",
        "faithfulnessScore",
        "answerRelevancyScore",
        "contextPrecisionScore",
        "answerCorrectnessScore",
        "answerSimilarityScore",
        "contextRecallScore",
        "displayFaithfulnessScore",
        "displayAnswerRelevancyScore",
        "displayContextPrecisionScore",
        "displayAnswerCorrectnessScore",
        "displayAnswerSimilarityScore",
        "displayContextRecallScore",
        "replyTime",
        "createdAt",
        "error",
        "conversation",
        "contact",
        "userMessageId",
        "botMessageId",
        "finishReason",
        "type",
    ];
    for r in results {
        let mut have: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = keys.to_vec();
        have.sort_unstable();
        want.sort_unstable();
        assert_eq!(have, want);
        for k in keys.iter().filter(|k| k.contains("Score")) {
            assert_eq!(r[*k], Value::Null, "{k}");
        }
        let reply_time = r["replyTime"].as_str().unwrap();
        let (secs, millis) = reply_time.split_once('.').unwrap();
        assert!(secs.parse::<u64>().is_ok() && millis.len() == 3, "{reply_time}");
    }
    assert_eq!(new["id"], first["botMessage"]["id"]);
    assert_eq!(new["botMessageId"], first["botMessage"]["id"]);
    assert_eq!(new["userMessageId"], first["userMessage"]["id"]);
    assert_eq!(new["createdAt"], first["userMessage"]["createdAt"], "when the question was asked");
    assert_eq!(new["inputMessage"], "When do you open?");
    assert_eq!(new["condenseMessage"], "When do you open?");
    assert_eq!(new["outputMessage"], "At nine.");
    assert_eq!(new["conversation"], conv);
    let contact =
        app.get(&format!("/api/conversations/{}/", conv.as_str().unwrap())).await.body["contact"].clone();
    assert_eq!(new["contact"], if contact.is_null() { Value::Null } else { contact["id"].clone() });
    assert_eq!(new["finishReason"], "stop");
    assert_eq!(new["error"], Value::Null);
    assert_eq!(new["type"], "New");
    assert_eq!(follow["id"], second["botMessage"]["id"]);
    assert_eq!(follow["type"], "Follow");
    assert_eq!(follow["outputMessage"], "Closed on Sundays.");
    assert_eq!(failed["type"], "New");
    assert_eq!(failed["finishReason"], "error");
    assert!(failed["error"].as_str().unwrap().contains("overloaded"), "{failed}");

    // Another chatbot's records are not these.
    let other = llm_bot(&app, "Other").await;
    let r = app.get(&records_path(&other, &around_today())).await;
    assert_eq!(
        (r.status, r.body["count"].clone(), r.body["results"].clone()),
        (StatusCode::OK, json!(0), json!([]))
    );
});

backend_tests!(dates_are_whole_days_in_the_configured_zone, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let app = app_with(db, &fake, chrono_tz::Europe::Paris).await;
    let bot = llm_bot(&app, "Paris").await;
    // Paris changes to summer time on 2026-03-29 at 02:00 (UTC+1 → UTC+2): that day is 23
    // hours long, from 2026-03-28T23:00Z to 2026-03-29T22:00Z.
    let times = [
        "2026-03-28T22:59:59.999Z", // 23:59:59.999 on the 28th, Paris time
        "2026-03-28T23:00:00Z",     // midnight starting the 29th
        "2026-03-29T21:59:59.999Z", // 23:59:59.999 on the 29th (summer time)
        "2026-03-29T22:00:00Z",     // midnight starting the 30th
    ];
    let mut made = vec![];
    for (i, at) in times.iter().enumerate() {
        let r = ask(&app, &fake, &bot, None, &format!("question {i}"), "answer").await;
        set_asked_at(&app.db, &r["botMessage"], at).await;
        made.push(r["botMessage"]["id"].as_str().unwrap().to_string());
    }
    let days = |start: &str, end: &str| records_path(&bot, &format!("startDate={start}&endDate={end}"));

    assert_eq!(
        ids(&app.get(&days("2026-03-29", "2026-03-29")).await.body),
        vec![made[2].clone(), made[1].clone()]
    );
    assert_eq!(ids(&app.get(&days("2026-03-28", "2026-03-28")).await.body), vec![made[0].clone()]);
    assert_eq!(ids(&app.get(&days("2026-03-30", "2026-03-30")).await.body), vec![made[3].clone()]);
    let all = app.get(&days("2026-03-28", "2026-03-30")).await.body;
    assert_eq!(ids(&all), made.iter().rev().cloned().collect::<Vec<_>>(), "newest first");
    assert_eq!(all["results"][3]["createdAt"], "1774738799999");
    assert_eq!(app.get(&days("2026-03-27", "2026-03-27")).await.body["count"], 0);
    // The export takes the same range and shows the times on Paris's wall clock.
    let (bytes, _) = export(&app, &export_path(&bot, "startDate=2026-03-29&endDate=2026-03-29")).await;
    let range = sheet(&bytes);
    assert_eq!(range.height(), 3);
    assert_eq!(date_time(&range, 1, 13), "2026-03-29T23:59:59.999".parse::<NaiveDateTime>().unwrap());
    assert_eq!(date_time(&range, 2, 13), "2026-03-29T00:00:00".parse::<NaiveDateTime>().unwrap());
});

backend_tests!(text_filters_are_case_insensitive_substrings, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let app = app_with(db, &fake, Tz::UTC).await;
    let bot = llm_bot(&app, "Filters").await;
    let qa = [
        ("Où est la CRÈME brûlée?", "Au menu ΟΔΟΣ."),
        ("I'm 100% sure_thing", "STRASSE und Straße, ÜBER alles"),
        ("Привет, МИР", "plain answer"),
        ("nothing special", "Ünïcödé answer"),
    ];
    let mut made = vec![];
    for (q, a) in qa {
        made.push(ask(&app, &fake, &bot, None, q, a).await["botMessage"]["id"].as_str().unwrap().to_string());
    }
    let find = |query: &str| {
        let path = records_path(&bot, &format!("{}&{query}", around_today()));
        let (app, query) = (&app, query.to_string());
        async move {
            let r = app.get(&path).await;
            assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
            let mut found: Vec<String> = ids(&r.body);
            found.reverse();
            found
        }
    };

    assert_eq!(find("userMessage=cr%C3%A8me").await, vec![made[0].clone()]);
    assert_eq!(find("userMessage=CR%C3%88ME%20BR%C3%9B").await, vec![made[0].clone()], "CRÈME BRÛ");
    assert_eq!(find("userMessage=%D0%BC%D0%B8%D1%80").await, vec![made[2].clone()], "мир");
    assert_eq!(find("userMessage=0%25").await, vec![made[1].clone()], "a literal %, no wildcard");
    assert_eq!(find("userMessage=_").await, vec![made[1].clone()], "a literal _, no wildcard");
    assert_eq!(find("userMessage=xyz").await, Vec::<String>::new());
    assert_eq!(find("botMessage=%CE%BF%CE%B4%CE%BF%CF%82").await, vec![made[0].clone()], "οδος finds ΟΔΟΣ");
    assert_eq!(find("botMessage=%C3%BCber").await, vec![made[1].clone()], "über");
    assert_eq!(find("botMessage=%C3%BC").await, vec![made[1].clone(), made[3].clone()], "ü");
    assert_eq!(find("botMessage=answer&userMessage=%D0%BF%D1%80%D0%B8").await, vec![made[2].clone()], "both");
    assert_eq!(find("userMessage=&botMessage=").await.len(), 4, "empty filters filter nothing");
    // The export filters alike.
    let (bytes, _) = export(&app, &export_path(&bot, &format!("{}&botMessage=%C3%BC", around_today()))).await;
    let range = sheet(&bytes);
    assert_eq!(range.height(), 3);
    assert_eq!(text(&range, 1, 0), made[3]);
    assert_eq!(text(&range, 2, 0), made[1]);
});

backend_tests!(records_from_before_the_folded_columns_are_folded_at_start, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let app = app_with(db, &fake, Tz::UTC).await;
    let bot = llm_bot(&app, "Old").await;
    let made = ask(&app, &fake, &bot, None, "ÉTÉ question", "ANSWER Ω").await["botMessage"]["id"].clone();
    // As a record written before migration 0005 looks.
    execute(&app.db, "UPDATE records SET input_folded = NULL, output_folded = NULL").await;

    let app = app.restart().await;

    let r = app
        .get(&records_path(&bot, &format!("{}&userMessage=%C3%A9t%C3%A9&botMessage=%CF%89", around_today())))
        .await;
    assert_eq!(r.body["results"][0]["id"], made, "{}", r.body);
});

backend_tests!(filters_are_validated_as_drf_does, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let bot = app.create_chatbot("Bot").await;
    let required = json!(["This field is required."]);
    let format = json!(["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]);
    let cases = [
        ("", json!({"startDate": required, "endDate": required})),
        ("startDate=&endDate=2026-01-01", json!({"startDate": required})),
        ("startDate=2026-01-01", json!({"endDate": required})),
        ("startDate=01/02/2026&endDate=2026-02-30", json!({"startDate": format, "endDate": format})),
        ("startDate=2026-01-01T00:00&endDate=tomorrow", json!({"startDate": format, "endDate": format})),
        ("endDate=2026-13-01", json!({"startDate": required, "endDate": format})),
        (
            "startDate=2026-01-02&endDate=2026-01-01",
            json!({"endDate": ["Ensure this value is greater than or equal to 2026-01-02."]}),
        ),
    ];
    for (query, want) in cases {
        for path in [records_path(&bot, query), export_path(&bot, query)] {
            let r = app.get(&path).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
            assert_eq!(r.body, want, "{path}");
        }
    }
    // One day (start = end) and single-digit months and days are fine.
    let r = app.get(&records_path(&bot, "startDate=2026-1-5&endDate=2026-01-05")).await;
    assert_eq!((r.status, r.body["count"].clone()), (StatusCode::OK, json!(0)));
    let r = app.get(&export_path(&bot, "startDate=2026-01-05&endDate=2026-01-05")).await;
    assert_eq!(r.status, StatusCode::OK);
});

backend_tests!(unknown_chatbots_are_404, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let q = "startDate=2026-01-01&endDate=2026-01-31";
    let missing = json!({"id": uuid::Uuid::now_v7().to_string()});
    let other_key = app.other_org_key().await;
    let bot = app.create_chatbot("Mine").await;
    for path in
        [records_path(&missing, q), export_path(&missing, q), "/api/chatbots/nope/records/?".to_string() + q]
    {
        let r = app.get(&path).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
            "{path}"
        );
    }
    for path in [records_path(&bot, q), export_path(&bot, q)] {
        let r = app.call_as(&format!("Api-Key {other_key}"), reqwest::Method::GET, &path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "another organization's chatbot: {path}");
        let r = app.call_as("", reqwest::Method::GET, &path, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // The path without the trailing slash and under /api/v1/ too.
    let id = bot["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/api/v1/chatbots/{id}/records?{q}")).await.status, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/api/v1/chatbots/{id}/records/export-excel?{q}")).await.status,
        StatusCode::OK
    );
});

backend_tests!(records_are_paged_by_number, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let app = app_with(db, &fake, Tz::UTC).await;
    let bot = llm_bot(&app, "Pages").await;
    let mut made = vec![];
    for i in 0..5 {
        made.push(
            ask(&app, &fake, &bot, None, &format!("q{i}"), "a").await["botMessage"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    made.reverse(); // newest first
    let q = format!("{}&pageSize=2", around_today());

    let p1 = app.get(&records_path(&bot, &q)).await.body;
    assert_eq!(p1["count"], 5);
    assert_eq!(ids(&p1), made[0..2]);
    assert_eq!(p1["previous"], Value::Null);
    let p2 = app.get(&crate::helpers::path_of(&p1["next"])).await.body;
    assert_eq!(ids(&p2), made[2..4]);
    assert!(p2["next"].as_str().unwrap().contains("page=3"));
    assert!(p2["next"].as_str().unwrap().contains("startDate="), "links keep the filters");
    let p3 = app.get(&crate::helpers::path_of(&p2["next"])).await.body;
    assert_eq!(ids(&p3), made[4..5]);
    assert_eq!(p3["next"], Value::Null);
    let r = app.get(&records_path(&bot, &format!("{q}&page=4"))).await;
    assert_eq!((r.status, r.body), (StatusCode::NOT_FOUND, json!({"detail": "Invalid page."})));
    // Filters are checked before the page, as in DRF.
    let r = app.get(&records_path(&bot, "page=9")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
});

backend_tests!(export_matches_the_list_row_by_row, |db: TestDb| async move {
    let fake = FakeLlm::start().await;
    let app = app_with(db, &fake, chrono_tz::America::New_York).await;
    let r = app.post("/api/chatbots/", json!({"name": "Café \"Support\" Bot", "model": "fake/m"})).await;
    let bot = r.body;
    // Enough records for several of the export's store batches would take too long here;
    // the batching itself is covered by a store-level test below. These cover the cells.
    let first = ask(&app, &fake, &bot, None, "=1+2 looks like a formula", "-5 is negative").await;
    let conv = first["conversationId"].clone();
    ask(&app, &fake, &bot, Some(&conv), "bad\u{1}char and\u{b}more", "tab\tand\nnewline").await;
    ask(&app, &fake, &bot, None, "日本語の質問", &"long answer ".repeat(3000)).await;
    fake.push(Reply::error(500, "down"));
    app.post(
        &format!("/api/chatbots/{}/completions/", bot["id"].as_str().unwrap()),
        json!({"message": {"content": "@who"}}),
    )
    .await;
    let today = clock::now().0.date_naive();
    let q = format!("startDate={}&endDate={}", today.pred_opt().unwrap(), today.succ_opt().unwrap());

    let (bytes, headers) = export(&app, &export_path(&bot, &q)).await;

    let list = app.get(&records_path(&bot, &format!("{q}&pageSize=100"))).await.body;
    let records = list["results"].as_array().unwrap();
    assert_eq!(records.len(), 4);
    let disposition = headers["content-disposition"].to_str().unwrap();
    let (from, to) = (today.pred_opt().unwrap(), today.succ_opt().unwrap());
    assert!(
        disposition
            .starts_with(&format!("attachment; filename=\"Caf_Support_Bot_records_{from}_to_{to}.xlsx\"")),
        "{disposition}"
    );
    assert!(disposition.contains("filename*=UTF-8''Caf%C3%A9_Support_Bot_records_"), "{disposition}");
    let range = sheet(&bytes);
    assert_eq!(range.height(), records.len() + 1);
    assert_eq!(text(&range, 0, 0), "ID");
    for (i, r) in records.iter().enumerate() {
        assert_row(&range, i + 1, r, chrono_tz::America::New_York);
    }
    // The cells that needed care, by content.
    let inputs: Vec<String> = (1..=4).map(|row| text(&range, row, 1)).collect();
    assert!(inputs.contains(&"=1+2 looks like a formula".to_string()), "formula-like text stays text");
    assert!(inputs.contains(&"badchar andmore".to_string()), "XML-illegal characters dropped: {inputs:?}");
    assert!(inputs.contains(&"@who".to_string()));
});

backend_tests!(export_of_many_records_comes_in_keyset_batches, |db: TestDb| async move {
    // More records than one export batch, made cheaply: copies of one real record with new
    // ids and times, written straight into the table.
    let fake = FakeLlm::start().await;
    let app = app_with(db, &fake, Tz::UTC).await;
    let bot = llm_bot(&app, "Busy").await;
    ask(&app, &fake, &bot, None, "seed question", "seed answer").await;
    let copies = 2 * parlor_server::http::records::EXPORT_BATCH + 17;
    copy_records(&app.db, copies).await;
    let q = "startDate=2000-01-01&endDate=2100-01-01";

    let (bytes, _) = export(&app, &export_path(&bot, q)).await;

    let range = sheet(&bytes);
    assert_eq!(range.height(), copies + 2);
    let list = app.get(&records_path(&bot, &format!("{q}&pageSize=100"))).await.body;
    assert_eq!(list["count"], copies + 1);
    // The first page and the last page of the list are the first and last rows.
    for (i, r) in list["results"].as_array().unwrap().iter().enumerate() {
        assert_row(&range, i + 1, r, Tz::UTC);
    }
    let pages = (copies + 1).div_ceil(100);
    let last = app.get(&records_path(&bot, &format!("{q}&pageSize=100&page={pages}"))).await.body;
    let last = last["results"].as_array().unwrap();
    for (i, r) in last.iter().enumerate() {
        assert_row(&range, copies + 2 - last.len() + i, r, Tz::UTC);
    }
    // No record twice across batch boundaries.
    let mut seen: Vec<String> = (1..range.height()).map(|row| text(&range, row, 0)).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), copies + 1);
});

backend_tests!(an_export_that_fails_reading_is_an_error_response, |db: TestDb| async move {
    let app = TestApp::spawn(db).await;
    let bot = app.create_chatbot("Broken").await;
    execute(&app.db, "DROP TABLE records").await;

    let r = app.get(&export_path(&bot, "startDate=2026-01-01&endDate=2026-01-31")).await;

    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.body, json!({"detail": "A server error occurred."}));
});

/// Adds `n` copies of the table's one record, with fresh ids, times a second apart going
/// back from 2026-01-01, some sharing a time (so the keyset's id tie-break matters).
async fn copy_records(db: &TestDb, n: usize) {
    match db.backend {
        Backend::Sqlite => {
            let opts = parlor_store_sqlite::connect_options(&db.data_dir.path().join("parlor.db"));
            let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            for i in 0..n {
                sqlx::query(
                    "INSERT INTO records SELECT ?, org_id, chatbot_id, conversation_id, contact_id, user_message_id,
                        input_message || ' ' || ?, condense_message, output_message, context, reply_time_ms, error,
                        finish_reason, kind, ?, input_folded, output_folded FROM records LIMIT 1",
                )
                .bind(uuid::Uuid::now_v7())
                .bind(i as i64)
                .bind(1_767_225_600_000_000_i64 - (i as i64 / 2) * 1_000_000)
                .execute(&mut *tx)
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(db.database_url.as_deref().unwrap()).await.unwrap();
            sqlx::query(
                "INSERT INTO records SELECT gen_random_uuid(), org_id, chatbot_id, conversation_id, contact_id,
                    user_message_id, input_message || ' ' || i, condense_message, output_message, context,
                    reply_time_ms, error, finish_reason, kind,
                    timestamptz '2026-01-01T00:00:00Z' - make_interval(secs => (i / 2)::float8), input_folded, output_folded
                 FROM (SELECT * FROM records LIMIT 1) r, generate_series(0, $1 - 1) AS i",
            )
            .bind(n as i64)
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }
    }
}

/// Downloads an export: checks the status and type, returns the bytes and headers.
async fn export(app: &TestApp, path: &str) -> (Vec<u8>, reqwest::header::HeaderMap) {
    let r = app
        .client
        .get(app.url(path))
        .header("Authorization", format!("Api-Key {}", app.key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let headers = r.headers().clone();
    assert_eq!(headers["content-type"], XLSX);
    (r.bytes().await.unwrap().to_vec(), headers)
}

fn sheet(bytes: &[u8]) -> Range<Data> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec())).unwrap();
    book.worksheet_range("Records").unwrap()
}

fn cell(range: &Range<Data>, row: usize, col: usize) -> Data {
    range.get((row, col)).cloned().unwrap_or(Data::Empty)
}

fn text(range: &Range<Data>, row: usize, col: usize) -> String {
    match cell(range, row, col) {
        Data::String(s) => s,
        Data::Empty => String::new(),
        other => panic!("({row}, {col}) is not text: {other:?}"),
    }
}

fn date_time(range: &Range<Data>, row: usize, col: usize) -> NaiveDateTime {
    match cell(range, row, col) {
        Data::DateTime(d) if d.is_datetime() => d.as_datetime().unwrap(),
        other => panic!("({row}, {col}) is not a date-time: {other:?}"),
    }
}

/// Text as the export writes it: without XML-illegal characters, at most 32,767 UTF-16 units.
fn cleaned(s: &str) -> String {
    let legal =
        |c: char| matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'));
    let mut out = String::new();
    let mut units = 0;
    for c in s.chars().filter(|c| legal(*c)) {
        units += c.len_utf16();
        if units > parlor_export::MAX_CELL_CHARS {
            break;
        }
        out.push(c);
    }
    out
}

/// Asserts that sheet row `row` shows the list's record `r`, column by column.
fn assert_row(range: &Range<Data>, row: usize, r: &Value, tz: Tz) {
    let s = |k: &str| cleaned(r[k].as_str().unwrap_or(""));
    assert_eq!(text(range, row, 0), s("id"), "ID");
    assert_eq!(text(range, row, 1), s("inputMessage"), "Input");
    assert_eq!(text(range, row, 2), s("condenseMessage"), "Condensed input");
    assert_eq!(text(range, row, 3), s("type"), "Type");
    assert_eq!(text(range, row, 4), s("context"), "Reference");
    assert_eq!(text(range, row, 5), s("outputMessage"), "Output");
    for k in 6..12 {
        assert_eq!(cell(range, row, k), Data::Empty, "scores are not evaluated");
    }
    let reply: f64 = r["replyTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(cell(range, row, 12), Data::Float(reply), "Reply time");
    let ms: i64 = r["createdAt"].as_str().unwrap().parse().unwrap();
    let at = DateTime::<Utc>::from_timestamp_millis(ms).unwrap().with_timezone(&tz).naive_local();
    assert_eq!(date_time(range, row, 13), at, "Created at");
    assert_eq!(text(range, row, 14), s("conversation"), "Conversation");
    assert_eq!(text(range, row, 15), s("contact"), "Contact");
}
