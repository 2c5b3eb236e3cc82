//! The accept loop: each connection served by hyper's HTTP/1 with a timer, which
//! `axum::serve` does not set and so cannot time anything out.
//!
//! With the timer, hyper's header read timeout bounds how long a client may take to send a
//! request's head, counted from its first byte, and how long a kept-alive connection may sit
//! idle before its next request: a client that trickles headers (slowloris) or parks
//! connections is cut off. Request bodies have their own idle timeout
//! ([`crate::http::limits::body_timeout`]); responses are not limited, as streams are long
//! by design. Each request also learns its peer address (`ConnectInfo`), for per-IP limits.
//!
//! Shutdown is axum's: stop accepting, let each connection finish the request it is serving
//! (idle ones close at once), and return when all have closed.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use tower::{Service, ServiceExt as _};

/// Serves `service` on `listener` until `shutdown` resolves, then waits for open connections
/// to finish their requests.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
    header_timeout: Duration,
) -> std::io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let (closing_tx, closing_rx) = watch::channel(false);
    let connections = TaskTracker::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer): (_, std::net::SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone().map_request(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let mut closing = closing_rx.clone();
        connections.spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(header_timeout);
            let conn = http
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            let mut conn = pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                    return;
                }
                _ = closing.wait_for(|c| *c) => {}
            }
            conn.as_mut().graceful_shutdown();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    connections.close();
    connections.wait().await;
    Ok(())
}
