//! The whole sandbox: the API server plus the loops that play kube-controller-manager, kubelet
//! and the Istio mesh against it, started and stopped together.

use crate::apiserver::{self, Cluster, Running, objects};
use crate::workloads::{self, Action, Settings};
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;

/// How to start a sandbox.
#[derive(Clone, Debug)]
pub struct Options {
    /// API server port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Where to write the kubeconfig; a file in the temporary directory when None.
    pub kubeconfig: Option<PathBuf>,
    /// How the simulated workloads behave.
    pub workloads: Settings,
    /// How often the simulated controllers run.
    pub tick: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self { port: 0, kubeconfig: None, workloads: Settings::default(), tick: Duration::from_millis(100) }
    }
}

/// A running sandbox.
#[derive(Debug)]
pub struct Sandbox {
    /// The cluster state, for tests that look inside or inject faults.
    pub cluster: Cluster,
    /// Where the kubeconfig is.
    pub kubeconfig: PathBuf,
    server: Option<Running>,
    addr: SocketAddr,
    loops: Vec<JoinHandle<()>>,
}

impl Sandbox {
    /// Starts the API server and the simulators and writes the kubeconfig.
    pub async fn start(options: Options) -> anyhow::Result<Self> {
        let cluster = Cluster::new();
        let server = apiserver::serve(cluster.clone(), SocketAddr::from((Ipv4Addr::LOCALHOST, options.port))).await?;
        let addr = server.addr;
        let kubeconfig = options
            .kubeconfig
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(format!("fledge-sandbox-{}.kubeconfig", addr.port())));
        crate::kubeconfig::write(&kubeconfig, &server.url())?;
        let loops = vec![tokio::spawn(run_workloads(cluster.clone(), options.workloads, options.tick))];
        Ok(Self { cluster, kubeconfig, server: Some(server), addr, loops })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The kubeconfig path.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Stops the API server only (clients see connection errors); the simulators and the
    /// state stay.
    pub async fn stop_api(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// Starts the API server again on the same port, with the same state.
    pub async fn restart_api(&mut self) -> anyhow::Result<()> {
        if self.server.is_none() {
            self.server = Some(apiserver::serve(self.cluster.clone(), self.addr).await?);
        }
        Ok(())
    }

    /// Stops everything.
    pub async fn stop(mut self) {
        for task in &self.loops {
            task.abort();
        }
        self.stop_api().await;
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for task in &self.loops {
            task.abort();
        }
    }
}

fn objects_of(cluster: &Cluster, group: &str, resource: &str) -> Vec<Value> {
    cluster.store.list(group, resource, None).0.iter().map(|o| (**o).clone()).collect()
}

async fn run_workloads(cluster: Cluster, settings: Settings, tick: Duration) {
    let mut interval = tokio::time::interval(tick);
    loop {
        interval.tick().await;
        let deployments = objects_of(&cluster, "apps", "deployments");
        let pods = objects_of(&cluster, "", "pods");
        for action in workloads::reconcile(&deployments, &pods, SystemTime::now(), settings) {
            perform(&cluster, action);
        }
    }
}

/// Carries out an action of the simulated controllers through the store, as their writes
/// through the API would.
fn perform(cluster: &Cluster, action: Action) {
    let (Some(pods), Some(deployments)) =
        (cluster.registry.get("", "v1", "pods"), cluster.registry.get("apps", "v1", "deployments"))
    else {
        return;
    };
    match action {
        Action::CreatePod(pod) => {
            let namespace = pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_owned();
            let Ok(object) = objects::prepare_create(&pods, Some(&namespace), pod) else { return };
            let key = objects::key(&pods, Some(&namespace), objects::name_of(&object).unwrap_or_default());
            let _ = cluster.store.write::<()>(&key, |current, _| Ok(current.is_none().then_some(object)));
        }
        Action::DeletePod { namespace, name } => {
            let key = objects::key(&pods, Some(&namespace), &name);
            objects::delete(&cluster.store, &key, objects::Propagation::Background);
            cluster.store.drop_logs(&namespace, &name);
        }
        Action::SetPodStatus { namespace, name, status } => {
            set_status(cluster, &objects::key(&pods, Some(&namespace), &name), status)
        }
        Action::SetDeploymentStatus { namespace, name, status } => {
            set_status(cluster, &objects::key(&deployments, Some(&namespace), &name), status)
        }
    }
}

fn set_status(cluster: &Cluster, key: &apiserver::store::Key, status: Value) {
    let status = Arc::new(status);
    let _ = cluster.store.write::<()>(key, |current, _| {
        Ok(current.map(|c| {
            let mut next = c.clone();
            next["status"] = (*status).clone();
            next
        }))
    });
}
