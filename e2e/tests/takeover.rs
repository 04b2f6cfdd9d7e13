//! A VirtualService that existed before the Canary: Fledge takes it over without losing the
//! fields it does not manage, puts its weights back when someone moves them mid-rollout (with
//! an event), and with `revertOnDeletion` restores the original when the Canary is deleted.

mod common;

use common::{release, started};

use common::{client, events, eventually, kubectl_ok, podinfo, wait_for};
use fledge_crds::istio::VirtualService;
use kube::Api;
use serde_json::{Value, json};
use std::time::Duration;

/// The VirtualService a team wrote by hand before adopting Fledge.
const THEIRS: &str = r#"
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: podinfo
  namespace: test
  labels: {team: web}
  annotations: {note: hand-written}
spec:
  hosts: [podinfo]
  exportTo: ["."]
  http:
  - timeout: 7s
    route:
    - destination: {host: podinfo}
"#;

const CANARY: &str = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 30
  revertOnDeletion: true
  service: {port: 9898}
  analysis: {interval: 2s, threshold: 2, maxWeight: 50, stepWeight: 10}
"#;

async fn live(api: &Api<VirtualService>) -> Value {
    serde_json::to_value(api.get("podinfo").await.unwrap()).unwrap()
}

fn weights(vs: &Value) -> (Value, Value) {
    let route = &vs["spec"]["http"][0]["route"];
    (route[0]["weight"].clone(), route[1]["weight"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_virtual_service_is_taken_over_kept_in_line_and_restored() {
    // The team's VirtualService first, then the Canary.
    let run = started(&format!("{}---{THEIRS}---{CANARY}", podinfo(1)), &[]).await;
    let (sb, canaries) = (&run.sandbox, &run.canaries);
    let routes: Api<VirtualService> = Api::namespaced(client(sb).await, "test");

    // Taken over: Fledge's routes, the user's other fields kept, the original remembered.
    let vs = live(&routes).await;
    assert_eq!(vs["spec"]["http"][0]["route"][0]["destination"]["host"], "podinfo-primary", "{vs}");
    assert_eq!(vs["spec"]["exportTo"], json!(["."]), "a field Fledge does not manage stays: {vs}");
    assert_eq!(vs["metadata"]["ownerReferences"][0]["name"], "podinfo");
    let original: Value = serde_json::from_str(vs["metadata"]["annotations"]["fledge.dev/original"].as_str().unwrap())
        .expect("the original, as JSON");
    assert_eq!(original["spec"]["http"][0]["timeout"], "7s");
    assert!(events(sb).await.contains("existed before the Canary: taken over"));

    // Weights moved by hand mid-rollout are put back at once, and said.
    release(sb, "6.0.1").await;
    wait_for(canaries, "weight 10", |s| s.canary_weight == Some(10)).await;
    let by_hand = r#"[{"op": "replace", "path": "/spec/http/0/route/0/weight", "value": 50},
                      {"op": "replace", "path": "/spec/http/0/route/1/weight", "value": 50}]"#;
    kubectl_ok(sb, &["-n", "test", "patch", "virtualservice", "podinfo", "--type", "json", "-p", by_hand], None).await;
    eventually(Duration::from_secs(4), "the weights put back within an interval", || async {
        let status = canaries.get("podinfo").await.ok()?.status?;
        let weight = status.canary_weight?;
        (weights(&live(&routes).await) == (json!(100 - weight), json!(weight))).then_some(())
    })
    .await;
    let said = events(sb).await;
    assert!(said.contains("was changed by someone else to primary 50%, canary 50%; put back"), "{said}");

    // Deleted with revertOnDeletion: the VirtualService is the team's again, as it was.
    kubectl_ok(sb, &["-n", "test", "delete", "canary", "podinfo", "--wait=false"], None).await;
    eventually(Duration::from_secs(60), "the Canary gone", || async {
        canaries.get_opt("podinfo").await.ok()?.is_none().then_some(())
    })
    .await;
    let vs = live(&routes).await;
    assert_eq!(vs["spec"]["http"], json!([{"timeout": "7s", "route": [{"destination": {"host": "podinfo"}}]}]));
    assert_eq!(vs["spec"]["exportTo"], json!(["."]));
    assert_eq!(vs["metadata"]["labels"], json!({"team": "web"}));
    assert_eq!(vs["metadata"]["annotations"]["note"], "hand-written");
    assert_eq!(vs["metadata"]["annotations"].get("fledge.dev/original"), None, "{vs}");
    assert_eq!(vs["metadata"].get("ownerReferences"), None, "it outlives the Canary: {vs}");
}
