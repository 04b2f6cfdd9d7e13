//! Access-log analysis in a rollout: the real controller reading the Envoy access logs of both
//! versions through the sandbox's pod log API, with no Prometheus at all. A good release is
//! judged on its logs at every step and promoted; a release answering 10% errors fails the
//! check and is rolled back, and the event quotes the measured error rate.

mod common;

use common::{access_log_check, client, events, install_crds, kubectl_ok, load_generator, podinfo, sandbox, wait_for};
use fledge_crds::canary::{Canary, Phase, Verdict};
use fledge_e2e::controller::ControllerProcess;
use kube::Api;

/// What follows `podinfo(2)`.
const MANIFEST: &str = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 30
  service: {port: 9898}
  analysis:
    interval: 3s
    threshold: 2
    maxWeight: 50
    stepWeight: 25
    accessLog:
      minRequests: 50
      maxErrorRate: 1
"#;

/// The manifest with traffic: users through the apex Service and a load tester on the canary.
fn manifest() -> String {
    let users = load_generator("users", "http://podinfo.test:9898/", 150);
    let loadtester = load_generator("loadtester", "http://podinfo-canary.test:9898/", 100);
    format!("{}---{MANIFEST}---{users}---{loadtester}", podinfo(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_answering_errors_in_its_access_logs_is_rolled_back() {
    let sb = sandbox().await;
    install_crds(&sb).await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(&manifest())).await;
    let log = sb.kubeconfig().with_file_name("fledge.log");
    let _controller = ControllerProcess::start(sb.kubeconfig(), &log, &["--leader-election=false"]).await.unwrap();
    let canaries: Api<Canary> = Api::namespaced(client(&sb).await, "test");
    wait_for(&canaries, "phase Initialized", |s| s.phase == Phase::Initialized).await;

    // A good release: judged on its logs at every step, and promoted.
    let image = "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1";
    kubectl_ok(&sb, &["-n", "test", "set", "image", "deployment/podinfo", image], None).await;
    wait_for(&canaries, "phase Progressing", |s| s.phase == Phase::Progressing).await;
    let done =
        wait_for(&canaries, "the end of release 1", |s| matches!(s.phase, Phase::Succeeded | Phase::Failed)).await;
    let check = access_log_check(&done);
    assert_eq!((done.phase, check.verdict), (Phase::Succeeded, Verdict::Pass), "{check:?}\n{}", log_tail(&log));
    assert_eq!(check.value, Some(0.0), "no errors in a good release: {check:?}");
    let message = check.message.unwrap();
    assert!(message.starts_with("error rate 0% vs primary 0%"), "{message}");

    // A bad release: one request in ten answers 500 or 503.
    let patch = r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.fledge.dev/error-rate":"0.1"}}}}}"#;
    kubectl_ok(&sb, &["-n", "test", "patch", "deployment", "podinfo", "--type", "merge", "-p", patch], None).await;
    wait_for(&canaries, "phase Progressing", |s| s.phase == Phase::Progressing).await;
    let done =
        wait_for(&canaries, "the end of release 2", |s| matches!(s.phase, Phase::Succeeded | Phase::Failed)).await;
    assert_eq!((done.phase, done.canary_weight), (Phase::Failed, Some(0)), "{done:?}");
    let check = access_log_check(&done);
    assert_eq!(check.verdict, Verdict::Fail, "{check:?}");
    let rate = check.value.unwrap();
    assert!((rate - 10.0).abs() < 4.0, "measured error rate {rate}% with 10% injected");
    let message = check.message.clone().unwrap();
    // "canary error rate 7.79% (24 of 308) above limit 1%, p<0.0001 and above primary ...": the
    // rate as measured.
    let quoted = message.strip_prefix("canary error rate ").and_then(|m| m.split_once("% (")).expect(&message);
    let (errors, requests) = quoted.1.split_once(')').and_then(|(c, _)| c.split_once(" of ")).expect(&message);
    let (errors, requests): (f64, f64) = (errors.parse().unwrap(), requests.parse().unwrap());
    assert!((quoted.0.parse::<f64>().unwrap() - rate).abs() <= 0.05, "{message} quotes {rate}, to three digits");
    assert!((errors * 100.0 / requests - rate).abs() < 1e-9, "{message}");
    assert!(message.contains("above limit 1%"), "{message}");

    // The event says the same, with the numbers.
    let events = events(&sb).await;
    assert!(events.contains(&format!("Halt advancement podinfo.test: access log access-log: {message}")), "{events}");
    assert!(events.contains("failed checks threshold reached 2"), "{events}");
    let primary = kubectl_ok(
        &sb,
        &["-n", "test", "get", "deployment/podinfo-primary", "-o", "jsonpath={.spec.template.metadata.annotations}"],
        None,
    )
    .await;
    assert!(!primary.contains("error-rate"), "the primary keeps the good release: {primary}");
}

fn log_tail(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
