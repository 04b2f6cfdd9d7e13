//! What every end-to-end test needs: a sandbox, kubectl pointed at it, a kube client.

#![allow(dead_code)]

pub mod receiver;

use fledge_sandbox_cluster::{Options, Sandbox};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A started sandbox with its own kubeconfig file.
pub async fn sandbox() -> Sandbox {
    let dir = std::env::temp_dir().join(format!("fledge-e2e-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    Sandbox::start(Options { kubeconfig: Some(dir.join("kubeconfig")), ..Options::default() }).await.unwrap()
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    h.finish()
}

/// What kubectl printed.
#[derive(Debug)]
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the real kubectl against the sandbox, feeding `stdin` when given.
pub async fn kubectl(sandbox: &Sandbox, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = tokio::process::Command::new("kubectl");
    command
        .args(args)
        .env("KUBECONFIG", sandbox.kubeconfig())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("kubectl is installed");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).await.unwrap();
        drop(pipe);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("kubectl finished")
        .unwrap();
    Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Like [`kubectl`], failing the test when kubectl fails.
pub async fn kubectl_ok(sandbox: &Sandbox, args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl(sandbox, args, stdin).await;
    assert!(out.ok, "kubectl {args:?} failed:\n{}\n{}", out.stdout, out.stderr);
    out.stdout
}

/// A kube client for the sandbox, configured as the controller configures it.
pub async fn client(sandbox: &Sandbox) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(sandbox.kubeconfig()).unwrap();
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Installs the Fledge CRDs with `kubectl apply --server-side`, as the README says.
pub async fn install_crds(sandbox: &Sandbox) {
    let crds = fledge_crds::generate::all_yaml();
    kubectl_ok(sandbox, &["apply", "--server-side", "-f", "-"], Some(&crds)).await;
}

/// Polls `check` every 50 ms until it returns Some, or fails after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A Deployment `name` in namespace `test` whose pod sends `rps` requests a second to `url`
/// (the sandbox's load generator, standing in for users or Flagger's load tester), as YAML.
pub fn load_generator(name: &str, url: &str, rps: u32) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: test}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations: {{sandbox.fledge.dev/load: "{url} rps={rps}"}}
    spec: {{containers: [{{name: hey, image: ghcr.io/fluxcd/flagger-loadtester:0.34.0}}]}}
"#
    )
}

/// The image of `deployment`'s first container in namespace `test`, as kubectl shows it.
pub async fn image_of(sandbox: &Sandbox, deployment: &str) -> String {
    let path = "jsonpath={.spec.template.spec.containers[0].image}";
    kubectl_ok(sandbox, &["-n", "test", "get", "deployment", deployment, "-o", path], None).await
}

/// The status of Canary `podinfo` once `done` holds for it (within 90 s).
pub async fn wait_for(
    canaries: &kube::Api<fledge_crds::canary::Canary>,
    what: &str,
    done: impl Fn(&fledge_crds::canary::CanaryStatus) -> bool,
) -> fledge_crds::canary::CanaryStatus {
    eventually(Duration::from_secs(90), what, || async {
        let status = canaries.get("podinfo").await.ok()?.status?;
        done(&status).then_some(status)
    })
    .await
}

/// The access-log check in a status; fails the test when there is none.
pub fn access_log_check(status: &fledge_crds::canary::CanaryStatus) -> fledge_crds::canary::CheckResult {
    let checks = status.checks.clone().unwrap_or_default();
    let kind = fledge_crds::canary::CheckKind::AccessLog;
    checks.into_iter().find(|c| c.kind == kind).expect("an access-log check in the status")
}

/// Namespace `test` and Deployment `podinfo` (podinfo:6.0.0, `replicas` pods), as YAML for the
/// start of a test's manifest.
pub fn podinfo(replicas: u32) -> String {
    format!(
        r#"
apiVersion: v1
kind: Namespace
metadata: {{name: test}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: podinfo, namespace: test}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: podinfo}}}}
  template:
    metadata: {{labels: {{app: podinfo}}}}
    spec: {{containers: [{{name: podinfod, image: ghcr.io/stefanprodan/podinfo:6.0.0}}]}}
"#
    )
}

