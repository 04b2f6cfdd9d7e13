//! Metric analysis in a rollout: the real controller asking a real Prometheus that scrapes
//! the sandbox mesh. A good release passes its checks (a built-in metric and a MetricTemplate
//! filled from templateVariables) and is promoted; a release that answers 10% errors fails
//! them and is rolled back, with the numbers in the status, the events and the controller's
//! metrics; a Prometheus that goes away mid-rollout fails the checks and rolls back, never
//! promotes.

mod common;

use common::{client, events, eventually, image_of, install_crds, kubectl_ok, load_generator, sandbox};
use fledge_analysis::threshold::shown;
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
    - name: error-percentage
      interval: 10s
      templateRef: {name: error-percentage}
      templateVariables: {codes: "5.."}
      thresholdRange: {max: 1}
---
apiVersion: fledge.dev/v1beta1
kind: MetricTemplate
metadata: {name: error-percentage, namespace: test}
spec:
  provider: {type: prometheus}
  query: |
    100 * (sum(rate(istio_requests_total{reporter="destination", destination_workload_namespace="{{ namespace }}",
             destination_workload="{{ target }}", response_code=~"{{ variables.codes }}"}[{{ interval }}])) or on() vector(0))
      / sum(rate(istio_requests_total{reporter="destination", destination_workload_namespace="{{ namespace }}",
             destination_workload="{{ target }}"}[{{ interval }}]))
"#;

/// The manifest with traffic: users through the apex Service and a load tester on the canary.
fn manifest() -> String {
    let users = load_generator("users", "http://podinfo.test:9898/", 200);
    let loadtester = load_generator("loadtester", "http://podinfo-canary.test:9898/", 200);
    format!("{MANIFEST}---{users}---{loadtester}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_answering_errors_fails_its_checks_and_is_rolled_back() {
    let sb = sandbox().await;
    let prometheus =
        fledge_sandbox_cluster::prometheus::Prometheus::start(sb.url().trim_start_matches("http://")).await.unwrap();
    install_crds(&sb).await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(&manifest())).await;
    let log = sb.kubeconfig().with_file_name("fledge.log");
    let controller = ControllerProcess::start(
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
    let checks = status.checks.unwrap();
    let check = checks.iter().find(|c| c.name == "request-success-rate").unwrap();
    assert_eq!((check.kind, check.verdict), (CheckKind::Metric, Verdict::Pass), "{check:?}");
    assert_eq!(check.value, Some(100.0));
    let check = checks.iter().find(|c| c.name == "error-percentage").unwrap();
    assert_eq!((check.verdict, check.value), (Verdict::Pass, Some(0.0)), "the template's query ran: {check:?}");

    // A bad release: 10% of its answers are 500s.
    let patch = r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.fledge.dev/error-rate":"0.1"}}}}}"#;
    kubectl_ok(&sb, &["-n", "test", "patch", "deployment", "podinfo", "--type", "merge", "-p", patch], None).await;
    phase_is(Phase::Progressing, 10).await;
    phase_is(Phase::Failed, 90).await;
    let status = canaries.get("podinfo").await.unwrap().status.unwrap();
    let checks = status.checks.unwrap();
    let check = checks.iter().find(|c| c.name == "request-success-rate").unwrap();
    assert_eq!(check.verdict, Verdict::Fail, "{check:?}");
    let rate = check.value.unwrap();
    assert!((rate - 90.0).abs() < 5.0, "success rate {rate} with 10% errors");
    assert!(check.message.as_deref().unwrap().ends_with("is below the minimum 99"), "{check:?}");
    let errors = checks.iter().find(|c| c.name == "error-percentage").unwrap();
    assert_eq!(errors.verdict, Verdict::Fail, "{errors:?}");
    assert!((errors.value.unwrap() - (100.0 - rate)).abs() < 3.0, "{errors:?} against success rate {rate}");

    // The last Halted event quotes the measured values and the limits of both failed checks.
    let events = events(&sb).await;
    let quoted = format!(
        "Halt advancement podinfo.test: metric request-success-rate: request-success-rate {} is below the minimum 99; \
         metric error-percentage: error-percentage {} is above the maximum 1",
        shown(rate),
        shown(errors.value.unwrap())
    );
    assert!(events.contains(&quoted), "{quoted:?} not in\n{events}");
    assert!(events.contains("failed checks threshold reached 2"), "{events}");

    // The controller's metrics show the same values.
    let metrics = reqwest::get(format!("http://{}/metrics", controller.listen)).await.unwrap().text().await.unwrap();
    let gauge = |metric: &str| {
        let prefix = format!(r#"fledge_canary_metric_analysis{{name="podinfo",namespace="test",metric="{metric}"}} "#);
        metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.parse::<f64>().ok())
    };
    assert_eq!(gauge("request-success-rate"), Some(rate), "{metrics}");
    assert_eq!(gauge("error-percentage"), errors.value, "{metrics}");
    let primary = image_of(&sb, "podinfo-primary").await;
    assert_eq!(primary, "ghcr.io/stefanprodan/podinfo:6.0.1", "the primary keeps the good release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prometheus_that_goes_away_mid_rollout_fails_the_checks_and_rolls_back() {
    let sb = sandbox().await;
    let prometheus =
        fledge_sandbox_cluster::prometheus::Prometheus::start(sb.url().trim_start_matches("http://")).await.unwrap();
    let address = prometheus.url.clone();
    install_crds(&sb).await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(&manifest().replace("stepWeight: 25", "stepWeight: 10"))).await;
    let log = sb.kubeconfig().with_file_name("fledge.log");
    let _controller =
        ControllerProcess::start(sb.kubeconfig(), &log, &["--leader-election=false", "--metrics-server", &address])
            .await
            .unwrap();
    let canaries: Api<Canary> = Api::namespaced(client(&sb).await, "test");
    let status = |wanted: &'static str, check: fn(&fledge_crds::canary::CanaryStatus) -> bool| {
        let canaries = canaries.clone();
        async move {
            eventually(Duration::from_secs(90), wanted, || async {
                let s = canaries.get("podinfo").await.ok()?.status?;
                check(&s).then_some(s)
            })
            .await
        }
    };
    status("phase Initialized", |s| s.phase == Phase::Initialized).await;
    let image = "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1";
    kubectl_ok(&sb, &["-n", "test", "set", "image", "deployment/podinfo", image], None).await;

    // One step passed on Prometheus' numbers; then Prometheus is gone.
    status("the first step", |s| s.canary_weight == Some(10)).await;
    drop(prometheus);

    let failed = status("phase Failed", |s| matches!(s.phase, Phase::Failed | Phase::Succeeded)).await;
    assert_eq!(failed.phase, Phase::Failed, "never promoted without evidence: {failed:?}");
    assert_eq!(failed.canary_weight, Some(0));
    let check = failed.checks.unwrap().into_iter().find(|c| c.name == "request-success-rate").unwrap();
    assert_eq!(check.verdict, Verdict::Error, "{check:?}");
    let message = check.message.unwrap();
    assert!(message.starts_with("query \"") && message.contains(&format!(" to {address}: ")), "{message}");
    let primary = image_of(&sb, "podinfo-primary").await;
    assert_eq!(primary, "ghcr.io/stefanprodan/podinfo:6.0.0", "the primary keeps the old release");
}
