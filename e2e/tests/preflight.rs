//! `fledge preflight` as a user runs it (`fledge-sandbox fledge preflight ...`, the real
//! command line) against the sandbox: a complete install passes, and what is missing (the CRDs,
//! Istio's CRDs, a Prometheus, a Canary's sidecar) fails, each with its own line.

mod common;

use common::{eventually, kubectl_ok, sandbox};
use fledge_e2e::controller::{FLEDGE, binary, free_port};
use fledge_sandbox_cluster::{Options, Sandbox};
use std::time::Duration;

/// The application, its traffic and its Canary. `INJECT` is the pod template's annotations.
const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: test}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo, namespace: test}
spec:
  replicas: 1
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata: {labels: {app: podinfo}, annotations: INJECT}
    spec: {containers: [{name: podinfod, image: ghcr.io/stefanprodan/podinfo:6.0.0}]}
---
apiVersion: v1
kind: Service
metadata: {name: podinfo, namespace: test}
spec: {selector: {app: podinfo}, ports: [{name: http, port: 9898}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: loadtester, namespace: test}
spec:
  replicas: 1
  selector: {matchLabels: {app: loadtester}}
  template:
    metadata:
      labels: {app: loadtester}
      annotations: {sandbox.fledge.dev/load: "http://podinfo.test:9898/ rps=50"}
    spec: {containers: [{name: hey, image: ghcr.io/fluxcd/flagger-loadtester:0.34.0}]}
---
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis: {interval: 10s, threshold: 2, maxWeight: 50, stepWeight: 25}
"#;

/// What `fledge preflight` printed, and whether it passed.
struct Preflight {
    passed: bool,
    stdout: String,
}

impl Preflight {
    /// The line about `what` (its words after the status).
    fn line(&self, what: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.get(13..).is_some_and(|rest| rest.starts_with(what)))
            .unwrap_or_else(|| panic!("no line about {what:?} in\n{}", self.stdout))
    }
}

async fn preflight(sb: &Sandbox, metrics_server: &str, extra: &[&str]) -> Preflight {
    let out = tokio::process::Command::new(binary().unwrap())
        .args([FLEDGE, "preflight", "--kubeconfig"])
        .arg(sb.kubeconfig())
        .args(["--metrics-server", metrics_server, "--timeout-seconds", "3"])
        .args(extra)
        .env_remove("KUBECONFIG")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out).await.expect("preflight finished").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "preflight wrote to standard error:\n{stderr}");
    assert!(matches!(out.status.code(), Some(0 | 1)), "exit code {:?}", out.status.code());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // Shown with --nocapture, and with a failing test's output.
    println!("$ fledge preflight {}\n{stdout}", extra.join(" "));
    Preflight { passed: out.status.success(), stdout }
}

/// `fledge crds`, applied as the install applies it.
async fn install_crds(sb: &Sandbox) {
    let crds = std::process::Command::new(binary().unwrap()).args([FLEDGE, "crds"]).output().unwrap();
    assert!(crds.status.success());
    kubectl_ok(sb, &["apply", "--server-side", "-f", "-"], Some(&String::from_utf8(crds.stdout).unwrap())).await;
}

async fn install_app(sb: &Sandbox, annotations: &str) {
    kubectl_ok(sb, &["apply", "-f", "-"], Some(&MANIFEST.replace("INJECT", annotations))).await;
    for deployment in ["podinfo", "loadtester"] {
        let target = format!("deployment/{deployment}");
        kubectl_ok(sb, &["rollout", "status", &target, "-n", "test", "--timeout=30s"], None).await;
    }
}

