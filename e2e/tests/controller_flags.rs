//! The flags of `fledge controller` that a Flagger user migrating relies on, each seen as a user
//! sees it: `--selector-labels` (a Deployment selected by another label is released),
//! `--include-label-prefix` (which labels the primary gets), `--enable-config-tracking=false`
//! (no ConfigMap copies), `--cluster-name` (named in the notification) and
//! `--no-cross-namespace-refs` (a MetricTemplate or AlertProvider of another namespace refused,
//! with the condition and event naming the field).

mod common;

use common::receiver::Receiver;
use common::{eventually, kubectl_ok, release, started, wait_for};
use fledge_crds::canary::Phase;
use std::time::Duration;

/// Namespace `test` and Deployment `podinfo`, selected by `service: podinfo` (no `app` label at
/// all), with labels of two teams and a ConfigMap its pods read.
const PODINFO: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: test}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: podinfo-config, namespace: test}
data: {color: blue}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: test
  labels: {service: podinfo, team.example.com/owner: web, helm.sh/chart: podinfo-6.0.0}
spec:
  replicas: 1
  selector: {matchLabels: {service: podinfo}}
  template:
    metadata: {labels: {service: podinfo}}
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:6.0.0
        envFrom: [{configMapRef: {name: podinfo-config}}]
"#;

const CANARY: &str = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 30
  service: {port: 9898}
  analysis: {interval: 2s, threshold: 2, maxWeight: 20, stepWeight: 10}
"#;

