//! The application: shared state, the router with its layers, and `serve`, which takes a
//! bound listener and a shutdown signal so tests can run the real server on port 0 and stop
//! it when they want.

use crate::http;
use crate::http::pagination::OriginalPath;
use axum::extract::Request;
use axum::http::Uri;
use parlor_core::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// Limits the server enforces; each is configurable.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest JSON body, in bytes.
    pub json_body: usize,
    /// Largest upload, in bytes.
    pub upload: usize,
    /// Requests a minute per API key (a burst of that many, then evenly spread); 0 is off.
    pub rate_per_key: u32,
    /// Requests a minute per client IP, for `/api/` routes; 0 is off.
    pub rate_per_ip: u32,
    /// Widget visitor requests a minute per client IP (public routes: on by default); 0 is off.
    pub widget_per_ip: u32,
    /// Widget visitor requests a minute per visitor session; 0 is off.
    pub widget_per_session: u32,
    /// Time a client has to send a request's head, and that a kept-alive connection may
    /// wait for its next request.
    pub header_timeout: Duration,
    /// Longest pause while a client sends a request body.
    pub body_timeout: Duration,
    /// Streams (streamed completions, live events) one API key may hold open at once; 0 is
    /// off.
    pub streams_per_key: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            json_body: 1024 * 1024,
            upload: 20 * 1024 * 1024,
            rate_per_key: 0,
            rate_per_ip: 0,
            widget_per_ip: 300,
            widget_per_session: 60,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            // Generous: a busy web chat's backend streams one reply per visitor typing.
            streams_per_key: 64,
        }
    }
}

/// Everything a handler may need, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub limits: Limits,
    pub time_zone: chrono_tz::Tz,
    /// Cancelled when the server shuts down: events streams end with it (completions streams
    /// go on until their reply ends).
    pub shutdown: CancellationToken,
    /// Cancelled when shutdown's grace period is over: replies still generating stop there,
    /// store what they produced, and their streams end with that.
    pub grace_over: CancellationToken,
    /// The streams each API key holds open (see [`http::limits::StreamSlots`]).
    pub streams: Arc<http::limits::StreamSlots>,
    /// Work that outlives its request (replies); shutdown waits for it, up to a bound.
    pub tasks: TaskTracker,
    /// Provider names of the config, to validate chatbots' `model`.
    pub providers: Arc<Vec<String>>,
    /// The LLM providers of the config file, by name.
    pub engines: Arc<parlor_llm::Providers>,
    /// The built-in knowledge engine (chatbots whose `model` is null).
    pub knowledge: Arc<dyn parlor_core::engine::Engine>,
    /// API keys found valid within the last second (see [`http::key_cache`]).
    pub keys: Arc<http::key_cache::KeyCache>,
    /// Webhook delivery: settings, client, and the worker's wake-up.
    pub webhooks: crate::webhooks::Webhooks,
    /// The conversations whose background replies this process is answering.
    pub auto_replies: Arc<crate::auto_reply::Runners>,
    /// `--data-dir`: uploaded files live in its `uploads/` (see [`crate::uploads`]).
    pub data_dir: Arc<std::path::Path>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            store,
            limits: Limits::default(),
            time_zone: chrono_tz::UTC,
            shutdown: CancellationToken::new(),
            grace_over: CancellationToken::new(),
            streams: Arc::default(),
            tasks: TaskTracker::new(),
            providers: Arc::new(vec![]),
            engines: Arc::new(parlor_llm::Providers::empty()),
            knowledge: Arc::new(parlor_core::knowledge::KnowledgeEngine::default()),
            keys: Arc::default(),
            webhooks: crate::webhooks::Webhooks::default(),
            auto_replies: Default::default(),
            // `parlor serve`'s default; servers and tests set theirs with `with_data_dir`.
            data_dir: Arc::from(std::path::Path::new("parlor-data")),
        }
    }

    /// Keeps uploads under this data dir.
    pub fn with_data_dir(mut self, dir: &std::path::Path) -> Self {
        self.data_dir = Arc::from(dir);
        self
    }

    /// Uses these LLM providers (from the config file).
    pub fn with_providers(mut self, providers: parlor_llm::Providers) -> Self {
        self.providers = Arc::new(providers.names().map(str::to_string).collect());
        self.engines = Arc::new(providers);
        self
    }
}

/// Strips a trailing slash before routing, so `/api/x/` and `/api/x` reach the same route
/// without a redirect, and remembers the path as asked for page links.
fn normalize_path(mut req: Request) -> Request {
    let path = req.uri().path().to_string();
    req.extensions_mut().insert(OriginalPath(path.clone()));
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let pq = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// How long after the grace period shutdown still waits: replies stopped at its end store
/// what they produced, and their streams send their last event.
const AFTER_GRACE: Duration = Duration::from_secs(5);

/// Serves `state` on `listener` until `shutdown` resolves, then lets in-flight replies (and
/// webhook tries) and their streams finish, up to `grace`: events streams end at once, a completions stream
/// when its reply does. Replies still generating when `grace` is over stop, store what they
/// produced (`finishReason: "error"`), and their streams end with that as their last event.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let token = state.shutdown.clone();
    let grace_over = state.grace_over.clone();
    let tasks = state.tasks.clone();
    let header_timeout = state.limits.header_timeout;
    // Background work of this instance: webhook deliveries, and the replies left queued by
    // the last run. Both end with the token; shutdown waits for them like for replies.
    tasks.spawn(crate::webhooks::worker::run(state.clone()));
    tasks.spawn(crate::auto_reply::resume(state.clone()));
    let router = http::router(state);
    let service = tower::service_fn(move |req: Request| {
        let router = router.clone();
        async move { router.oneshot(normalize_path(req)).await }
    });
    let token2 = token.clone();
    let shutdown = async move {
        tokio::select! {
            _ = shutdown => {}
            _ = token2.cancelled() => {}
        }
        // Streams watch this token and end, so the graceful wait below can finish.
        token2.cancel();
    };
    // The clock of a shutdown: the grace period, then a last margin after which nothing is
    // waited for (a response that is no stream, such as a large export, could hold its
    // connection longer).
    let hard_stop = CancellationToken::new();
    let timer = tokio::spawn({
        let (token, hard_stop) = (token.clone(), hard_stop.clone());
        async move {
            token.cancelled().await;
            tokio::time::sleep(grace).await;
            grace_over.cancel();
            tokio::time::sleep(AFTER_GRACE).await;
            hard_stop.cancel();
        }
    });
    // Not `axum::serve`: it sets no timer, so slow clients could hold connections forever.
    // It returns once every connection has finished its response.
    let served = tokio::select! {
        served = crate::conn::serve(listener, service, shutdown, header_timeout) => served,
        _ = hard_stop.cancelled() => {
            tracing::warn!("shutdown: responses still open after the grace period");
            Ok(())
        }
    };
    if served.is_ok() {
        tasks.close();
        tokio::select! {
            _ = tasks.wait() => {}
            _ = hard_stop.cancelled() => tracing::warn!("shutdown: replies did not finish within {grace:?}"),
        }
    }
    timer.abort();
    served
}
