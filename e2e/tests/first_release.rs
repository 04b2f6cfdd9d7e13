//! The first thing a user does, end to end against a real Prometheus: a Canary gated on
//! Flagger's built-in metrics (or a MetricTemplate, or metrics and access logs), created together
//! with its users' load, which only ever reaches the apex Service, so the canary workload has
//! never served a request when the release comes. A good release is promoted and a release
//! answering 10% errors is rolled back, each in its own namespace of one sandbox so both run at
//! once; a canary whose first step gets no traffic at all waits for data and is then promoted;
//! at 20 requests a second (Flagger's tutorial gates, and the access logs with and without a
//! limit) good releases are promoted and bad ones rolled back on the evidence their steps gather.

mod common;

use common::{Weights, client, eventually, install_crds, kubectl_ok, load_generator, sandbox};
use fledge_analysis::threshold::shown;
use fledge_crds::canary::{Canary, CheckKind, Phase, Verdict};
use fledge_e2e::controller::ControllerProcess;
use fledge_sandbox_cluster::Sandbox;
use fledge_sandbox_cluster::prometheus::Prometheus;
use kube::Api;
use std::time::Duration;

/// Flagger's tutorial gates: the two built-in metrics, on a short interval.
const BUILT_IN: &str = r#"
    interval: 4s
    threshold: 2
    stepWeight: 10
    maxWeight: 30
    metrics:
    - name: request-success-rate
      interval: 15s
      thresholdRange: {min: 95}
    - name: request-duration
      interval: 15s
      thresholdRange: {max: 500}"#;

/// Flagger's Istio tutorial, on a short interval: the two built-in metrics, success rate at
/// least 99% and p99 at most 500 ms, each over 30s.
const TUTORIAL: &str = r#"
    interval: 5s
    threshold: 2
    stepWeight: 10
    maxWeight: 50
    metrics:
    - name: request-success-rate
      interval: 30s
      thresholdRange: {min: 99}
    - name: request-duration
      interval: 30s
      thresholdRange: {max: 500}"#;

/// A MetricTemplate filled from `templateVariables`, and nothing else.
const TEMPLATE: &str = r#"
    interval: 4s
    threshold: 2
    stepWeight: 10
    maxWeight: 30
    metrics:
    - name: error-percentage
      interval: 15s
      templateRef: {name: error-percentage}
      templateVariables: {codes: "5.."}
      thresholdRange: {max: 5}"#;

const ERROR_PERCENTAGE: &str = r#"
apiVersion: fledge.dev/v1beta1
kind: MetricTemplate
metadata: {name: error-percentage, namespace: NS}
spec:
  provider: {type: prometheus}
  query: |
    100 * (sum(rate(istio_requests_total{reporter="destination", destination_workload_namespace="{{ namespace }}",
             destination_workload="{{ target }}", response_code=~"{{ variables.codes }}"}[{{ interval }}])) or on() vector(0))
      / sum(rate(istio_requests_total{reporter="destination", destination_workload_namespace="{{ namespace }}",
             destination_workload="{{ target }}"}[{{ interval }}]))
"#;

/// One team's service: podinfo, its Canary and its users, in namespace `ns`.
struct Team {
    ns: &'static str,
    /// The Canary's `analysis`, indented under it.
    analysis: &'static str,
    /// Requests a second from the users, to the apex Service; none: no users yet.
    rps: Option<u32>,
    /// The error rate of every version (`sandbox.fledge.dev/error-rate`), when any.
    errors: Option<&'static str>,
}

fn manifest(team: &Team) -> String {
    let annotations = team
        .errors
        .map(|rate| format!("\n      annotations: {{sandbox.fledge.dev/error-rate: \"{rate}\"}}"))
        .unwrap_or_default();
    let ns = team.ns;
    let mut out = format!(
        r#"
apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: podinfo, namespace: {ns}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: podinfo}}}}
  template:
    metadata:
      labels: {{app: podinfo}}{annotations}
    spec: {{containers: [{{name: podinfod, image: ghcr.io/stefanprodan/podinfo:6.0.0}}]}}
---
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {{name: podinfo, namespace: {ns}}}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  progressDeadlineSeconds: 120
  service: {{port: 9898}}
  analysis:{analysis}
---{template}"#,
        analysis = team.analysis,
        template = ERROR_PERCENTAGE.replace("NS", ns),
    );
    if let Some(rps) = team.rps {
        out.push_str("---");
        out.push_str(&users(ns, rps));
    }
    out
}

/// The users: a load generator calling the apex Service only.
fn users(ns: &str, rps: u32) -> String {
    load_generator("users", &format!("http://podinfo.{ns}:9898/"), rps)
        .replace("namespace: test", &format!("namespace: {ns}"))
}

