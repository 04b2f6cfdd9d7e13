//! Route options end to end: what `spec.service` says appears on the VirtualService, the
//! DestinationRules and the Services the controller writes, as the API server stores them;
//! `appProtocol: tcp` gives a TCP route.

mod common;

use common::{client, install_crds, kubectl_ok, sandbox};
use fledge_crds::canary::{Canary, Phase};
use fledge_crds::istio::{DestinationRule, VirtualService};
use fledge_e2e::controller::ControllerProcess;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use serde_json::{Value, json};

/// Two Deployments: `web` (HTTP, every option) and `db` (TCP).
const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: test}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: test}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: ghcr.io/stefanprodan/podinfo:6.0.0, ports: [{name: http, containerPort: 9898}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: test}
spec:
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:16, ports: [{containerPort: 5432}]}]}
---
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: web, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  service:
    port: 80
    portName: http-web
    targetPort: 9898
    hosts: [web.example.com]
    gateways: [public/gateway, mesh]
    match: [{uri: {prefix: /api}}]
    rewrite: {uri: /v2}
    timeout: 15s
    retries: {attempts: 2, perTryTimeout: 3s, retryOn: "5xx,reset"}
    headers: {request: {set: {x-release: canary-aware}}, response: {remove: [x-powered-by]}}
    corsPolicy: {allowOrigins: [{exact: "https://example.com"}], allowMethods: [GET, POST], maxAge: 1h}
    trafficPolicy: {tls: {mode: ISTIO_MUTUAL}, connectionPool: {http: {http1MaxPendingRequests: 100}}}
    apex: {labels: {tier: edge}, annotations: {owner: web-team}}
    primary: {labels: {track: stable}}
    canary: {labels: {track: canary}, annotations: {note: new}}
  analysis: {interval: 2s, stepWeight: 10}
---
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: db, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: db}
  service: {port: 5432, appProtocol: tcp, match: [{port: 5432, sourceLabels: {app: web}}]}
  analysis: {interval: 2s, stepWeight: 10}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_options_appear_on_the_generated_objects_as_given() {
    let sb = sandbox().await;
    install_crds(&sb).await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(MANIFEST)).await;
    let log = sb.kubeconfig().with_file_name("fledge.log");
    let _controller = ControllerProcess::start(sb.kubeconfig(), &log, &["--leader-election=false"]).await.unwrap();
    let kube = client(&sb).await;
    let canaries: Api<Canary> = Api::namespaced(kube.clone(), "test");
    for name in ["web", "db"] {
        common::eventually(std::time::Duration::from_secs(60), &format!("{name} Initialized"), || async {
            let status = canaries.get(name).await.ok()?.status?;
            (status.phase == Phase::Initialized).then_some(())
        })
        .await;
    }

    let vs: Value =
        serde_json::to_value(Api::<VirtualService>::namespaced(kube.clone(), "test").get("web").await.unwrap())
            .unwrap();
    assert_eq!(vs["metadata"]["labels"], json!({"tier": "edge"}));
    assert_eq!(vs["metadata"]["annotations"]["owner"], "web-team");
    let spec = &vs["spec"];
    assert_eq!(spec["hosts"], json!(["web.example.com", "web"]));
    assert_eq!(spec["gateways"], json!(["public/gateway", "mesh"]));
    let route = &spec["http"][0];
    assert_eq!(route["match"], json!([{"uri": {"prefix": "/api"}}]));
    assert_eq!(route["rewrite"], json!({"uri": "/v2"}));
    assert_eq!(route["timeout"], "15s");
    assert_eq!(route["retries"], json!({"attempts": 2, "perTryTimeout": "3s", "retryOn": "5xx,reset"}));
    assert_eq!(
        route["headers"],
        json!({"request": {"set": {"x-release": "canary-aware"}}, "response": {"remove": ["x-powered-by"]}})
    );
    assert_eq!(
        route["corsPolicy"],
        json!({"allowOrigins": [{"exact": "https://example.com"}], "allowMethods": ["GET", "POST"], "maxAge": "1h"})
    );
    assert_eq!(route["route"][0]["destination"], json!({"host": "web-primary", "port": {"number": 80}}));
    assert_eq!(route["route"][1]["destination"], json!({"host": "web-canary", "port": {"number": 80}}));

    let rules: Api<DestinationRule> = Api::namespaced(kube.clone(), "test");
    for host in ["web-primary", "web-canary"] {
        let rule = serde_json::to_value(rules.get(host).await.unwrap()).unwrap();
        assert_eq!(
            rule["spec"],
            json!({"host": host, "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"},
                   "connectionPool": {"http": {"http1MaxPendingRequests": 100}}}}),
            "{host}"
        );
    }

    let services: Api<Service> = Api::namespaced(kube.clone(), "test");
    for (name, labels, annotation) in [
        ("web", json!({"tier": "edge"}), Some(("owner", "web-team"))),
        ("web-primary", json!({"track": "stable"}), None),
        ("web-canary", json!({"track": "canary"}), Some(("note", "new"))),
    ] {
        let service = serde_json::to_value(services.get(name).await.unwrap()).unwrap();
        for (key, value) in labels.as_object().unwrap() {
            assert_eq!(&service["metadata"]["labels"][key], value, "{name}: {service}");
        }
        if let Some((key, value)) = annotation {
            assert_eq!(service["metadata"]["annotations"][key], value, "{name}");
        }
        let port = &service["spec"]["ports"][0];
        assert_eq!((port["name"].clone(), port["port"].clone()), (json!("http-web"), json!(80)), "{name}");
        assert_eq!(port["targetPort"], 9898, "{name}");
    }

    let db = serde_json::to_value(Api::<VirtualService>::namespaced(kube, "test").get("db").await.unwrap()).unwrap();
    assert_eq!(db["spec"].get("http"), None, "a TCP service gets no HTTP route: {db}");
    let tcp = &db["spec"]["tcp"][0];
    assert_eq!(tcp["match"], json!([{"port": 5432, "sourceLabels": {"app": "web"}}]));
    assert_eq!(
        tcp["route"][0],
        json!({"destination": {"host": "db-primary", "port": {"number": 5432}}, "weight": 100})
    );
    assert_eq!(tcp["route"][1], json!({"destination": {"host": "db-canary", "port": {"number": 5432}}, "weight": 0}));
}