/// The sandbox serves no SelfSubjectAccessReview yet: the permissions are one line that says
/// so, and that alone fails the run. Once it does (branch `sandbox-rbac`), its admin kubeconfig
/// may do everything, and every permission line is ok.
fn assert_permissions(out: &Preflight) -> bool {
    if out.stdout.contains("cannot check permissions") {
        let line = out.line("permissions");
        assert!(
            line.starts_with("cannot check permissions: the API server does not serve SelfSubjectAccessReview"),
            "{line}"
        );
        false
    } else {
        let line = out.line("permission to list, watch, get, patch canaries (fledge.dev) in every namespace");
        assert!(line.starts_with("ok "), "{line}");
        assert!(!out.stdout.lines().any(|l| l.contains("permission to") && !l.starts_with("ok ")), "{}", out.stdout);
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_install_passes() {
    let sb = sandbox().await;
    let prometheus =
        fledge_sandbox_cluster::prometheus::Prometheus::start(sb.url().trim_start_matches("http://")).await.unwrap();
    install_crds(&sb).await;
    install_app(&sb, "{}").await;
    // Prometheus has the mesh's metrics after its first scrapes of the traffic.
    let out = eventually(Duration::from_secs(60), "istio_requests_total in Prometheus", || async {
        let out = preflight(&sb, &prometheus.url, &["--canary", "test/podinfo"]).await;
        out.line("Istio metric istio_requests_total").starts_with("ok ").then_some(out)
    })
    .await;
    for crd in ["canaries", "metrictemplates", "alertproviders"] {
        assert_eq!(
            out.line(&format!("CRD {crd}.fledge.dev")),
            format!("ok           CRD {crd}.fledge.dev: serves v1beta1")
        );
    }
    for kind in ["virtualservices", "destinationrules"] {
        let line = out.line(&format!("Istio {kind}"));
        assert_eq!(line, format!("ok           Istio {kind} (networking.istio.io/v1beta1): served"));
    }
    assert_eq!(out.line("Prometheus at"), format!("ok           Prometheus at {}: answers", prometheus.url));
    assert_eq!(out.line("Canary test/podinfo"), "ok           Canary test/podinfo: exists");
    assert_eq!(out.line("target Deployment test/podinfo"), "ok           target Deployment test/podinfo: exists");
    let sidecar = out.line("istio-proxy sidecar in the pods of test/podinfo");
    assert!(sidecar.starts_with("ok ") && sidecar.ends_with("every running pod has it (1)"), "{sidecar}");
    let permitted = assert_permissions(&out);
    assert_eq!(out.passed, permitted, "{}", out.stdout);
    let failures: Vec<&str> =
        out.stdout.lines().filter(|l| l.starts_with("missing") || l.starts_with("warning")).collect();
    assert!(failures.is_empty(), "{failures:?}");
    let summary = out.stdout.lines().last().unwrap();
    if permitted {
        assert!(summary.starts_with("preflight passed: "), "{summary}");
    } else {
        assert_eq!(summary, "preflight failed: 0 missing, 1 could not be checked, 0 warnings");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_missing_fails_each_with_its_own_line() {
    let dir = std::env::temp_dir().join(format!("fledge-e2e-preflight-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let options = Options { kubeconfig: Some(dir.join("kubeconfig")), builtin_istio_crds: false, ..Options::default() };
    let sb = Sandbox::start(options).await.unwrap();
    // Nothing listens there.
    let nowhere = format!("http://127.0.0.1:{}", free_port().unwrap());

    let out = preflight(&sb, &nowhere, &[]).await;
    assert!(!out.passed, "{}", out.stdout);
    assert_eq!(
        out.line("CRD canaries.fledge.dev"),
        "missing      CRD canaries.fledge.dev: not installed; run `kubectl apply --server-side -k config/`"
    );
    for kind in ["virtualservices", "destinationrules"] {
        let line = out.line(&format!("Istio {kind}"));
        assert!(
            line.starts_with(&format!(
                "missing      Istio {kind} (networking.istio.io/v1beta1): not served; install Istio"
            )),
            "{line}"
        );
    }
    let prometheus = out.line("Prometheus at");
    assert!(
        prometheus.starts_with(&format!("missing      Prometheus at {nowhere}: does not answer (")),
        "{prometheus}"
    );
    assert!(prometheus.ends_with("point --metrics-server at the Prometheus that scrapes Istio"), "{prometheus}");
    assert!(!out.stdout.contains("Istio metric"), "no metric line without a Prometheus:\n{}", out.stdout);

    // A Canary whose pods are kept out of the mesh.
    install_crds(&sb).await;
    install_app(&sb, r#"{sidecar.istio.io/inject: "false"}"#).await;
    let out = preflight(&sb, &nowhere, &["--canary", "test/podinfo", "--output", "text"]).await;
    assert!(!out.passed);
    assert!(out.line("CRD canaries.fledge.dev").starts_with("ok "), "{}", out.stdout);
    let sidecar = out.line("istio-proxy sidecar in the pods of test/podinfo");
    assert!(
        sidecar.starts_with(
            "missing      istio-proxy sidecar in the pods of test/podinfo: 1 of 1 running pods have none (podinfo-"
        ),
        "{sidecar}"
    );
    assert!(sidecar.contains("); label the namespace `istio-injection=enabled`"), "{sidecar}");

    let out = preflight(&sb, &nowhere, &["--canary", "test/nothing"]).await;
    assert_eq!(out.line("Canary test/nothing"), "missing      Canary test/nothing: not found");

    let out = preflight(&sb, &nowhere, &["--output", "json"]).await;
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let prometheus =
        report["findings"].as_array().unwrap().iter().find(|f| f["what"] == format!("Prometheus at {nowhere}"));
    assert_eq!(prometheus.unwrap()["status"], "missing", "{}", out.stdout);
}