/// A sandbox, a real Prometheus scraping its mesh, the teams' manifests and the controller;
/// every Canary Initialized.
struct World {
    client: kube::Client,
    _controller: ControllerProcess,
    _prometheus: Prometheus,
    sandbox: Sandbox,
}

impl World {
    async fn start(teams: &[Team]) -> Self {
        let sandbox = sandbox().await;
        let prometheus = Prometheus::start(sandbox.url().trim_start_matches("http://")).await.unwrap();
        install_crds(&sandbox).await;
        for team in teams {
            kubectl_ok(&sandbox, &["apply", "-f", "-"], Some(&manifest(team))).await;
        }
        let log = sandbox.kubeconfig().with_file_name("fledge.log");
        let flags = ["--leader-election=false", "--metrics-server", &prometheus.url];
        let controller = ControllerProcess::start(sandbox.kubeconfig(), &log, &flags).await.unwrap();
        let world = Self { client: client(&sandbox).await, _controller: controller, _prometheus: prometheus, sandbox };
        for team in teams {
            world.phase_is(team.ns, &[Phase::Initialized], 60).await;
        }
        world
    }

    fn canaries(&self, ns: &str) -> Api<Canary> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// Waits for one of `phases`, and returns the Canary's status then.
    async fn phase_is(&self, ns: &str, phases: &[Phase], seconds: u64) -> fledge_crds::canary::CanaryStatus {
        let canaries = self.canaries(ns);
        let what = format!("{ns}: phase {phases:?}");
        eventually(Duration::from_secs(seconds), &what, || async {
            let status = canaries.get("podinfo").await.ok()?.status?;
            phases.contains(&status.phase).then_some(status)
        })
        .await
    }

    /// Releases podinfo 6.0.1 in `ns` as a person does; with `errors`, a version answering that
    /// share of its requests with errors.
    async fn release(&self, ns: &str, errors: Option<&str>) {
        let image = "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1";
        kubectl_ok(&self.sandbox, &["-n", ns, "set", "image", "deployment/podinfo", image], None).await;
        if let Some(rate) = errors {
            let patch = format!(
                r#"{{"spec":{{"template":{{"metadata":{{"annotations":{{"sandbox.fledge.dev/error-rate":"{rate}"}}}}}}}}}}"#
            );
            kubectl_ok(
                &self.sandbox,
                &["-n", ns, "patch", "deployment", "podinfo", "--type", "merge", "-p", &patch],
                None,
            )
            .await;
        }
    }

    /// Records the canary weights the VirtualService of `ns` carries.
    fn record_weights(&self, ns: &str) -> Weights {
        common::record_weights(Api::namespaced(self.client.clone(), ns))
    }

