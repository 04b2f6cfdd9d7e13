//! The real kubectl against the sandbox: what a user types gets what a cluster would answer.

mod common;

use common::{install_crds, kubectl, kubectl_ok, root, sandbox};
use serde_json::Value;
use std::time::Duration;

const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: test\n";

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_and_every_example_apply_server_side() {
    let sb = sandbox().await;
    install_crds(&sb).await;
    let crds = kubectl_ok(&sb, &["get", "crd", "-o", "name"], None).await;
    assert_eq!(
        crds.lines().filter(|l| l.ends_with(".fledge.dev")).collect::<Vec<_>>(),
        [
            "customresourcedefinition.apiextensions.k8s.io/alertproviders.fledge.dev",
            "customresourcedefinition.apiextensions.k8s.io/canaries.fledge.dev",
            "customresourcedefinition.apiextensions.k8s.io/metrictemplates.fledge.dev",
        ]
    );
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    let mut examples: Vec<_> = std::fs::read_dir(root().join("examples")).unwrap().map(|e| e.unwrap().path()).collect();
    examples.sort();
    for example in &examples {
        let out = kubectl_ok(&sb, &["apply", "--server-side", "-f", example.to_str().unwrap()], None).await;
        assert!(out.contains("serverside-applied"), "{}: {out}", example.display());
    }
    // The short name and the category work as in a cluster.
    let names = kubectl_ok(&sb, &["get", "cn", "-n", "test", "-o", "name"], None).await;
    assert!(names.lines().any(|l| l == "canary.fledge.dev/podinfo"), "{names}");
    let fledge = kubectl_ok(&sb, &["get", "fledge", "-n", "test", "-o", "name"], None).await;
    assert!(
        fledge.contains("metrictemplate.fledge.dev/latency") && fledge.contains("alertprovider.fledge.dev/on-call"),
        "{fledge}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_annotate_patch_status_and_delete_behave_as_in_a_cluster() {
    let sb = sandbox().await;
    install_crds(&sb).await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    let example = root().join("examples/podinfo-canary.yaml");
    kubectl_ok(&sb, &["apply", "--server-side", "-f", example.to_str().unwrap()], None).await;

    let canary = json(&kubectl_ok(&sb, &["get", "canary", "podinfo", "-n", "test", "-o", "json"], None).await);
    assert_eq!(canary["apiVersion"], "fledge.dev/v1beta1");
    assert_eq!(canary["kind"], "Canary");
    assert_eq!(canary["metadata"]["generation"], 1);
    assert_eq!(canary["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert!(canary["metadata"]["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(canary["spec"]["analysis"]["stepWeight"], 10);
    let rv1: u64 = canary["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();

    // Annotations are metadata: no new generation.
    kubectl_ok(&sb, &["annotate", "canary", "podinfo", "-n", "test", "fledge.dev/promote=true"], None).await;
    let annotated = json(&kubectl_ok(&sb, &["get", "canary", "podinfo", "-n", "test", "-o", "json"], None).await);
    assert_eq!(annotated["metadata"]["annotations"]["fledge.dev/promote"], "true");
    assert_eq!(annotated["metadata"]["generation"], 1);
    let rv2: u64 = annotated["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    assert!(rv2 > rv1);

    // A merge patch of the spec bumps the generation.
    kubectl_ok(
        &sb,
        &[
            "patch",
            "canary",
            "podinfo",
            "-n",
            "test",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"analysis":{"stepWeight":20}}}"#,
        ],
        None,
    )
    .await;
    let patched = json(&kubectl_ok(&sb, &["get", "canary", "podinfo", "-n", "test", "-o", "json"], None).await);
    assert_eq!(patched["spec"]["analysis"]["stepWeight"], 20);
    assert_eq!(patched["metadata"]["generation"], 2);

    // A JSON patch.
    kubectl_ok(
        &sb,
        &[
            "patch",
            "canary",
            "podinfo",
            "-n",
            "test",
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/spec/analysis/maxWeight","value":40}]"#,
        ],
        None,
    )
    .await;
    let jsonpath =
        kubectl_ok(&sb, &["get", "canary", "podinfo", "-n", "test", "-o", "jsonpath={.spec.analysis.maxWeight}"], None)
            .await;
    assert_eq!(jsonpath, "40");
    let failed_test = kubectl(
        &sb,
        &[
            "patch",
            "canary",
            "podinfo",
            "-n",
            "test",
            "--type",
            "json",
            "-p",
            r#"[{"op":"test","path":"/spec/analysis/maxWeight","value":99}]"#,
        ],
        None,
    )
    .await;
    assert!(!failed_test.ok, "a failed JSON patch test must fail the patch");

    // Status goes through the status subresource only, and does not bump the generation.
    kubectl_ok(
        &sb,
        &[
            "patch",
            "canary",
            "podinfo",
            "-n",
            "test",
            "--subresource=status",
            "--type",
            "merge",
            "-p",
            r#"{"status":{"phase":"Progressing","canaryWeight":10}}"#,
        ],
        None,
    )
    .await;
    kubectl_ok(
        &sb,
        &["patch", "canary", "podinfo", "-n", "test", "--type", "merge", "-p", r#"{"status":{"phase":"Failed"}}"#],
        None,
    )
    .await;
    let with_status = json(&kubectl_ok(&sb, &["get", "canary", "podinfo", "-n", "test", "-o", "json"], None).await);
    assert_eq!(with_status["status"]["phase"], "Progressing", "the main resource must not write status");
    assert_eq!(with_status["status"]["canaryWeight"], 10);
    assert_eq!(with_status["metadata"]["generation"], 3);

    // Custom resources allow no unconditional update: a replace without resourceVersion fails.
    let mut stale = with_status.clone();
    stale["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    // (kubectl replace fills in the version itself; --raw sends the body as it is.)
    let out = kubectl(
        &sb,
        &["replace", "--raw", "/apis/fledge.dev/v1beta1/namespaces/test/canaries/podinfo", "-f", "-"],
        Some(&stale.to_string()),
    )
    .await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"),
        "{}",
        out.stderr
    );

    // Delete, then NotFound in the words of a real server.
    let deleted = kubectl_ok(&sb, &["delete", "canary", "podinfo", "-n", "test"], None).await;
    assert_eq!(deleted.trim(), "canary.fledge.dev \"podinfo\" deleted");
    let missing = kubectl(&sb, &["get", "canary", "podinfo", "-n", "test"], None).await;
    assert!(!missing.ok);
    assert_eq!(missing.stderr.trim(), "Error from server (NotFound): canaries.fledge.dev \"podinfo\" not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_streams_changes() {
    let sb = sandbox().await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    let mut watch = tokio::process::Command::new("kubectl")
        .args([
            "get",
            "configmaps",
            "-n",
            "test",
            "-w",
            "-o",
            "custom-columns=NAME:.metadata.name,V:.data.v",
            "--no-headers",
        ])
        .env("KUBECONFIG", sb.kubeconfig())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    for v in ["1", "2"] {
        let cm = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: watched\n  namespace: test\ndata:\n  v: \"{v}\"\n"
        );
        kubectl_ok(&sb, &["apply", "-f", "-"], Some(&cm)).await;
    }
    kubectl_ok(&sb, &["delete", "configmap", "watched", "-n", "test"], None).await;
    let stdout = watch.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("a watch line")
            .unwrap()
            .unwrap();
        seen.push(line.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    assert_eq!(seen, ["watched 1", "watched 2", "watched 2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_get_ready_pods_and_scale() {
    let sb = sandbox().await;
    install_crds(&sb).await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    let example = root().join("examples/podinfo-canary.yaml");
    kubectl_ok(&sb, &["apply", "-f", example.to_str().unwrap()], None).await;
    kubectl_ok(&sb, &["rollout", "status", "deployment/podinfo", "-n", "test", "--timeout=20s"], None).await;
    kubectl_ok(&sb, &["scale", "deployment/podinfo", "-n", "test", "--replicas=3"], None).await;
    kubectl_ok(
        &sb,
        &["wait", "deployment/podinfo", "-n", "test", "--for=jsonpath={.status.readyReplicas}=3", "--timeout=20s"],
        None,
    )
    .await;
    let pods = kubectl_ok(&sb, &["get", "pods", "-n", "test", "-l", "app=podinfo", "-o", "name"], None).await;
    assert_eq!(pods.lines().count(), 3, "{pods}");
    let template_hash = kubectl_ok(
        &sb,
        &["get", "pods", "-n", "test", "-o", "jsonpath={.items[0].metadata.labels.pod-template-hash}"],
        None,
    )
    .await;
    assert!(pods.lines().all(|p| p.starts_with(&format!("pod/podinfo-{template_hash}-"))), "{pods}");
    kubectl_ok(&sb, &["scale", "deployment/podinfo", "-n", "test", "--replicas=0"], None).await;
    kubectl_ok(&sb, &["wait", "pods", "-n", "test", "-l", "app=podinfo", "--for=delete", "--timeout=20s"], None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_refuses_bad_canaries_with_the_servers_words() {
    let sb = sandbox().await;
    install_crds(&sb).await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    let canary = |analysis: &str| {
        format!(
            "apiVersion: fledge.dev/v1beta1\nkind: Canary\nmetadata: {{name: podinfo, namespace: test}}\nspec:\n  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}\n  service: {{port: 9898}}\n  analysis: {analysis}\n"
        )
    };
    let out = kubectl(&sb, &["apply", "-f", "-"], Some(&canary("{interval: 1m, stepWeight: 150}"))).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains(
            "The Canary \"podinfo\" is invalid: spec.analysis.stepWeight: Invalid value: 150: spec.analysis.stepWeight in body should be less than or equal to 100"
        ),
        "{}",
        out.stderr
    );
    // A CEL rule of the CRD.
    let out = kubectl(&sb, &["apply", "-f", "-"], Some(&canary("{interval: 1m, maxWeight: 50}"))).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("set stepWeight, stepWeights (weighted canary) or iterations (A/B testing, blue/green)"),
        "{}",
        out.stderr
    );
    // kubectl asks for strict field validation: an unknown field is refused and named.
    let out = kubectl(&sb, &["apply", "-f", "-"], Some(&canary("{interval: 1m, stepWeight: 10, stepweight: 5}"))).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("unknown field \"spec.analysis.stepweight\""), "{}", out.stderr);
    // The same with --validate=false is pruned instead.
    kubectl_ok(
        &sb,
        &["apply", "--validate=false", "-f", "-"],
        Some(&canary("{interval: 1m, stepWeight: 10, stepweight: 5}")),
    )
    .await;
    let stored =
        kubectl_ok(&sb, &["get", "canary", "podinfo", "-n", "test", "-o", "jsonpath={.spec.analysis}"], None).await;
    assert_eq!(json(&stored), serde_json::json!({"interval": "1m", "stepWeight": 10}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_prints_the_printer_columns() {
    let sb = sandbox().await;
    install_crds(&sb).await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    kubectl_ok(
        &sb,
        &["apply", "--server-side", "-f", root().join("examples/podinfo-canary.yaml").to_str().unwrap()],
        None,
    )
    .await;
    kubectl_ok(
        &sb,
        &[
            "patch",
            "canary",
            "podinfo",
            "-n",
            "test",
            "--subresource=status",
            "--type",
            "merge",
            "-p",
            r#"{"status":{"phase":"Progressing","canaryWeight":20,"failedChecks":1}}"#,
        ],
        None,
    )
    .await;
    let table = kubectl_ok(&sb, &["get", "canaries", "-n", "test"], None).await;
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["NAME", "STATUS", "WEIGHT", "LASTTRANSITIONTIME"]);
    assert_eq!(rows[1][..3], ["podinfo", "Progressing", "20"]);
    let wide = kubectl_ok(&sb, &["get", "canaries", "-n", "test", "-o", "wide"], None).await;
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "STATUS",
            "WEIGHT",
            "SUSPENDED",
            "FAILEDCHECKS",
            "INTERVAL",
            "MIRROR",
            "STEPWEIGHT",
            "STEPWEIGHTS",
            "MAXWEIGHT",
            "LASTTRANSITIONTIME"
        ]
    );
    // Columns are read by position: an unset value (Suspended) prints as an empty cell.
    let header_line = wide.lines().next().unwrap();
    let row = wide.lines().nth(1).unwrap();
    let cell = |name: &str| {
        let start = header_line.find(name).unwrap();
        row[start..].split_whitespace().next().unwrap_or_default().to_owned()
    };
    assert_eq!(cell("FAILEDCHECKS"), "1");
    assert_eq!(cell("INTERVAL"), "1m");
    assert_eq!(cell("STEPWEIGHT"), "10");
    assert_eq!(cell("MAXWEIGHT"), "50");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_and_set_image_merge_containers_by_name() {
    let sb = sandbox().await;
    install_crds(&sb).await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    let example = root().join("examples/podinfo-canary.yaml");
    kubectl_ok(&sb, &["apply", "-f", example.to_str().unwrap()], None).await;
    kubectl_ok(
        &sb,
        &["set", "image", "deployment/podinfo", "-n", "test", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1"],
        None,
    )
    .await;
    let container = json(
        &kubectl_ok(
            &sb,
            &["get", "deployment", "podinfo", "-n", "test", "-o", "jsonpath={.spec.template.spec.containers[0]}"],
            None,
        )
        .await,
    );
    assert_eq!(container["image"], "ghcr.io/stefanprodan/podinfo:6.0.1");
    assert_eq!(
        container["ports"][0]["containerPort"], 9898,
        "a strategic merge by name keeps the other fields: {container}"
    );
    assert!(container.get("livenessProbe").is_some());
    // Applying the file again is a three-way merge: the image goes back, nothing else moves.
    let out = kubectl_ok(&sb, &["apply", "-f", example.to_str().unwrap()], None).await;
    assert!(out.contains("deployment.apps/podinfo configured"), "{out}");
    assert!(out.contains("canary.fledge.dev/podinfo unchanged"), "{out}");
    let image = kubectl_ok(
        &sb,
        &["get", "deployment", "podinfo", "-n", "test", "-o", "jsonpath={.spec.template.spec.containers[0].image}"],
        None,
    )
    .await;
    assert_eq!(image, "ghcr.io/stefanprodan/podinfo:6.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_tracks_managers_and_reports_conflicts() {
    let sb = sandbox().await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    let cm = |v: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: shared, namespace: test}}\ndata: {{v: \"{v}\"}}\n")
    };
    kubectl_ok(&sb, &["apply", "--server-side", "--field-manager=alice", "-f", "-"], Some(&cm("a"))).await;
    let out = kubectl(&sb, &["apply", "--server-side", "--field-manager=bob", "-f", "-"], Some(&cm("b"))).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("Apply failed with 1 conflict: conflict with \"alice\": .data.v"), "{}", out.stderr);
    kubectl_ok(&sb, &["apply", "--server-side", "--field-manager=bob", "--force-conflicts", "-f", "-"], Some(&cm("b")))
        .await;
    let object = json(
        &kubectl_ok(&sb, &["get", "configmap", "shared", "-n", "test", "-o", "json", "--show-managed-fields"], None)
            .await,
    );
    assert_eq!(object["data"]["v"], "b");
    let owned: std::collections::BTreeMap<&str, &Value> = object["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["manager"].as_str().unwrap(), &m["fieldsV1"]))
        .collect();
    // Bob took .data.v; Alice keeps the .data map she created (`f:data: {}`), as on a cluster.
    assert_eq!(owned["bob"], &serde_json::json!({"f:data": {"f:v": {}}}));
    assert_eq!(owned["alice"], &serde_json::json!({"f:data": {}}));
    // A field the only manager of it stops applying is removed.
    let two =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: test}\ndata: {v: \"b\", w: \"x\"}\n";
    kubectl_ok(&sb, &["apply", "--server-side", "--field-manager=bob", "-f", "-"], Some(two)).await;
    kubectl_ok(&sb, &["apply", "--server-side", "--field-manager=bob", "-f", "-"], Some(&cm("b"))).await;
    let data =
        json(&kubectl_ok(&sb, &["get", "configmap", "shared", "-n", "test", "-o", "jsonpath={.data}"], None).await);
    assert_eq!(data, serde_json::json!({"v": "b"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_services_are_checked_against_istios_own_schema() {
    let sb = sandbox().await;
    let istio = root().parent().unwrap().join("shared/istio/crd-all.gen.yaml");
    kubectl_ok(&sb, &["apply", "--server-side", "--force-conflicts", "-f", istio.to_str().unwrap()], None).await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    let vs = |weight: &str| {
        format!(
            "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {{name: podinfo, namespace: test}}\nspec:\n  hosts: [podinfo]\n  http:\n  - route:\n    - {{destination: {{host: podinfo-primary}}, weight: {weight}}}\n    - {{destination: {{host: podinfo-canary}}, weight: 10}}\n"
        )
    };
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(&vs("90"))).await;
    let out = kubectl(&sb, &["apply", "-f", "-"], Some(&vs("ninety"))).await;
    assert!(!out.ok, "a weight that is no number is refused by Istio's schema");
    assert!(
        out.stderr.contains(r#"spec.http[0].route[0].weight: Invalid value: "string": spec.http[0].route[0].weight in body must be of type integer: "string""#),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_written_through_either_api_show_in_kubectl_get_events() {
    let sb = sandbox().await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    let event = r#"
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: podinfo.1, namespace: test}
eventTime: "2026-11-22T04:00:00.000000Z"
reportingController: fledge.dev/controller
reportingInstance: fledge-0
action: Progressing
reason: Synced
type: Normal
note: Advance podinfo.test canary weight 10
regarding: {apiVersion: fledge.dev/v1beta1, kind: Canary, name: podinfo, namespace: test}
"#;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(event)).await;
    let core = json(&kubectl_ok(&sb, &["get", "events.v1.", "-n", "test", "-o", "json"], None).await);
    let item = &core["items"][0];
    assert_eq!(item["message"], "Advance podinfo.test canary weight 10");
    assert_eq!(item["involvedObject"]["kind"], "Canary");
    assert_eq!(item["reason"], "Synced");
    let listed = kubectl_ok(&sb, &["get", "events", "-n", "test"], None).await;
    assert!(listed.contains("Advance podinfo.test canary weight 10"), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_terminates_it_and_its_content() {
    let sb = sandbox().await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    let held =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: test, finalizers: [fledge.dev/test]}\n";
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(held)).await;
    kubectl_ok(&sb, &["delete", "namespace", "test", "--wait=false"], None).await;
    let phase = kubectl_ok(&sb, &["get", "namespace", "test", "-o", "jsonpath={.status.phase}"], None).await;
    assert_eq!(phase, "Terminating", "a finalizer in it keeps the namespace terminating");
    let late = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late, namespace: test}\n";
    let refused = kubectl(&sb, &["create", "-f", "-"], Some(late)).await;
    assert!(!refused.ok);
    assert!(refused.stderr.contains("because it is being terminated"), "{}", refused.stderr);
    kubectl_ok(
        &sb,
        &["patch", "configmap", "held", "-n", "test", "--type", "merge", "-p", r#"{"metadata":{"finalizers":null}}"#],
        None,
    )
    .await;
    kubectl_ok(&sb, &["wait", "namespace/test", "--for=delete", "--timeout=20s"], None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secrets_string_data_is_stored_encoded_in_data() {
    let sb = sandbox().await;
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(NAMESPACE)).await;
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: test}\n\
                  data: {username: Zmxl}\nstringData: {token: s3cret, username: fledge}\n";
    kubectl_ok(&sb, &["apply", "-f", "-"], Some(secret)).await;
    let stored = json(&kubectl_ok(&sb, &["-n", "test", "get", "secret", "creds", "-o", "json"], None).await);
    assert_eq!(stored["data"], serde_json::json!({"token": "czNjcmV0", "username": "ZmxlZGdl"}), "{stored}");
    assert!(stored.get("stringData").is_none(), "stringData is write-only: {stored}");

    // An update through stringData changes data too.
    let patch = r#"{"stringData":{"token":"rotated"}}"#;
    kubectl_ok(&sb, &["-n", "test", "patch", "secret", "creds", "--type", "merge", "-p", patch], None).await;
    let token = kubectl_ok(&sb, &["-n", "test", "get", "secret", "creds", "-o", "jsonpath={.data.token}"], None).await;
    assert_eq!(token, "cm90YXRlZA==");
}
