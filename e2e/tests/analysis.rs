//! Metric analysis in a rollout: the real controller asking a real Prometheus that scrapes
//! the sandbox mesh. A good release passes its checks and is promoted; a release that answers
//! 20% errors fails them and is rolled back, with the numbers in the status and the events.

mod common;

use common::{client, eventually, install_crds, kubectl_ok, sandbox};
use fledge_crds::canary::{Canary, CheckKind, Phase, Verdict};
use fledge_e2e::controller::ControllerProcess;
use kube::Api;
use std::time::Duration;

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: test}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: podinfo, namespace: test, labels: {app: podinfo}}
spec:
  replicas: 2
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata: {labels: {app: podinfo}}
    spec: {containers: [{name: podinfod, image: ghcr.io/stefanprodan/podinfo:6.0.0}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: users, namespace: test}
spec:
  replicas: 1
  selector: {matchLabels: {app: users}}
  template:
    metadata:
      labels: {app: users}
      annotations: {sandbox.fledge.dev/load: "http://podinfo.test:9898/ rps=200"}
    spec: {containers: [{name: hey, image: ghcr.io/fluxcd/flagger-loadtester:0.34.0}]}
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
      annotations: {sandbox.fledge.dev/load: "http://podinfo-canary.test:9898/ rps=200"}
    spec: {containers: [{name: hey, image: ghcr.io/fluxcd/flagger-loadtester:0.34.0}]}
---
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 30
  service: {port: 9898}
  analysis:
    interval: 4s
    threshold: 2
    maxWeight: 50
    stepWeight: 25
    metrics:
    - name: request-success-rate
      interval: 10s
      thresholdRange: {min: 99}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_answering_errors_fails_its_checks_and_is_rolled_back() {
    let sb = sandbox().await;
    let prometheus = fledge_e2e::prometheus::Prometheus::start(sb.url().trim_start_matches("http://")).await.unwrap();
    install_crds(&sb).await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(MANIFEST)).await;
    let log = sb.kubeconfig().with_file_name("fledge.log");
    let _controller = ControllerProcess::start(
        sb.kubeconfig(),
        &log,
        &["--leader-election=false", "--metrics-server", &prometheus.url],
    )
    .await
    .unwrap();
    let canaries: Api<Canary> = Api::namespaced(client(&sb).await, "test");
    let phase_is = |want: Phase, seconds: u64| {
        let canaries = canaries.clone();
        async move {
            eventually(Duration::from_secs(seconds), &format!("phase {want}"), || async {
                let c = canaries.get("podinfo").await.ok()?;
                (c.status?.phase == want).then_some(())
            })
            .await
        }
    };
    phase_is(Phase::Initialized, 30).await;

    // A good release: its success rate is measured at every step and passes.
    let image = "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1";
    kubectl_ok(&sb, &["-n", "test", "set", "image", "deployment/podinfo", image], None).await;
    phase_is(Phase::Progressing, 10).await;
    phase_is(Phase::Succeeded, 90).await;
    let status = canaries.get("podinfo").await.unwrap().status.unwrap();
    let check = status.checks.unwrap().into_iter().find(|c| c.name == "request-success-rate").unwrap();
    assert_eq!((check.kind, check.verdict), (CheckKind::Metric, Verdict::Pass), "{check:?}");
    assert_eq!(check.value, Some(100.0));

    // A bad release: 20% of its answers are 500s.
    let patch = r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.fledge.dev/error-rate":"0.2"}}}}}"#;
    kubectl_ok(&sb, &["-n", "test", "patch", "deployment", "podinfo", "--type", "merge", "-p", patch], None).await;
    phase_is(Phase::Progressing, 10).await;
    phase_is(Phase::Failed, 90).await;
    let status = canaries.get("podinfo").await.unwrap().status.unwrap();
    let check = status.checks.unwrap().into_iter().find(|c| c.name == "request-success-rate").unwrap();
    assert_eq!(check.verdict, Verdict::Fail, "{check:?}");
    let value = check.value.unwrap();
    assert!(value < 99.0 && value > 60.0, "success rate {value} with 20% errors");
    assert!(check.message.as_deref().unwrap().ends_with("is below the minimum 99"), "{check:?}");
    let events =
        kubectl_ok(&sb, &["-n", "test", "get", "events", "-o", "custom-columns=R:.reason,M:.message"], None).await;
    assert!(
        events.contains("Halt advancement podinfo.test: metric request-success-rate: request-success-rate "),
        "{events}"
    );
    assert!(events.contains("failed checks threshold reached 2"), "{events}");
    let primary = kubectl_ok(
        &sb,
        &[
            "-n",
            "test",
            "get",
            "deployment",
            "podinfo-primary",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
        None,
    )
    .await;
    assert_eq!(primary, "ghcr.io/stefanprodan/podinfo:6.0.1", "the primary keeps the good release");
}