    /// The events of `ns`: one `reason: message` line each.
    async fn events(&self, ns: &str) -> String {
        let columns = "custom-columns=R:.reason,M:.message";
        let text =
            kubectl_ok(&self.sandbox, &["-n", ns, "get", "events", "--sort-by=.lastTimestamp", "-o", columns], None)
                .await;
        text.lines()
            .skip(1)
            .map(|l| l.split_once(char::is_whitespace).map_or(l.to_owned(), |(r, m)| format!("{r}: {}", m.trim())))
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn primary_image(&self, ns: &str) -> String {
        let path = "jsonpath={.spec.template.spec.containers[0].image}";
        kubectl_ok(&self.sandbox, &["-n", ns, "get", "deployment", "podinfo-primary", "-o", path], None).await
    }
}

/// A good release walked 10, 20, 30 and was promoted, with no check ever failed.
async fn promoted(world: &World, ns: &str, weights: Weights) {
    let status = world.phase_is(ns, &[Phase::Succeeded, Phase::Failed], 150).await;
    let events = world.events(ns).await;
    assert_eq!(status.phase, Phase::Succeeded, "{ns}: a good release is promoted; events:\n{events}");
    assert_eq!(weights.stop(), vec![0, 10, 20, 30, 0], "{ns}: the weights on the VirtualService; events:\n{events}");
    assert!(!events.contains("Halted"), "{ns}: no check failed:\n{events}");
    assert!(events.contains(&format!("Promoted: Promotion completed! Scaling down podinfo.{ns}")), "{events}");
    assert_eq!(world.primary_image(ns).await, "ghcr.io/stefanprodan/podinfo:6.0.1");
}

/// A release answering 10% errors was rolled back on its measured error rate, never promoted.
async fn rolled_back(world: &World, ns: &str, weights: Weights, check: &str) -> (f64, String) {
    let status = world.phase_is(ns, &[Phase::Succeeded, Phase::Failed], 150).await;
    let events = world.events(ns).await;
    assert_eq!(status.phase, Phase::Failed, "{ns}: a bad release is rolled back; events:\n{events}");
    let weights = weights.stop();
    assert_eq!(weights.first(), Some(&0), "{weights:?}");
    assert_eq!(weights.last(), Some(&0), "{ns}: all traffic back on the primary: {weights:?}");
    assert!(weights.iter().all(|w| *w <= 30), "{weights:?}");
    let failed = status.checks.unwrap().into_iter().find(|c| c.name == check).unwrap();
    assert_eq!((failed.kind, failed.verdict), (CheckKind::Metric, Verdict::Fail), "{failed:?}");
    assert!(
        events.contains(&format!("RolledBack: Rolling back podinfo.{ns}: failed checks threshold reached 2")),
        "{events}"
    );
    assert_eq!(
        world.primary_image(ns).await,
        "ghcr.io/stefanprodan/podinfo:6.0.0",
        "the primary keeps the old release"
    );
    (failed.value.unwrap(), events)
}

/// Metrics with the access logs: either check may see the errors first.
const BOTH: &str = r#"
    interval: 4s
    threshold: 2
    stepWeight: 10
    maxWeight: 30
    metrics:
    - name: request-success-rate
      interval: 15s
      thresholdRange: {min: 95}
    accessLog: {}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_canary_gated_on_metrics_or_metrics_and_access_logs_promotes_a_good_release_and_rolls_back_a_bad_one() {
    let teams = [
        Team { ns: "builtin-good", analysis: BUILT_IN, rps: Some(40), errors: None },
        Team { ns: "builtin-bad", analysis: BUILT_IN, rps: Some(40), errors: None },
        Team { ns: "template-good", analysis: TEMPLATE, rps: Some(40), errors: None },
        Team { ns: "template-bad", analysis: TEMPLATE, rps: Some(40), errors: None },
        Team { ns: "both-good", analysis: BOTH, rps: Some(40), errors: None },
        Team { ns: "both-bad", analysis: BOTH, rps: Some(40), errors: None },
    ];
    let world = World::start(&teams).await;
    let weights: Vec<Weights> = teams.iter().map(|t| world.record_weights(t.ns)).collect();
    for team in &teams {
        world.release(team.ns, team.ns.ends_with("bad").then_some("0.1")).await;
    }
    let mut weights = weights.into_iter();
    promoted(&world, "builtin-good", weights.next().unwrap()).await;
    let (rate, events) = rolled_back(&world, "builtin-bad", weights.next().unwrap(), "request-success-rate").await;
    // A short window of a new series: the rate is rough, the event quotes it exactly.
    assert!(rate < 95.0 && rate > 50.0, "success rate {rate} with 10% errors");
    let quoted = format!("request-success-rate {} is below the minimum 95", shown(rate));
    assert!(events.contains(&quoted), "the measured rate is in the event: {quoted:?} not in\n{events}");
    promoted(&world, "template-good", weights.next().unwrap()).await;
    let (rate, events) = rolled_back(&world, "template-bad", weights.next().unwrap(), "error-percentage").await;
    assert!(rate > 5.0 && rate < 50.0, "error percentage {rate} with 10% errors");
    let quoted = format!("error-percentage {} is above the maximum 5", shown(rate));
    assert!(events.contains(&quoted), "the measured rate is in the event: {quoted:?} not in\n{events}");

    promoted(&world, "both-good", weights.next().unwrap()).await;
    let status = world.canaries("both-good").get("podinfo").await.unwrap().status.unwrap();
    let access_log = common::access_log_check(&status);
    assert_eq!(access_log.verdict, Verdict::Pass, "the access logs were judged too: {access_log:?}");
    let status = world.phase_is("both-bad", &[Phase::Succeeded, Phase::Failed], 150).await;
    let events = world.events("both-bad").await;
    assert_eq!(status.phase, Phase::Failed, "{events}");
    let weights = weights.next().unwrap().stop();
    assert_eq!((weights.first(), weights.last()), (Some(&0), Some(&0)), "{weights:?}");
    let rolled_back = "RolledBack: Rolling back podinfo.both-bad: failed checks threshold reached 2";
    assert!(events.contains(rolled_back), "{events}");
    let halted: Vec<&str> = events.lines().filter(|l| l.starts_with("Halted:")).collect();
    assert!(!halted.is_empty(), "{events}");
    for line in halted {
        assert!(
            line.contains("is below the minimum 95") || line.contains("canary error rate "),
            "a failed check quotes its numbers: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_step_without_any_traffic_waits_for_data_and_is_then_promoted() {
    let teams = [Team { ns: "quiet", analysis: BUILT_IN, rps: None, errors: None }];
    let world = World::start(&teams).await;
    let weights = world.record_weights("quiet");
    world.release("quiet", None).await;
    // The first step is taken unjudged; at 10% the canary has no series in Prometheus yet.
    let waiting = "Waiting for data for podinfo.quiet at weight 10";
    eventually(Duration::from_secs(60), "a NoData event", || async {
        world.events("quiet").await.contains(waiting).then_some(())
    })
    .await;
    let status = world.canaries("quiet").get("podinfo").await.unwrap().status.unwrap();
    assert_eq!((status.phase, status.canary_weight, status.failed_checks), (Phase::Progressing, Some(10), Some(0)));
    assert!(status.no_data_since.is_some(), "{status:?}");
    // Users arrive: the step is judged on their requests and the release goes on.
    kubectl_ok(&world.sandbox, &["apply", "-f", "-"], Some(&users("quiet", 40))).await;
    promoted(&world, "quiet", weights).await;
    let events = world.events("quiet").await;
    assert!(events.contains("NoData: Waiting for data for podinfo.quiet at weight 10 ("), "{events}");
    assert!(!events.contains("RolledBack"), "{events}");
}

/// Twenty requests a second at the apex, 10% steps, a 10 s interval and the access-log check
/// with its defaults (50 requests a version, compared with the primary): at 10% the canary
/// gets 2 requests a second, so a step gathers its evidence over more than one interval.
const LOW_TRAFFIC: &str = r#"
    interval: 10s
    threshold: 2
    stepWeight: 10
    maxWeight: 50
    accessLog: {}"#;

/// The same with an absolute limit on the error rate: an A/A canary at 0.5% errors measures
/// above 1% in many short windows (one error in 60 requests is 1.67%), and must not be rolled
/// back for it; the limit fails only when the count shows the rate is above it.
const LOW_TRAFFIC_LIMIT: &str = r#"
    interval: 10s
    threshold: 2
    stepWeight: 10
    maxWeight: 50
    accessLog: {maxErrorRate: 1}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_twenty_requests_a_second_good_releases_are_promoted_and_bad_ones_rolled_back() {
    let teams = [
        Team { ns: "good", analysis: LOW_TRAFFIC, rps: Some(20), errors: Some("0.005") },
        Team { ns: "bad", analysis: LOW_TRAFFIC, rps: Some(20), errors: Some("0.005") },
        Team { ns: "good-limit", analysis: LOW_TRAFFIC_LIMIT, rps: Some(20), errors: Some("0.005") },
        Team { ns: "bad-limit", analysis: LOW_TRAFFIC_LIMIT, rps: Some(20), errors: Some("0.005") },
        Team { ns: "tutorial-good", analysis: TUTORIAL, rps: Some(20), errors: None },
        Team { ns: "tutorial-bad", analysis: TUTORIAL, rps: Some(20), errors: None },
    ];
    let world = World::start(&teams).await;
    let weights: Vec<Weights> = teams.iter().map(|t| world.record_weights(t.ns)).collect();
    for team in &teams {
        world.release(team.ns, team.ns.contains("bad").then_some("0.1")).await;
    }
    for (team, weights) in teams.iter().zip(weights) {
        let ns = team.ns;
        let status = world.phase_is(ns, &[Phase::Succeeded, Phase::Failed], 300).await;
        let events = world.events(ns).await;
        let weights = weights.stop();
        if ns.starts_with("tutorial") {
            // Flagger's tutorial gates, on Prometheus.
            let phase = if ns.ends_with("good") { Phase::Succeeded } else { Phase::Failed };
            assert_eq!(status.phase, phase, "{ns}:\n{events}");
            if phase == Phase::Succeeded {
                assert_eq!(weights, vec![0, 10, 20, 30, 40, 50, 0], "{ns}: {events}");
                assert!(!events.contains("Halted"), "{ns}: {events}");
            } else {
                assert_eq!(weights.last(), Some(&0), "{ns}: {weights:?}");
                assert!(
                    events.contains("is below the minimum 99"),
                    "{ns}: the measured rate is in the event:\n{events}"
                );
            }
        } else if ns.starts_with("good") {
            assert_eq!(status.phase, Phase::Succeeded, "{ns}: an A/A release at 0.5% errors is promoted:\n{events}");
            assert_eq!(weights, vec![0, 10, 20, 30, 40, 50, 0], "{ns}: {events}");
            let waited = format!("NoData: Waiting for data for podinfo.{ns} at weight 10 (");
            assert!(events.contains(&waited), "{ns}: it waited for evidence:\n{events}");
            assert!(!events.contains("Rolling back"), "{ns}: {events}");
        } else {
            assert_eq!(status.phase, Phase::Failed, "{ns}: a release at 10% errors is rolled back:\n{events}");
            assert_eq!(weights.last(), Some(&0), "{ns}: {weights:?}");
            let rolled_back = format!("RolledBack: Rolling back podinfo.{ns}: failed checks threshold reached 2");
            assert!(events.contains(&rolled_back), "{ns}: {events}");
            assert!(events.contains("canary error rate "), "{ns}: the access-log check quotes the rates:\n{events}");
        }
    }
}
