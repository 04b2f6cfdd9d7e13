//! The controller's HTTP endpoint: `/metrics` for Prometheus, `/healthz` and `/readyz` for the
//! kubelet's probes. Does I/O: it serves HTTP on the listener it is given until told to stop.

use crate::process::telemetry::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::TcpListener;

/// The content type of `/metrics`: the OpenMetrics text format that prometheus-client writes.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the probes report, shared between the server and the parts of the controller that know.
/// Clones share the same flags.
#[derive(Clone, Debug)]
pub struct Health {
    live: Arc<AtomicBool>,
    ready: Arc<AtomicBool>,
}

impl Default for Health {
    fn default() -> Self {
        Self::new()
    }
}

impl Health {
    /// Live and not yet ready: the kubelet should not send traffic before the controller has
    /// started, but must not restart it for taking its time either.
    pub fn new() -> Self {
        Self { live: Arc::new(AtomicBool::new(true)), ready: Arc::new(AtomicBool::new(false)) }
    }

    /// What `/readyz` answers from now on.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// What `/healthz` answers from now on; false makes the kubelet restart the container, for
    /// a process that knows it is wedged (a task that must run has died).
    pub fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Relaxed);
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Whether `/healthz` answers 200.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Relaxed)
    }
}

#[derive(Clone, Debug)]
struct AppState {
    metrics: Arc<Metrics>,
    health: Health,
}

fn router(metrics: Arc<Metrics>, health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AppState { metrics, health })
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], state.metrics.render())
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.health.is_live() { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "not live") }
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.health.is_ready() { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "not ready") }
}

/// Serves `GET /metrics`, `/healthz` and `/readyz` on `listener` until `shutdown` resolves, then
/// finishes the requests in flight and returns. An error is an I/O error of the listener.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, health)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    /// A response as a client sees it: status code, headers (names lower-cased), body.
    #[derive(Debug)]
    struct Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Response {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
        }
    }

    /// One HTTP/1.1 request on a fresh connection; `Connection: close` makes the server end
    /// the response with the connection, so reading to the end reads exactly one response.
    async fn request(addr: SocketAddr, method: &str, path: &str) -> Response {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = String::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut raw)).await.unwrap().unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let mut head = head.lines();
        let status = head.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers = head
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Response { status, headers, body: body.to_owned() }
    }

    async fn start(
        metrics: Arc<Metrics>,
        health: Health,
    ) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, metrics, health, async move {
            let _ = stopped.await;
        }));
        (addr, stop, server)
    }

    #[tokio::test]
    async fn metrics_are_served_as_openmetrics_text() {
        let metrics = Arc::new(Metrics::new());
        metrics.set_canary_weight("test", "podinfo", 10);
        let (addr, _stop, _server) = start(metrics.clone(), Health::new()).await;
        let response = request(addr, "GET", "/metrics").await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some(OPENMETRICS_CONTENT_TYPE));
        assert!(response.body.contains("fledge_canary_weight{workload=\"podinfo\",namespace=\"test\"} 10\n"));
        assert!(response.body.ends_with("# EOF\n"), "{}", response.body);
        // Every scrape renders afresh.
        metrics.set_canary_weight("test", "podinfo", 20);
        let response = request(addr, "GET", "/metrics").await;
        assert!(response.body.contains("fledge_canary_weight{workload=\"podinfo\",namespace=\"test\"} 20\n"));
    }

    #[tokio::test]
    async fn readyz_follows_the_ready_flag_and_healthz_the_live_flag() {
        let health = Health::new();
        let (addr, _stop, _server) = start(Arc::new(Metrics::new()), health.clone()).await;
        let healthz = request(addr, "GET", "/healthz").await;
        assert_eq!((healthz.status, healthz.body.as_str()), (200, "ok"));
        let readyz = request(addr, "GET", "/readyz").await;
        assert_eq!((readyz.status, readyz.body.as_str()), (503, "not ready"));

        health.set_ready(true);
        let readyz = request(addr, "GET", "/readyz").await;
        assert_eq!((readyz.status, readyz.body.as_str()), (200, "ok"));

        health.set_ready(false);
        health.set_live(false);
        assert_eq!(request(addr, "GET", "/readyz").await.status, 503);
        let healthz = request(addr, "GET", "/healthz").await;
        assert_eq!((healthz.status, healthz.body.as_str()), (503, "not live"));
    }

    #[tokio::test]
    async fn other_paths_and_methods_are_refused() {
        let (addr, _stop, _server) = start(Arc::new(Metrics::new()), Health::new()).await;
        assert_eq!(request(addr, "GET", "/").await.status, 404);
        assert_eq!(request(addr, "POST", "/metrics").await.status, 405);
    }

    #[tokio::test]
    async fn serve_returns_when_shutdown_resolves() {
        let (addr, stop, server) = start(Arc::new(Metrics::new()), Health::new()).await;
        assert_eq!(request(addr, "GET", "/healthz").await.status, 200);
        stop.send(()).unwrap();
        let result = tokio::time::timeout(Duration::from_secs(10), server).await.expect("the server stopped");
        result.unwrap().unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
    }
}
