//! A/B testing end to end: during the iterations every request that carries the header or the
//! cookie of `analysis.match` reaches the canary and no other request does (the Envoy access
//! logs of both versions say so), and the release is promoted after the last iteration.

mod common;

use common::{release, started};

use common::{client, podinfo, wait_for};
use fledge_crds::canary::Phase;
use fledge_crds::istio::VirtualService;
use kube::Api;
use std::collections::BTreeMap;
use std::time::Duration;

/// Users of three kinds, all through the apex Service: most send plain requests to `/public`,
/// insiders send the header to `/insider`, and some carry the canary cookie to `/cookie`.
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
          http://podinfo.test:9898/ rps=60 path=/public
          http://podinfo.test:9898/ rps=20 path=/insider header=x-canary:insider
          http://podinfo.test:9898/ rps=20 path=/cookie cookie=theme=dark cookie=canary=always
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
    interval: 2s
    threshold: 2
    iterations: 8
    match:
    - headers: {x-canary: {exact: insider}}
    # Browsers separate cookies with "; ": Flagger's documented "^(.*?;)?(canary=always)(;.*)?$"
    # matches the cookie only when it comes first.
    - headers: {cookie: {regex: "^(.*?; ?)?(canary=always)(;.*)?$"}}
"#;

/// The paths of the inbound requests the pods labelled `app` logged since `since`, counted.
async fn served(sb: &fledge_sandbox_cluster::Sandbox, app: &str, since: &str) -> BTreeMap<String, usize> {
    let mut paths = BTreeMap::new();
    for entry in common::proxy_log(sb, app, Some(since)).await {
        if let Some(path) = entry["path"].as_str() {
            *paths.entry(path.to_owned()).or_default() += 1;
        }
    }
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_an_ab_test_exactly_the_matching_requests_reach_the_canary() {
    let run = started(&format!("{}---{}", podinfo(2), MANIFEST), &[]).await;
    let (sb, canaries) = (&run.sandbox, &run.canaries);
    let kube = client(sb).await;

    release(sb, "6.0.1").await;
    wait_for(canaries, "the A/B route on", |s| s.canary_weight == Some(100)).await;
    // From a second after the route moved (the sandbox's proxies take it at once).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let since = k8s_openapi::jiff::Timestamp::now().to_string();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let running = canaries.get("podinfo").await.unwrap().status.unwrap();
    assert_eq!(running.phase, Phase::Progressing, "still in its iterations: {running:?}");

    let canary = served(sb, "podinfo", &since).await;
    let primary = served(sb, "podinfo-primary", &since).await;
    assert!(canary.get("/insider").is_some_and(|n| *n >= 40), "the header's requests: {canary:?}");
    assert!(canary.get("/cookie").is_some_and(|n| *n >= 40), "the cookie's requests: {canary:?}");
    assert_eq!(canary.get("/public"), None, "no other request reaches the canary: {canary:?}");
    assert!(primary.get("/public").is_some_and(|n| *n >= 120), "{primary:?}");
    assert_eq!(primary.get("/insider"), None, "{primary:?}");
    assert_eq!(primary.get("/cookie"), None, "{primary:?}");

    let vs = Api::<VirtualService>::namespaced(kube, "test").get("podinfo").await.unwrap();
    let http = serde_json::to_value(&vs.spec.http).unwrap();
    assert_eq!(http[0]["match"][0]["headers"]["x-canary"]["exact"], "insider");
    assert_eq!(http[0]["route"][1]["weight"], 100);
    assert_eq!(http[1]["route"][0]["destination"]["host"], "podinfo-primary");

    let done = wait_for(canaries, "phase Succeeded", |s| matches!(s.phase, Phase::Succeeded | Phase::Failed)).await;
    assert_eq!(done.phase, Phase::Succeeded, "{done:?}");
    assert_eq!(done.canary_weight, Some(0), "every request on the promoted primary again");
}
