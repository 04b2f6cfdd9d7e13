//! How the controller copes with many Canaries at once: the real `fledge controller` binary
//! against the sandbox, N Canaries initialized and then released together. Reports the
//! time to initialize and to promote them all, reconcile latency from its own metrics, the
//! API requests it makes while idle, and its peak memory.
//!
//! `cargo bench -p fledge-e2e --bench controller` (`CANARIES=50` to change the count).

use fledge_crds::canary::{Canary, Phase};
use fledge_e2e::controller::ControllerProcess;
use fledge_e2e::demo;
use fledge_sandbox_cluster::{Options, Sandbox};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use std::time::{Duration, Instant};

fn manifest(i: usize) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{i}, namespace: bench, labels: {{app: app-{i}}}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: app-{i}}}}}
  template:
    metadata: {{labels: {{app: app-{i}}}}}
    spec: {{containers: [{{name: app, image: "example/app:1"}}]}}
---
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {{name: app-{i}, namespace: bench}}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: app-{i}}}
  service: {{port: 8080}}
  analysis: {{interval: 1s, stepWeight: 25, maxWeight: 50}}"#
    )
}

async fn all_in(client: &Client, phase: Phase, n: usize) -> bool {
    let canaries: Api<Canary> = Api::namespaced(client.clone(), "bench");
    let list = canaries.list(&ListParams::default()).await.map(|l| l.items).unwrap_or_default();
    list.len() == n && list.iter().all(|c| c.status.as_ref().is_some_and(|s| s.phase == phase))
}

async fn wait_all(client: &Client, phase: Phase, n: usize) -> Duration {
    let started = Instant::now();
    while !all_in(client, phase, n).await {
        assert!(started.elapsed() < Duration::from_secs(600), "not all {phase} after 10 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

/// The value of `le` below which `q` of the observations of a histogram fall.
fn quantile(metrics: &str, name: &str, q: f64) -> Option<f64> {
    let buckets: Vec<(f64, f64)> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{name}_bucket{{le=\"")))
        .filter_map(|rest| {
            let (le, count) = rest.split_once("\"} ")?;
            Some((le.replace("+Inf", "inf").parse().ok()?, count.trim().parse().ok()?))
        })
        .collect();
    let total = buckets.last()?.1;
    buckets.iter().find(|(_, c)| *c >= q * total).map(|(le, _)| *le)
}

fn metric(metrics: &str, line_start: &str) -> f64 {
    metrics.lines().find_map(|l| l.strip_prefix(line_start)).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0)
}

async fn scrape(controller: &ControllerProcess) -> anyhow::Result<String> {
    Ok(reqwest::get(format!("http://{}/metrics", controller.listen)).await?.text().await?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Benchmark the controller as it is now, not a release binary left from an earlier build.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = std::process::Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "fledge-controller", "--bin", "fledge"])
        .status()?;
    anyhow::ensure!(built.success(), "cargo build --release --bin fledge failed");
    let n: usize = std::env::var("CANARIES").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let dir = std::env::temp_dir().join(format!("fledge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sandbox = Sandbox::start(Options { kubeconfig: Some(dir.join("kubeconfig")), ..Options::default() }).await?;
    let kubeconfig = kube::config::Kubeconfig::read_from(sandbox.kubeconfig())?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?;
    let client = Client::try_from(config)?;
    demo::install_crds(&client).await?;
    demo::apply(&client, "apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}").await?;
    for i in 0..n {
        demo::apply(&client, &manifest(i)).await?;
    }
    let mut controller =
        ControllerProcess::start(sandbox.kubeconfig(), &dir.join("fledge.log"), &["--leader-election=false"]).await?;
    let init = wait_all(&client, Phase::Initialized, n).await;

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "bench");
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "example/app:2"}]}}}});
    for i in 0..n {
        deployments.patch(&format!("app-{i}"), &PatchParams::default(), &Patch::Strategic(&patch)).await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let release = wait_all(&client, Phase::Succeeded, n).await + Duration::from_secs(2);
    // Let the promoted primaries finish rolling out, then stay idle for a while: an idle
    // controller should make almost no requests.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let reconciles_from = metric(&scrape(&controller).await?, "fledge_reconcile_total{result=\"ok\"} ");
    let idle_from = sandbox.cluster.requests();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle_to = sandbox.cluster.requests();
    let (idle, idle_writes) = (idle_to.0 - idle_from.0, idle_to.1 - idle_from.1);

    let metrics = scrape(&controller).await?;
    let idle_reconciles = metric(&metrics, "fledge_reconcile_total{result=\"ok\"} ") - reconciles_from;
    let count = metric(&metrics, "fledge_reconcile_duration_seconds_count ");
    let sum = metric(&metrics, "fledge_reconcile_duration_seconds_sum ");
    let status = std::fs::read_to_string(format!("/proc/{}/status", controller.id().unwrap_or(0))).unwrap_or_default();
    let peak = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: ?").to_owned();
    let _ = controller.terminate().await;
    sandbox.stop().await;

    println!("canaries: {n}");
    println!("all initialized in {:.1}s", init.as_secs_f64());
    println!("all released (2 steps + promotion each, interval 1s) in {:.1}s", release.as_secs_f64());
    println!(
        "reconciles: {count:.0}, mean {:.1} ms, p50 <= {:?} s, p99 <= {:?} s",
        1000.0 * sum / count.max(1.0),
        quantile(&metrics, "fledge_reconcile_duration_seconds", 0.5),
        quantile(&metrics, "fledge_reconcile_duration_seconds", 0.99)
    );
    println!(
        "in 10s with every canary idle: {idle_reconciles:.0} reconciles, {idle} API requests ({idle_writes} writes)"
    );
    println!("controller peak memory: {}", peak.trim_start_matches("VmHWM:").trim());
    Ok(())
}
