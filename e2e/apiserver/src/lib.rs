//! The sandbox's Kubernetes API server: the REST API over HTTP on 127.0.0.1 that kube-rs and
//! kubectl use unmodified, backed by an in-memory store. It can be stopped and started again
//! on the same port keeping its state, and told to fail a share of requests. Does I/O (the
//! HTTP server); below it the store is in memory and the schemas and patches are pure.
//!
//! It knows nothing of what runs against it: simulated controllers write through [`Cluster`]'s
//! store like any client, and whatever wants its metrics scraped beside the API plugs a
//! [`MetricsSource`] into `GET /metrics`.

mod admission;
mod convert;
mod discovery;
pub mod errors;
pub mod faults;
mod handlers;
mod lifecycle;
pub mod objects;
mod openapi;
mod patch;
mod patching;
pub mod registry;
mod request;
mod schema;
pub mod store;
mod tables;
pub mod time;
mod watch;

use axum::Router;
use faults::Faults;
use registry::Registry;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use store::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What `GET /metrics` serves, besides the API: the sandbox's mesh reports its Istio metrics
/// there, so Prometheus scrapes one target as it would scrape the sidecars.
pub trait MetricsSource: Send + Sync + std::fmt::Debug {
    /// The Prometheus text exposition as it is now.
    fn render(&self) -> String;
}

/// The state behind the API: objects, served types, injected faults. Cloning shares it.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// Every object.
    pub store: Store,
    /// Every served type.
    pub registry: Registry,
    /// Failures to inject into API requests.
    pub faults: Faults,
    /// Bumped when a server stops, so its open watches end.
    pub stops: Arc<tokio::sync::watch::Sender<u64>>,
    /// What `/metrics` serves; empty without one.
    pub metrics: Option<Arc<dyn MetricsSource>>,
    /// Requests served: (all, writes), for benchmarks.
    pub counts: Arc<(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64)>,
}

impl Default for Cluster {
    fn default() -> Self {
        Self::new()
    }
}

impl Cluster {
    /// A cluster with the namespaces every cluster has.
    pub fn new() -> Self {
        let cluster = Self {
            store: Store::new(),
            registry: Registry::new(),
            faults: Faults::default(),
            stops: Arc::new(tokio::sync::watch::channel(0).0),
            metrics: None,
            counts: Default::default(),
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            cluster.create_namespace(ns);
        }
        cluster
    }

    /// This cluster, serving `source` at `/metrics`.
    pub fn with_metrics(self, source: Arc<dyn MetricsSource>) -> Self {
        Self { metrics: Some(source), ..self }
    }

    /// Requests served so far: (all, writes).
    pub fn requests(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.counts.0.load(Relaxed), self.counts.1.load(Relaxed))
    }

    /// Creates a namespace if it does not exist.
    pub fn create_namespace(&self, name: &str) {
        let Some(rt) = self.registry.get("", "v1", "namespaces") else { return };
        let key = objects::key(&rt, None, name);
        let body =
            json!({"metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        let _ = self.store.write::<()>(&key, |current, _| {
            if current.is_some() {
                return Ok(None);
            }
            let mut object = objects::prepare_create(&rt, None, body).map_err(|_| ())?;
            object["status"] = json!({"phase": "Active"});
            Ok(Some(object))
        });
    }
}

/// What the control plane does with a new object of a kind (a CRD gets its status), for
/// objects the sandbox creates itself.
pub fn lifecycle_on_create(
    cluster: &Cluster,
    rt: &registry::ResourceType,
    object: serde_json::Value,
) -> Result<serde_json::Value, errors::ApiError> {
    lifecycle::on_create(cluster, rt, object)
}

/// A running API server.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    stops: Arc<tokio::sync::watch::Sender<u64>>,
    task: JoinHandle<()>,
    gc: JoinHandle<()>,
}

impl Running {
    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving (open watches end); the cluster's state stays for a later start.
    pub async fn stop(mut self) {
        self.stops.send_modify(|n| *n += 1);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.gc.abort();
        let _ = (&mut self.task).await;
    }
}

/// Serves the cluster on `addr` (port 0 picks a free one) until stopped. Stopping cuts every
/// open connection, as a crashed API server would, so clients see the outage.
pub async fn serve(cluster: Cluster, addr: SocketAddr) -> std::io::Result<Running> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = Router::new().fallback(handlers::handle).with_state(cluster.clone());
    let (tx, mut rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let service = hyper_util::service::TowerToHyperService::new(app.clone());
                    connections.spawn(async move {
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                        if let Err(e) = builder.serve_connection_with_upgrades(io, service).await {
                            tracing::debug!(error = %e, "sandbox API connection ended");
                        }
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                _ = &mut rx => break,
            }
        }
        connections.abort_all();
    });
    let store = cluster.store.clone();
    let gc = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        loop {
            tick.tick().await;
            objects::sweep(&store);
        }
    });
    Ok(Running { addr, shutdown: Some(tx), stops: cluster.stops.clone(), task, gc })
}