/// What `kubectl get` prints for `path` (a JSONPath) of one object in namespace `test`.
async fn get(sb: &fledge_sandbox_cluster::Sandbox, what: &[&str], path: &str) -> String {
    let output = format!("jsonpath={path}");
    let args: Vec<&str> =
        ["-n", "test", "get"].into_iter().chain(what.iter().copied()).chain(["-o", &output]).collect();
    kubectl_ok(sb, &args, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selector_labels_label_prefixes_config_tracking_and_the_cluster_name() {
    let receiver = Receiver::start().await;
    let address = format!("{}/default", receiver.url);
    let flags = [
        "--selector-labels=service,app",
        "--include-label-prefix=team.example.com/",
        "--enable-config-tracking=false",
        "--cluster-name=prod-eu-1",
        "--alert-address",
        &address,
        "--alert-type=generic",
    ];
    let run = started(&format!("{PODINFO}---{CANARY}"), &flags).await;
    let (sb, canaries) = (&run.sandbox, &run.canaries);

    // --selector-labels: `service` is the selector label, suffixed -primary on the primary, and
    // what the Services select on.
    let primary = ["deployment", "podinfo-primary"];
    assert_eq!(get(sb, &primary, "{.spec.selector.matchLabels}").await, r#"{"service":"podinfo-primary"}"#);
    assert_eq!(get(sb, &primary, "{.spec.template.metadata.labels.service}").await, "podinfo-primary");
    assert_eq!(get(sb, &["service", "podinfo"], "{.spec.selector}").await, r#"{"service":"podinfo-primary"}"#);
    assert_eq!(get(sb, &["service", "podinfo-canary"], "{.spec.selector}").await, r#"{"service":"podinfo"}"#);

    // --include-label-prefix: the team's label is copied, the chart's is not.
    let labels: serde_json::Value = serde_json::from_str(&get(sb, &primary, "{.metadata.labels}").await).unwrap();
    assert_eq!(labels, serde_json::json!({"service": "podinfo-primary", "team.example.com/owner": "web"}));

    // --enable-config-tracking=false: no copy, the primary reads the target's own ConfigMap.
    let config_maps = get(sb, &["configmaps"], "{.items[*].metadata.name}").await;
    assert!(!config_maps.contains("podinfo-config-primary"), "no copy of the ConfigMap: {config_maps}");
    let source = "{.spec.template.spec.containers[0].envFrom[0].configMapRef.name}";
    assert_eq!(get(sb, &primary, source).await, "podinfo-config");
    assert_eq!(get(sb, &["canary", "podinfo"], "{.status.trackedConfigs}").await, "");

    // A release goes through, selected by `service`; --cluster-name is in its notifications.
    release(sb, "6.0.1").await;
    wait_for(canaries, "phase Succeeded", |s| s.phase == Phase::Succeeded).await;
    assert_eq!(
        get(sb, &primary, "{.spec.template.spec.containers[0].image}").await,
        "ghcr.io/stefanprodan/podinfo:6.0.1"
    );
    let promoted = eventually(Duration::from_secs(30), "the promotion's notification", || async {
        receiver.calls_to("/default").into_iter().find(|c| c.body["title"] == "podinfo.test promoted")
    })
    .await;
    assert_eq!(promoted.body["fields"]["Cluster"], "prod-eu-1", "{}", promoted.raw);
    let config_maps = get(sb, &["configmaps"], "{.items[*].metadata.name}").await;
    assert!(!config_maps.contains("podinfo-config-primary"), "still no copy after the promotion: {config_maps}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cross_namespace_refs_refuses_a_template_and_a_provider_of_another_namespace() {
    let manifest = format!(
        r#"{}
---
apiVersion: v1
kind: Namespace
metadata: {{name: istio-system}}
---
apiVersion: fledge.dev/v1beta1
kind: MetricTemplate
metadata: {{name: latency, namespace: istio-system}}
spec:
  provider: {{type: prometheus, address: "http://prometheus.istio-system:9090"}}
  query: 'histogram_quantile(0.99, sum(rate(x{{ns="{{{{ namespace }}}}"}}[{{{{ interval }}}}])) by (le))'
---
apiVersion: fledge.dev/v1beta1
kind: AlertProvider
metadata: {{name: on-call, namespace: istio-system}}
spec: {{type: generic, address: "http://127.0.0.1:9/alerts"}}
---
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {{name: podinfo, namespace: test}}
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  service: {{port: 9898}}
  analysis:
    interval: 2s
    stepWeight: 10
    metrics:
    - {{name: latency, thresholdRange: {{max: 500}}, templateRef: {{name: latency, namespace: istio-system}}}}
    alerts:
    - {{name: on-call, providerRef: {{name: on-call, namespace: istio-system}}}}
"#,
        common::podinfo(1)
    );
    let sb = common::sandbox().await;
    common::install_crds(&sb).await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(&manifest)).await;
    let log = sb.kubeconfig().with_file_name("fledge.log");
    let flags = ["--leader-election=false", "--no-cross-namespace-refs"];
    let _controller = fledge_e2e::controller::ControllerProcess::start(sb.kubeconfig(), &log, &flags).await.unwrap();

    let template = "spec.analysis.metrics[0].templateRef.namespace: cross-namespace references are disabled \
                    (--no-cross-namespace-refs); \"istio-system\" is not the Canary's namespace \"test\"";
    let provider = "spec.analysis.alerts[0].providerRef.namespace: cross-namespace references are disabled \
                    (--no-cross-namespace-refs); \"istio-system\" is not the Canary's namespace \"test\"";
    let condition = r#"{.status.conditions[?(@.type=="SpecValid")]}"#;
    let said = eventually(Duration::from_secs(30), "the SpecValid condition", || async {
        let text = get(&sb, &["canary", "podinfo"], condition).await;
        let condition: serde_json::Value = serde_json::from_str(&text).ok()?;
        (condition["status"] == "False").then_some(condition)
    })
    .await;
    assert_eq!(said["reason"], "InvalidSpec");
    assert_eq!(said["message"], format!("{template}; {provider}"));
    let events = common::events(&sb).await;
    assert!(events.contains("InvalidSpec") && events.contains(template) && events.contains(provider), "{events}");
    // Refused means nothing is built for it.
    let deployments = get(&sb, &["deployments"], "{.items[*].metadata.name}").await;
    assert!(!deployments.contains("podinfo-primary"), "{deployments}");
}
