//! The whole sandbox: the API server plus the loops that play kube-controller-manager, kubelet
//! and the Istio mesh against it, started and stopped together. Does I/O: the server, the
//! kubeconfig file and the tasks that run the simulations.

use crate::mesh::Mesh;
use crate::workloads::{self, Action, Settings};
use fledge_apiserver::{self as apiserver, Cluster, MetricsSource, Running, objects};
use rand::SeedableRng;
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
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
    /// How often the simulated controllers and the mesh run.
    pub tick: Duration,
    /// Serve VirtualServices and DestinationRules from simple built-in definitions (any
    /// fields); tests that want Istio's own schemas apply Istio's CRDs over them.
    pub builtin_istio_crds: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            port: 0,
            kubeconfig: None,
            workloads: Settings::default(),
            tick: Duration::from_millis(100),
            builtin_istio_crds: true,
        }
    }
}

/// The simulated mesh, shared by its loop (which moves traffic) and the API server's
/// `/metrics` (which serves the Istio metrics that traffic made).
#[derive(Debug, Default)]
struct SharedMesh(Mutex<Mesh>);

impl SharedMesh {
    fn lock(&self) -> std::sync::MutexGuard<'_, Mesh> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MetricsSource for SharedMesh {
    fn render(&self) -> String {
        self.lock().metrics().render()
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
        let mesh = Arc::new(SharedMesh::default());
        let cluster = Cluster::new().with_metrics(mesh.clone());
        let server = apiserver::serve(cluster.clone(), SocketAddr::from((Ipv4Addr::LOCALHOST, options.port))).await?;
        let addr = server.addr;
        let kubeconfig = options
            .kubeconfig
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(format!("fledge-sandbox-{}.kubeconfig", addr.port())));
        crate::kubeconfig::write(&kubeconfig, &server.url())?;
        if options.builtin_istio_crds {
            install_builtin_istio_crds(&cluster);
        }
        let loops = vec![
            tokio::spawn(run_workloads(cluster.clone(), options.workloads, options.tick)),
            tokio::spawn(run_mesh(cluster.clone(), mesh, options.tick)),
        ];
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

/// A CustomResourceDefinition of an Istio kind that accepts any spec, served at Istio's
/// versions with v1 stored.
fn builtin_istio_crd(kind: &str, plural: &str, short: &str) -> Value {
    let version = |name: &str| {
        serde_json::json!({
            "name": name, "served": true, "storage": name == "v1",
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            }}},
            "subresources": {"status": {}},
        })
    };
    serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.networking.istio.io"), "labels": {"app.kubernetes.io/part-of": "fledge-sandbox"}},
        "spec": {
            "group": "networking.istio.io",
            "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "shortNames": [short], "categories": ["istio-io", "networking-istio-io"], "listKind": format!("{kind}List")},
            "scope": "Namespaced",
            "versions": [version("v1"), version("v1beta1"), version("v1alpha3")],
        },
    })
}

fn install_builtin_istio_crds(cluster: &Cluster) {
    let Some(rt) = cluster.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions") else { return };
    for (kind, plural, short) in
        [("VirtualService", "virtualservices", "vs"), ("DestinationRule", "destinationrules", "dr")]
    {
        let crd = builtin_istio_crd(kind, plural, short);
        let Ok(object) = objects::prepare_create(&rt, None, crd) else { continue };
        let Ok(object) = apiserver::lifecycle_on_create(cluster, &rt, object) else { continue };
        let key = objects::key(&rt, None, objects::name_of(&object).unwrap_or_default());
        if let Ok(Some(stored)) = cluster.store.write::<()>(&key, |current, _| Ok(current.is_none().then_some(object)))
        {
            cluster.registry.sync_crd(&stored, true);
        }
    }
}

fn typed<T: serde::de::DeserializeOwned>(cluster: &Cluster, group: &str, resource: &str) -> Vec<T> {
    cluster
        .store
        .list(group, resource, None)
        .0
        .iter()
        .filter_map(|o| serde_json::from_value((**o).clone()).ok())
        .collect()
}

/// The mesh: every tick, the load generators' requests of the elapsed time are routed, served,
/// counted in the metrics and written to the serving pods' istio-proxy logs.
async fn run_mesh(cluster: Cluster, mesh: Arc<SharedMesh>, tick: Duration) {
    let mut interval = tokio::time::interval(tick);
    let mut last = SystemTime::now();
    let mut rng = rand::rngs::StdRng::from_os_rng();
    loop {
        interval.tick().await;
        let now = SystemTime::now();
        let snapshot = crate::mesh::Snapshot {
            pods: typed(&cluster, "", "pods"),
            services: typed(&cluster, "", "services"),
            virtual_services: typed(&cluster, "networking.istio.io", "virtualservices"),
        };
        let lines = mesh.lock().tick(&snapshot, last, now, &mut rng);
        last = now;
        let mut by_container: std::collections::BTreeMap<(String, String, String), Vec<(SystemTime, String)>> =
            Default::default();
        for line in lines {
            by_container.entry((line.namespace, line.pod, line.container)).or_default().push((line.time, line.line));
        }
        for ((namespace, pod, container), lines) in by_container {
            cluster.store.append_logs(&namespace, &pod, &container, lines);
        }
    }
}
