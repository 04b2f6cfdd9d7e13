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
        crds.lines().collect::<Vec<_>>(),
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
