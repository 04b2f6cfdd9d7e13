//! The rollout lifecycle end to end: the real `fledge controller` binary against the sandbox,
//! with Istio's own CRDs installed, and the real kubectl for what a user types.

mod common;

use common::{client, eventually, install_crds, kubectl, kubectl_ok, root, sandbox};
use fledge_crds::canary::{Canary, Phase};
use fledge_crds::istio::VirtualService;
use fledge_e2e::controller::ControllerProcess;
use fledge_sandbox_cluster::Sandbox;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: test
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo-config
  namespace: test
data:
  message: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: test
  labels: {app: podinfo}
spec:
  replicas: 2
  selector:
    matchLabels: {app: podinfo}
  template:
    metadata:
      labels: {app: podinfo}
    spec:
      containers:
        - name: podinfod
          image: ghcr.io/stefanprodan/podinfo:6.0.0
          ports: [{name: http, containerPort: 9898}]
          envFrom: [{configMapRef: {name: podinfo-config}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: podinfo
  namespace: test
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  minReplicas: 2
  maxReplicas: 4
---
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  autoscalerRef: {apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, name: podinfo}
  progressDeadlineSeconds: 8
  service:
    port: 9898
    gateways: [mesh, public-gateway]
    hosts: [podinfo.example.com]
    timeout: 5s
    retries: {attempts: 3, perTryTimeout: 1s}
  analysis: {interval: 1s, threshold: 2, maxWeight: 50, stepWeight: 10}
"#;

/// A sandbox with Istio's CRDs and Fledge's, the podinfo manifest applied, and a controller.
struct World {
    sandbox: Sandbox,
    client: kube::Client,
    controller: ControllerProcess,
    log: std::path::PathBuf,
}

async fn world(manifest: &str) -> World {
    let sandbox = sandbox().await;
    let istio = root().join("../shared/istio/crd-all.gen.yaml");
    let istio = istio.to_str().unwrap();
    kubectl_ok(&sandbox, &["apply", "--server-side", "--force-conflicts", "-f", istio], None).await;
    install_crds(&sandbox).await;
    kubectl_ok(&sandbox, &["apply", "-f", "-"], Some(manifest)).await;
    let log = sandbox.kubeconfig().with_file_name("fledge.log");
    let controller =
        ControllerProcess::start(sandbox.kubeconfig(), &log, &["--leader-election-lease-seconds", "3"]).await.unwrap();
    let client = client(&sandbox).await;
    let world = World { sandbox, client, controller, log };
    world.phase_is(Phase::Initialized, 30).await;
    world
}

impl World {
    fn canaries(&self) -> Api<Canary> {
        Api::namespaced(self.client.clone(), "test")
    }

    async fn canary(&self) -> Canary {
        self.canaries().get("podinfo").await.unwrap()
    }

    async fn phase_is(&self, phase: Phase, seconds: u64) {
        let what = format!("phase {phase}");
        let log = self.log.clone();
        eventually(Duration::from_secs(seconds), &what, || async {
            let c = self.canaries().get_opt("podinfo").await.ok().flatten()?;
            let now = c.status.as_ref().map(|s| s.phase).unwrap_or_default();
            (now == phase).then_some(())
        })
        .await;
        let _ = log;
    }

    async fn weights(&self) -> Option<(i64, i64)> {
        let vs = Api::<VirtualService>::namespaced(self.client.clone(), "test").get_opt("podinfo").await.ok()??;
        let route = &vs.spec.http.first()?.route;
        Some((route.first()?.weight? as i64, route.get(1)?.weight? as i64))
    }

    async fn deployment(&self, name: &str) -> Deployment {
        Api::<Deployment>::namespaced(self.client.clone(), "test").get(name).await.unwrap()
    }

    async fn image(&self, name: &str) -> String {
        let d = self.deployment(name).await;
        d.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap()
    }

    async fn replicas(&self, name: &str) -> i32 {
        self.deployment(name).await.spec.unwrap().replicas.unwrap_or(1)
    }

    /// Waits for a Deployment to have `want` replicas (the target goes to zero once traffic
    /// has drained from it, an interval after the routes moved).
    async fn replicas_become(&self, name: &str, want: i32) {
        let what = format!("{name} at {want} replicas");
        eventually(Duration::from_secs(10), &what, || async { (self.replicas(name).await == want).then_some(()) })
            .await;
    }

    async fn set_image(&self, image: &str) {
        let image = format!("podinfod={image}");
        kubectl_ok(&self.sandbox, &["-n", "test", "set", "image", "deployment/podinfo", &image], None).await;
    }

    /// Records every distinct canary weight the VirtualService shows, in order.
    fn record_weights(&self) -> Recorder {
        let seen = Arc::new(Mutex::new(Vec::<i64>::new()));
        let client = self.client.clone();
        let out = seen.clone();
        let task = tokio::spawn(async move {
            let api = Api::<VirtualService>::namespaced(client, "test");
            loop {
                if let Ok(Some(vs)) = api.get_opt("podinfo").await
                    && let Some(w) = vs.spec.http.first().and_then(|h| h.route.get(1)).and_then(|r| r.weight)
                {
                    let mut seen = out.lock().unwrap();
                    if seen.last() != Some(&i64::from(w)) {
                        seen.push(i64::from(w));
                    }
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        });
        Recorder { seen, task }
    }

    async fn events(&self) -> String {
        kubectl_ok(&self.sandbox, &["-n", "test", "get", "events", "-o", "custom-columns=R:.reason,M:.message"], None)
            .await
    }

    fn log_text(&self) -> String {
        self.controller.log_text()
    }
}

struct Recorder {
    seen: Arc<Mutex<Vec<i64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    fn seen(&self) -> Vec<i64> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialization_creates_every_object() {
    let w = world(MANIFEST).await;
    // The target is scaled to zero; the primary runs its template under -primary labels.
    w.replicas_become("podinfo", 0).await;
    let primary = w.deployment("podinfo-primary").await;
    let spec = primary.spec.clone().unwrap();
    assert_eq!(spec.replicas, Some(2));
    assert_eq!(spec.selector.match_labels.unwrap()["app"], "podinfo-primary");
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.containers[0].image.as_deref(), Some("ghcr.io/stefanprodan/podinfo:6.0.0"));
    let env_from = pod.containers[0].env_from.clone().unwrap();
    assert_eq!(env_from[0].config_map_ref.as_ref().unwrap().name, "podinfo-config-primary");
    let owner = &primary.metadata.owner_references.unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Canary", "podinfo"));
    // The tracked config is copied.
    let cm = kubectl_ok(
        &w.sandbox,
        &["-n", "test", "get", "cm", "podinfo-config-primary", "-o", "jsonpath={.data.message}"],
        None,
    )
    .await;
    assert_eq!(cm, "hello");

    // The primary gets a copy of the target's autoscaler.
    let hpa = kubectl_ok(
        &w.sandbox,
        &[
            "-n",
            "test",
            "get",
            "hpa",
            "podinfo-primary",
            "-o",
            "jsonpath={.spec.scaleTargetRef.name} {.spec.minReplicas}",
        ],
        None,
    )
    .await;
    assert_eq!(hpa, "podinfo-primary 2");

    // Services: the apex and -primary select the primary pods, -canary the target's.
    let services = Api::<Service>::namespaced(w.client.clone(), "test");
    for (name, selects) in
        [("podinfo", "podinfo-primary"), ("podinfo-primary", "podinfo-primary"), ("podinfo-canary", "podinfo")]
    {
        let svc = services.get(name).await.unwrap().spec.unwrap();
        assert_eq!(svc.selector.unwrap()["app"], selects, "{name}");
        assert_eq!(svc.ports.unwrap()[0].port, 9898);
    }
    // DestinationRules, and the VirtualService with the spec's route options at 100/0.
    for name in ["podinfo-primary", "podinfo-canary"] {
        let host =
            kubectl_ok(&w.sandbox, &["-n", "test", "get", "dr", name, "-o", "jsonpath={.spec.host}"], None).await;
        assert_eq!(host, name);
    }
    let vs = Api::<VirtualService>::namespaced(w.client.clone(), "test").get("podinfo").await.unwrap();
    assert_eq!(vs.spec.hosts, vec!["podinfo.example.com", "podinfo"]);
    assert_eq!(vs.spec.gateways, vec!["mesh", "public-gateway"]);
    let http = &vs.spec.http[0];
    assert_eq!(http.extra["timeout"], "5s");
    assert_eq!(http.extra["retries"]["attempts"], 3);
    assert_eq!(w.weights().await, Some((100, 0)));
    assert_eq!(http.route[0].destination.host, "podinfo-primary");
    assert_eq!(http.route[1].destination.host, "podinfo-canary");

    // kubectl shows it.
    let table = kubectl_ok(&w.sandbox, &["-n", "test", "get", "canaries"], None).await;
    assert!(table.contains("Initialized"), "{table}");
    assert!(w.events().await.contains("Initialization done! podinfo.test"));

    // Nothing to do writes nothing: the Canary and the VirtualService keep their versions.
    let rv = w.canary().await.metadata.resource_version;
    let vs_rv = vs.metadata.resource_version.clone();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(w.canary().await.metadata.resource_version, rv, "an idle canary's status is not rewritten");
    let vs_after = Api::<VirtualService>::namespaced(w.client.clone(), "test").get("podinfo").await.unwrap();
    assert_eq!(vs_after.metadata.resource_version, vs_rv, "an unchanged VirtualService is not rewritten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_release_walks_the_weights_and_is_promoted() {
    let w = world(MANIFEST).await;
    let weights = w.record_weights();
    w.set_image("ghcr.io/stefanprodan/podinfo:6.0.1").await;
    w.phase_is(Phase::Progressing, 10).await;
    w.phase_is(Phase::Succeeded, 60).await;
    assert_eq!(weights.seen(), vec![0, 10, 20, 30, 40, 50, 0], "{}", w.log_text());
    assert_eq!(w.image("podinfo-primary").await, "ghcr.io/stefanprodan/podinfo:6.0.1");
    assert_eq!(w.replicas("podinfo").await, 0, "the canary is scaled down after promotion");
    let status = w.canary().await.status.unwrap();
    assert_eq!(status.last_applied_spec, status.last_promoted_spec);
    let events = w.events().await;
    for expected in [
        "New revision detected! Scaling up podinfo.test",
        "Advance podinfo.test canary weight 10",
        "Advance podinfo.test canary weight 50",
        "Copying podinfo.test template spec to podinfo-primary.test",
        "Promotion completed! Scaling down podinfo.test",
    ] {
        assert!(events.contains(expected), "missing event {expected:?} in\n{events}");
    }
    // The metrics endpoint reports the outcome.
    let metrics = reqwest::get(format!("http://{}/metrics", w.controller.listen)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"fledge_canary_status{name="podinfo",namespace="test"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"fledge_canary_successes_total{name="podinfo",namespace="test"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"fledge_canary_weight{workload="podinfo-primary",namespace="test"} 100"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unready_release_is_rolled_back() {
    let w = world(MANIFEST).await;
    let patch = r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.fledge.dev/ready":"false"}}}}}"#;
    kubectl_ok(&w.sandbox, &["-n", "test", "patch", "deployment", "podinfo", "--type", "merge", "-p", patch], None)
        .await;
    w.phase_is(Phase::Progressing, 10).await;
    w.phase_is(Phase::Failed, 40).await;
    assert_eq!(w.weights().await, Some((100, 0)));
    w.replicas_become("podinfo", 0).await;
    let condition =
        w.canary().await.status.unwrap().conditions.unwrap().into_iter().find(|c| c.r#type == "Promoted").unwrap();
    assert_eq!(condition.reason, "ProgressDeadlineExceeded");
    // Why, in Kubernetes' terms (which count is short depends on when the deadline struck).
    let message = condition.message.unwrap();
    assert!(message.starts_with("Canary podinfo.test has not made progress for 8s: "), "{message}");
    assert!(message.contains("replicas of podinfo"), "{message}");
    assert!(w.events().await.contains("Canary failed! Scaling down podinfo.test"));
    // The primary never changed.
    assert_eq!(w.image("podinfo-primary").await, "ghcr.io/stefanprodan/podinfo:6.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_revision_mid_analysis_restarts_it() {
    let w = world(MANIFEST).await;
    let weights = w.record_weights();
    w.set_image("ghcr.io/stefanprodan/podinfo:6.0.1").await;
    eventually(Duration::from_secs(30), "weight 30", || async { (w.weights().await?.1 >= 30).then_some(()) }).await;
    w.set_image("ghcr.io/stefanprodan/podinfo:6.0.2").await;
    w.phase_is(Phase::Succeeded, 60).await;
    let seen = weights.seen();
    let restart = seen.iter().skip(1).position(|w| *w == 0).unwrap() + 1;
    assert!(seen[..restart].ends_with(&[30]) || seen[..restart].ends_with(&[40]), "{seen:?}");
    assert_eq!(seen[restart..], [0, 10, 20, 30, 40, 50, 0], "the analysis starts again from 0: {seen:?}");
    assert_eq!(w.image("podinfo-primary").await, "ghcr.io/stefanprodan/podinfo:6.0.2");
    assert!(w.events().await.contains("restarting the analysis"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_promote_and_retry_by_annotation() {
    let slow = MANIFEST.replace("interval: 1s", "interval: 30s");
    let w = world(&slow).await;
    w.set_image("ghcr.io/stefanprodan/podinfo:6.0.1").await;
    w.phase_is(Phase::Progressing, 10).await;
    // Abort: all traffic back to the primary within 2 seconds of the annotation.
    kubectl_ok(&w.sandbox, &["-n", "test", "annotate", "canary", "podinfo", "fledge.dev/abort=true"], None).await;
    let started = std::time::Instant::now();
    w.phase_is(Phase::Failed, 2).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(w.weights().await, Some((100, 0)));
    // The annotation is removed just after the status is written.
    let canary = eventually(Duration::from_secs(5), "the abort annotation removed once acted on", || async {
        let canary = w.canary().await;
        let annotations = canary.metadata.annotations.clone().unwrap_or_default();
        (!annotations.contains_key("fledge.dev/abort")).then_some(canary)
    })
    .await;
    let conditions = canary.status.unwrap().conditions.unwrap();
    let promoted = conditions.iter().find(|c| c.r#type == "Promoted").unwrap();
    assert_eq!(promoted.reason, "Aborted");
    let trace = conditions.iter().find(|c| c.r#type == "ManualAction").unwrap();
    assert_eq!(trace.message.as_deref(), Some("fledge.dev/abort=true acted on in phase Progressing"));
    assert!(w.events().await.contains("aborted by fledge.dev/abort=true"));

    // Abort again when nothing progresses: removed with a Warning that says why.
    kubectl_ok(&w.sandbox, &["-n", "test", "annotate", "canary", "podinfo", "fledge.dev/abort=true"], None).await;
    eventually(Duration::from_secs(2), "the ignored annotation's event", || async {
        w.events()
            .await
            .contains("fledge.dev/abort=true ignored: nothing is progressing for podinfo.test (phase Failed)")
            .then_some(())
    })
    .await;

    // Retry: the same revision is analysed again.
    kubectl_ok(&w.sandbox, &["-n", "test", "annotate", "canary", "podinfo", "fledge.dev/retry=true"], None).await;
    w.phase_is(Phase::Progressing, 2).await;
    assert!(w.events().await.contains("Retrying the analysis of podinfo.test"));

    // Promote: the remaining steps are skipped.
    kubectl_ok(&w.sandbox, &["-n", "test", "annotate", "canary", "podinfo", "fledge.dev/promote=true"], None).await;
    w.phase_is(Phase::Promoting, 2).await;
    w.phase_is(Phase::Succeeded, 30).await;
    assert_eq!(w.image("podinfo-primary").await, "ghcr.io/stefanprodan/podinfo:6.0.1");
    let annotations = w.canary().await.metadata.annotations.unwrap_or_default();
    assert!(annotations.keys().all(|k| !k.starts_with("fledge.dev/")), "{annotations:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_killed_mid_rollout_finishes_it_after_a_restart() {
    let slow = MANIFEST.replace("interval: 1s", "interval: 2s");
    let mut w = world(&slow).await;
    let weights = w.record_weights();
    w.set_image("ghcr.io/stefanprodan/podinfo:6.0.1").await;
    eventually(Duration::from_secs(30), "weight 20", || async { (w.weights().await?.1 >= 20).then_some(()) }).await;
    w.controller.kill().await;
    // Down for longer than an interval: a restarted controller must not make up for it twice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(w.weights().await.map(|w| w.1), weights.seen().last().copied());
    w.controller = ControllerProcess::start(w.sandbox.kubeconfig(), &w.log, &["--leader-election-lease-seconds", "3"])
        .await
        .unwrap();
    w.phase_is(Phase::Succeeded, 60).await;
    assert_eq!(weights.seen(), vec![0, 10, 20, 30, 40, 50, 0], "every weight once, in order");
    let events = w.events().await;
    assert_eq!(events.matches("Promotion completed!").count(), 1, "{events}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_never_both_act() {
    let slow = MANIFEST.replace("interval: 1s", "interval: 2s");
    let mut w = world(&slow).await;
    let second_log = w.log.with_file_name("fledge-2.log");
    let mut second =
        ControllerProcess::start(w.sandbox.kubeconfig(), &second_log, &["--leader-election-lease-seconds", "3"])
            .await
            .unwrap();
    let weights = w.record_weights();
    w.set_image("ghcr.io/stefanprodan/podinfo:6.0.1").await;
    eventually(Duration::from_secs(30), "weight 20", || async { (w.weights().await?.1 >= 20).then_some(()) }).await;
    // The leader dies without giving up the Lease: the other takes over once it expires.
    w.controller.kill().await;
    w.phase_is(Phase::Succeeded, 60).await;
    assert_eq!(weights.seen(), vec![0, 10, 20, 30, 40, 50, 0], "two replicas do not double the pace");
    let second_log = second.log_text();
    assert!(second_log.contains("became leader"), "{second_log}");
    assert!(second.running());
    second.terminate().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revert_on_deletion_gives_the_traffic_back_to_the_target() {
    let manifest =
        MANIFEST.replace("  progressDeadlineSeconds: 8\n", "  progressDeadlineSeconds: 8\n  revertOnDeletion: true\n");
    let w = world(&manifest).await;
    assert!(w.canary().await.metadata.finalizers.unwrap_or_default().contains(&"fledge.dev/revert".to_owned()));
    w.replicas_become("podinfo", 0).await;
    kubectl_ok(&w.sandbox, &["-n", "test", "delete", "canary", "podinfo", "--wait=false"], None).await;
    eventually(Duration::from_secs(30), "the Canary to go", || async {
        w.canaries().get_opt("podinfo").await.ok()?.is_none().then_some(())
    })
    .await;
    assert_eq!(w.replicas("podinfo").await, 2, "the target serves again");
    let apex = Api::<Service>::namespaced(w.client.clone(), "test").get("podinfo").await.unwrap();
    assert_eq!(apex.spec.unwrap().selector.unwrap()["app"], "podinfo", "the apex selects the target");
    assert!(apex.metadata.owner_references.unwrap_or_default().is_empty(), "and outlives the Canary");
    eventually(Duration::from_secs(10), "the primary to be collected", || async {
        let out = kubectl(&w.sandbox, &["-n", "test", "get", "deployment", "podinfo-primary"], None).await;
        (!out.ok).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_whose_target_is_missing_says_so() {
    let w = world(MANIFEST).await;
    let other = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata:
  name: backend
  namespace: test
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: backend}
  service: {port: 8080}
  analysis: {interval: 1s, stepWeight: 10, maxWeight: 50}
"#;
    kubectl_ok(&w.sandbox, &["apply", "-f", "-"], Some(other)).await;
    let message = "spec.targetRef: Deployment test/backend does not exist; create it or fix the name";
    let condition = eventually(Duration::from_secs(10), "the SpecValid condition", || async {
        let c = w.canaries().get("backend").await.ok()?;
        c.status?.conditions?.into_iter().find(|c| c.r#type == "SpecValid")
    })
    .await;
    assert_eq!(condition.status, fledge_crds::canary::ConditionStatus::False);
    assert_eq!(condition.reason, "InvalidSpec");
    assert_eq!(condition.message.as_deref(), Some(message));
    eventually(Duration::from_secs(5), "the InvalidSpec event", || async {
        w.events().await.contains(message).then_some(())
    })
    .await;
    // The other canary is not disturbed.
    assert_eq!(w.canary().await.status.unwrap().phase, Phase::Initialized);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_that_breaks_after_promotion_never_gets_the_traffic() {
    let w = world(MANIFEST).await;
    // From now on the primary's new pods never become ready; its current pods keep serving.
    let broken = "sandbox.fledge.dev/new-pods-ready=false";
    kubectl_ok(&w.sandbox, &["-n", "test", "annotate", "deployment", "podinfo-primary", broken], None).await;
    w.set_image("ghcr.io/stefanprodan/podinfo:6.0.1").await;
    w.phase_is(Phase::Promoting, 30).await;
    // Past the primary's progress deadline (8s): still Promoting, the canary keeps its share.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(w.canary().await.status.unwrap().phase, Phase::Promoting);
    assert_eq!(w.weights().await, Some((50, 50)), "traffic stays where it was");
    assert_eq!(w.replicas("podinfo").await, 2, "the canary is not scaled down");
    let events = w.events().await;
    assert_eq!(events.matches("PrimaryNotReady").count(), 1, "said once:\n{events}");
    assert!(events.contains("Primary podinfo-primary.test is not ready after 8s"), "{events}");
    let ready = kubectl_ok(
        &w.sandbox,
        &["-n", "test", "get", "deployment", "podinfo-primary", "-o", "jsonpath={.status.readyReplicas}"],
        None,
    )
    .await;
    assert_eq!(ready, "2", "the primary's old pods still serve its share");

    // Fixed (the annotation gone, its stuck pods replaced): the promotion finishes.
    kubectl_ok(
        &w.sandbox,
        &["-n", "test", "annotate", "deployment", "podinfo-primary", "sandbox.fledge.dev/new-pods-ready-"],
        None,
    )
    .await;
    kubectl_ok(&w.sandbox, &["-n", "test", "delete", "pods", "-l", "app=podinfo-primary"], None).await;
    w.phase_is(Phase::Succeeded, 30).await;
    assert_eq!(w.weights().await, Some((100, 0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_deleted_mid_rollout_sends_all_traffic_to_the_primary() {
    let slow = MANIFEST.replace("interval: 1s", "interval: 2s");
    let w = world(&slow).await;
    w.set_image("ghcr.io/stefanprodan/podinfo:6.0.1").await;
    eventually(Duration::from_secs(30), "weight 10", || async { (w.weights().await?.1 >= 10).then_some(()) }).await;
    kubectl_ok(&w.sandbox, &["-n", "test", "delete", "deployment", "podinfo"], None).await;
    w.phase_is(Phase::Failed, 5).await;
    assert_eq!(w.weights().await, Some((100, 0)));
    let conditions = w.canary().await.status.unwrap().conditions.unwrap();
    let promoted = conditions.iter().find(|c| c.r#type == "Promoted").unwrap();
    assert_eq!(promoted.reason, "TargetUnavailable");
    let spec = conditions.iter().find(|c| c.r#type == "SpecValid").unwrap();
    assert_eq!(
        spec.message.as_deref(),
        Some("spec.targetRef: Deployment test/podinfo does not exist; create it or fix the name")
    );
}
