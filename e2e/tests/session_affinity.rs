//! Session affinity end to end: a browser (a load stream that keeps its cookies) that landed
//! on the canary keeps landing there for the rest of the rollout, while other users are split
//! by weight; once the run ends its cookie is expired.

mod common;

use common::{release, started};

use common::{client, podinfo, wait_for};
use fledge_crds::canary::Phase;
use fledge_crds::istio::VirtualService;
use fledge_sandbox_cluster::Sandbox;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;

const MANIFEST: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: users, namespace: test}
spec:
  replicas: 1
  selector: {matchLabels: {app: users}}
  template:
    metadata:
      labels: {app: users}
      annotations:
        sandbox.fledge.dev/load: |
          http://podinfo.test:9898/ rps=50 path=/public
          http://podinfo.test:9898/ rps=20 path=/sticky jar
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
    interval: 3s
    threshold: 2
    maxWeight: 50
    stepWeight: 10
    sessionAffinity: {cookieName: flagger-cookie, maxAge: 3600, path: /}
"#;

/// When each `/sticky` request the pods labelled `app` served started, in order.
async fn sticky_starts(sb: &Sandbox, app: &str) -> Vec<Timestamp> {
    let entries = common::proxy_log(sb, app, None).await;
    let sticky = entries.iter().filter(|e| e["path"] == "/sticky");
    let mut starts: Vec<Timestamp> = sticky.filter_map(|e| e["start_time"].as_str()?.parse().ok()).collect();
    starts.sort();
    starts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_that_landed_on_the_canary_stays_there_for_the_whole_rollout() {
    let run = started(&format!("{}---{MANIFEST}", podinfo(2)), &[]).await;
    let (sb, canaries) = (&run.sandbox, &run.canaries);
    let kube = client(sb).await;

    release(sb, "6.0.1").await;
    let running = wait_for(canaries, "the last weight", |s| s.canary_weight == Some(50)).await;
    let cookie = running.session_affinity_cookie.clone().expect("a cookie for the run");
    assert!(cookie.starts_with("flagger-cookie="), "{cookie}");

    // Read before the promotion replaces the primary's pods (and their logs).
    let on_canary = sticky_starts(sb, "podinfo").await;
    let on_primary = sticky_starts(sb, "podinfo-primary").await;
    let first = *on_canary.first().expect("the browser reached the canary during the rollout");
    // Requests already under way when the cookie came back may still go by weight.
    let settled = first + SignedDuration::from_secs(1);
    let strays: Vec<_> = on_primary.iter().filter(|t| **t > settled).collect();
    assert!(strays.is_empty(), "after landing on the canary at {first}, on the primary at {strays:?}");
    assert!(on_canary.len() > 40, "it kept coming to the canary: {} requests", on_canary.len());

    let done = wait_for(canaries, "phase Succeeded", |s| matches!(s.phase, Phase::Succeeded | Phase::Failed)).await;
    assert_eq!(done.phase, Phase::Succeeded, "{done:?}");
    assert_eq!(done.session_affinity_cookie, None);
    assert_eq!(done.previous_session_affinity_cookie.as_deref(), Some(cookie.as_str()));
    let vs = Api::<VirtualService>::namespaced(kube, "test").get("podinfo").await.unwrap();
    let expire = serde_json::to_value(&vs.spec.http[0]).unwrap();
    let set_cookie = expire["route"][0]["headers"]["response"]["add"]["Set-Cookie"].as_str().unwrap_or_default();
    assert_eq!(set_cookie, format!("{cookie}; Max-Age=-1; Path=/"), "the run's cookie is expired: {expire}");
}
