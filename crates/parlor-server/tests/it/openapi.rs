//! The OpenAPI document: it lists every route the server serves, with exactly the methods
//! served, and it changes only on purpose (a checked-in snapshot, so API changes show in
//! review).

use crate::helpers::TestApp;
use parlor_server::app::AppState;
use parlor_testkit::db::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Set to update `tests/openapi.json` from the code instead of comparing with it.
const UPDATE_VAR: &str = "PARLOR_UPDATE_SNAPSHOTS";

/// Routes that are served but are no API operation: the docs page and its assets.
const UNDOCUMENTED: &[&str] = &["/api/docs", "/api/docs/{*rest}"];

/// The paths of the router's own route table, read from its `Debug` output (axum prints the
/// table it matches requests with; the part after `fallback_router` is axum's own catch-all).
/// Not pretty, but it is the one list that cannot go stale: a route added any way at all
/// appears here. Should axum print it differently, the parse check below fails loudly.
fn served_paths(router: &axum::Router) -> BTreeSet<String> {
    let debug = format!("{router:?}");
    let table = debug.split("fallback_router").next().unwrap_or("");
    table.split('"').filter(|s| s.starts_with('/')).map(str::to_string).collect()
}

/// A path with each `{param}` replaced by a UUID, to request it.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "0190a7c4-0000-7000-8000-000000000000" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

async fn fetch_document(app: &TestApp) -> Value {
    let r = app.call_as("", Method::GET, "/api/schema/", None).await;
    assert_eq!(r.status, StatusCode::OK, "the document is public");
    r.body
}

#[tokio::test]
async fn every_served_route_is_documented_with_its_methods() {
    let db = TestDb::sqlite().await;
    let served = served_paths(&parlor_server::http::router(AppState::new(db.store.clone())));
    assert!(served.contains("/api/chatbots"), "the route table did not parse: {served:?}");
    let app = TestApp::spawn(db).await;
    let doc = fetch_document(&app).await;
    let documented: BTreeMap<String, BTreeSet<String>> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            (path.clone(), item.as_object().unwrap().keys().map(|m| m.to_uppercase()).collect())
        })
        .collect();

    // /api/v1 serves exactly the /api routes.
    let api: BTreeSet<_> =
        served.iter().filter(|p| p.starts_with("/api/") && !p.starts_with("/api/v1/")).collect();
    let v1: BTreeSet<_> = served.iter().filter_map(|p| p.strip_prefix("/api/v1")).collect();
    let api_routes: BTreeSet<_> = api
        .iter()
        .filter(|p| !UNDOCUMENTED.contains(&p.as_str()) && p.as_str() != "/api/schema")
        .map(|p| &p["/api".len()..])
        .collect();
    assert_eq!(v1, api_routes, "/api/v1 must serve what /api serves");

    for path in served.iter().filter(|p| !p.starts_with("/api/v1/") && !UNDOCUMENTED.contains(&p.as_str())) {
        let listed = if path.starts_with("/api/") { format!("{path}/") } else { path.clone() };
        let Some(methods) = documented.get(&listed) else {
            panic!("{path} is served but missing from the OpenAPI document: register it with routes!()");
        };
        // A method the path does not serve answers 405 with `Allow`: the methods it serves.
        let r = app.client.request(Method::TRACE, app.url(&concrete(&listed))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        let allow: BTreeSet<String> = r.headers()["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| m != "HEAD")
            .collect();
        assert_eq!(&allow, methods, "{path}: methods served vs documented");
    }
    let served_listed: BTreeSet<String> =
        served.iter().map(|p| if p.starts_with("/api/") { format!("{p}/") } else { p.clone() }).collect();
    for path in documented.keys() {
        assert!(served_listed.contains(path), "{path} is documented but not served");
    }
}

#[tokio::test]
async fn document_matches_the_snapshot() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let doc = fetch_document(&app).await;
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi.json");
    if std::env::var_os(UPDATE_VAR).is_some() {
        std::fs::write(&file, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&file).unwrap_or_default();
    if expected != text {
        let line = expected.lines().zip(text.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "the OpenAPI document changed (first difference at line {}: {:?} now {:?}).\n\
             If the change is intended, run `{UPDATE_VAR}=1 cargo test -p parlor-server --test it openapi` \
             and commit tests/openapi.json.",
            line + 1,
            expected.lines().nth(line).unwrap_or(""),
            text.lines().nth(line).unwrap_or(""),
        );
    }
}

#[tokio::test]
async fn document_describes_auth_pagination_and_errors() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let doc = fetch_document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let scheme = &doc["components"]["securitySchemes"]["Api-Key"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["in"], "header");
    assert_eq!(scheme["name"], "Authorization");
    let list = &doc["paths"]["/api/contacts/"]["get"];
    assert_eq!(list["security"][0]["Api-Key"], serde_json::json!([]));
    let params: Vec<&str> =
        list["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, ["query", "page", "pageSize"]);
    for status in ["400", "401", "404", "429"] {
        assert!(list["responses"][status].is_object(), "contacts list documents {status}");
    }
    let create = &doc["paths"]["/api/chatbots/"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ChatbotWrite"
    );
    for status in ["201", "400", "401", "413", "415"] {
        assert!(create["responses"][status].is_object(), "chatbot create documents {status}");
    }
    let write = &doc["components"]["schemas"]["ChatbotWrite"];
    assert_eq!(write["required"], serde_json::json!(["name"]));
    assert!(write["properties"]["welcomeMessage"].is_object(), "camelCase names");
    // The public routes need no key.
    assert!(doc["paths"]["/healthz"]["get"].get("security").is_none());
    let description = doc["info"]["description"].as_str().unwrap();
    for needle in ["/api/v1/", "page-number", "`query`", "`keyword`", "Api-Key"] {
        assert!(description.contains(needle), "the description explains {needle}");
    }
}

#[tokio::test]
async fn docs_page_is_public_and_self_contained() {
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let r = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    assert!(!page.contains("https://"), "assets are served by Parlor, not a CDN");
    let r = app.client.get(app.url("/api/docs/swagger-initializer.js")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("/api/schema/"));
    // Without the slash, the page's relative asset links would break: it redirects.
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = no_redirect.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.headers()["location"], "/api/docs/");
}