/// The events of namespace `test` as `kubectl get events` prints reason and message.
pub async fn events(sandbox: &Sandbox) -> String {
    kubectl_ok(sandbox, &["-n", "test", "get", "events", "-o", "custom-columns=R:.reason,M:.message"], None).await
}

/// The Envoy access-log entries of the pods labelled `app=<app>` in namespace `test`, read with
/// kubectl from their `istio-proxy` containers (since `since`, RFC 3339, when given).
pub async fn proxy_log(sandbox: &Sandbox, app: &str, since: Option<&str>) -> Vec<serde_json::Value> {
    let selector = format!("app={app}");
    let names = "jsonpath={.items[*].metadata.name}";
    let pods = kubectl_ok(sandbox, &["get", "pods", "-n", "test", "-l", &selector, "-o", names], None).await;
    let since = since.map(|s| format!("--since-time={s}"));
    let mut entries = Vec::new();
    for pod in pods.split_whitespace() {
        let mut args = vec!["logs", pod, "-n", "test", "-c", "istio-proxy"];
        args.extend(since.as_deref());
        let log = kubectl_ok(sandbox, &args, None).await;
        entries.extend(log.lines().filter_map(|line| serde_json::from_str(line).ok()));
    }
    entries
}

/// A sandbox with a manifest applied and the real controller running against it.
pub struct Started {
    /// Killed when the test ends (dropped before the sandbox).
    pub controller: fledge_e2e::controller::ControllerProcess,
    /// The Canaries of namespace `test`.
    pub canaries: kube::Api<fledge_crds::canary::Canary>,
    /// The controller's log file.
    pub log: PathBuf,
    pub sandbox: Sandbox,
}

/// A sandbox with the CRDs and `manifest`, the controller started with `flags` (besides
/// `--leader-election=false`), and Canary `podinfo` Initialized.
pub async fn started(manifest: &str, flags: &[&str]) -> Started {
    started_in(sandbox().await, manifest, flags).await
}

/// [`started`] in a sandbox already running (for a test that starts something beside it first).
pub async fn started_in(sandbox: Sandbox, manifest: &str, flags: &[&str]) -> Started {
    install_crds(&sandbox).await;
    kubectl_ok(&sandbox, &["apply", "-f", "-"], Some(manifest)).await;
    let log = sandbox.kubeconfig().with_file_name("fledge.log");
    let args: Vec<&str> = ["--leader-election=false"].into_iter().chain(flags.iter().copied()).collect();
    let controller = fledge_e2e::controller::ControllerProcess::start(sandbox.kubeconfig(), &log, &args).await.unwrap();
    let canaries = kube::Api::namespaced(client(&sandbox).await, "test");
    wait_for(&canaries, "phase Initialized", |s| s.phase == fledge_crds::canary::Phase::Initialized).await;
    Started { controller, canaries, log, sandbox }
}

/// Release podinfo `tag` (`6.0.1`) as a person does: `kubectl set image`.
pub async fn release(sandbox: &Sandbox, tag: &str) {
    let image = format!("podinfod=ghcr.io/stefanprodan/podinfo:{tag}");
    kubectl_ok(sandbox, &["-n", "test", "set", "image", "deployment/podinfo", &image], None).await;
}

/// The canary weights VirtualService `podinfo` carries (its last HTTP route's second
/// destination), recorded in order without repeats from now until [`Weights::stop`].
pub fn record_weights(api: kube::Api<fledge_crds::istio::VirtualService>) -> Weights {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<i32>::new()));
    let out = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            if let Ok(Some(vs)) = api.get_opt("podinfo").await
                && let Some(w) = vs.spec.http.last().and_then(|h| h.route.get(1)).and_then(|r| r.weight)
            {
                let mut seen = out.lock().unwrap();
                if seen.last() != Some(&w) {
                    seen.push(w);
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    });
    Weights { seen, task }
}

/// A recording of weights (see [`record_weights`]).
pub struct Weights {
    seen: std::sync::Arc<std::sync::Mutex<Vec<i32>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Weights {
    /// Stops recording; the weights seen, in order.
    pub fn stop(self) -> Vec<i32> {
        self.task.abort();
        self.seen.lock().unwrap().clone()
    }
}
