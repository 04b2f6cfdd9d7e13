//! The built-in tables against kubectl's columns and the server's cells.

use super::*;

const NOW: i64 = 1_704_067_200 + 3600;
const CREATED: &str = "2024-01-01T00:00:00Z";

fn cells(kind: &str, object: Value) -> Value {
    builtin_table(kind, &[object], NOW, IncludeObject::Metadata)["rows"][0]["cells"].clone()
}

fn headers(kind: &str) -> Vec<String> {
    builtin_table(kind, &[], NOW, IncludeObject::Metadata)["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{}{}", c["name"].as_str().unwrap(), if c["priority"] == 1 { "*" } else { "" }))
        .collect()
}

#[test]
fn column_sets_match_kubectl() {
    assert_eq!(
        headers("Pod"),
        ["Name", "Ready", "Status", "Restarts", "Age", "IP*", "Node*", "Nominated Node*", "Readiness Gates*"]
    );
    assert_eq!(
        headers("Deployment"),
        ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers*", "Images*", "Selector*"]
    );
    assert_eq!(headers("Service"), ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector*"]);
    assert_eq!(headers("ConfigMap"), ["Name", "Data", "Age"]);
    assert_eq!(headers("Secret"), ["Name", "Type", "Data", "Age"]);
    assert_eq!(headers("Namespace"), ["Name", "Status", "Age"]);
    assert_eq!(
        headers("HorizontalPodAutoscaler"),
        ["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"]
    );
    assert_eq!(
        headers("Event"),
        ["Last Seen", "Type", "Reason", "Object", "Subobject*", "Source*", "Message", "First Seen*", "Count*", "Name*"]
    );
    assert_eq!(headers("Lease"), ["Name", "Holder", "Age"]);
    assert_eq!(headers("Gateway"), ["Name", "Age"]);
}

fn pod(status: Value) -> Value {
    json!({
        "metadata": {"name": "podinfo-1", "creationTimestamp": CREATED},
        "spec": {"containers": [{"name": "app"}, {"name": "istio-proxy"}], "nodeName": "node-1"},
        "status": status
    })
}

#[test]
fn pod_status_is_derived_like_the_server() {
    let running = json!({"phase": "Running", "podIP": "10.0.0.5", "conditions": [{"type": "Ready", "status": "True"}],
    "containerStatuses": [
        {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}},
        {"name": "istio-proxy", "ready": true, "restartCount": 0, "state": {"running": {}}}
    ]});
    assert_eq!(
        cells("Pod", pod(running)),
        json!(["podinfo-1", "2/2", "Running", "0", "60m", "10.0.0.5", "node-1", "<none>", "<none>"])
    );
    let crashing = json!({"phase": "Running", "containerStatuses": [
        {"name": "app", "ready": false, "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-01T00:55:00Z"}}},
        {"name": "istio-proxy", "ready": true, "restartCount": 0, "state": {"running": {}}}
    ]});
    assert_eq!(
        cells("Pod", pod(crashing)).as_array().unwrap()[1..4],
        [json!("1/2"), json!("CrashLoopBackOff"), json!("4 (5m ago)")]
    );
    let mut init =
        pod(json!({"phase": "Pending", "initContainerStatuses": [{"name": "init", "state": {"running": {}}}]}));
    init["spec"]["initContainers"] = json!([{"name": "init"}]);
    assert_eq!(cells("Pod", init)[2], json!("Init:0/1"));
    let mut deleting = pod(json!({"phase": "Running"}));
    deleting["metadata"]["deletionTimestamp"] = json!(CREATED);
    assert_eq!(cells("Pod", deleting)[2], json!("Terminating"));
    let done = builtin_table("Pod", &[pod(json!({"phase": "Succeeded"}))], NOW, IncludeObject::Metadata);
    assert_eq!(done["rows"][0]["conditions"][0]["reason"], "Succeeded");
}

#[test]
fn workload_and_network_rows() {
    let deployment = json!({
        "metadata": {"name": "podinfo", "creationTimestamp": CREATED},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "podinfo"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]},
            "template": {"spec": {"containers": [{"name": "podinfod", "image": "podinfo:6.0.0"}, {"name": "side", "image": "s:1"}]}}},
        "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}
    });
    assert_eq!(
        cells("Deployment", deployment),
        json!(["podinfo", "1/2", 2, 1, "60m", "podinfod,side", "podinfo:6.0.0,s:1", "app=podinfo,tier in (api,web)"])
    );
    let service = json!({
        "metadata": {"name": "podinfo", "creationTimestamp": CREATED},
        "spec": {"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "ports": [{"port": 9898, "protocol": "TCP"}, {"port": 80, "nodePort": 30080}],
            "selector": {"app": "podinfo"}}
    });
    assert_eq!(
        cells("Service", service),
        json!(["podinfo", "ClusterIP", "10.96.0.10", "<none>", "9898/TCP,80:30080/TCP", "60m", "app=podinfo"])
    );
    let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIPs": ["10.0.0.1"]}});
    assert_eq!(
        cells("Service", lb).as_array().unwrap()[3..6],
        [json!("<pending>"), json!("<none>"), json!("<unknown>")]
    );
}

#[test]
fn config_and_cluster_rows() {
    let cm = json!({"metadata": {"name": "c", "creationTimestamp": CREATED}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    assert_eq!(cells("ConfigMap", cm), json!(["c", 3, "60m"]));
    let secret =
        json!({"metadata": {"name": "s", "creationTimestamp": CREATED}, "type": "Opaque", "data": {"address": "aA=="}});
    assert_eq!(cells("Secret", secret), json!(["s", "Opaque", 1, "60m"]));
    let ns = json!({"metadata": {"name": "test", "creationTimestamp": CREATED}, "status": {"phase": "Active"}});
    assert_eq!(cells("Namespace", ns), json!(["test", "Active", "60m"]));
    let lease =
        json!({"metadata": {"name": "fledge", "creationTimestamp": CREATED}, "spec": {"holderIdentity": "fledge-0"}});
    assert_eq!(cells("Lease", lease), json!(["fledge", "fledge-0", "60m"]));
    assert_eq!(cells("Gateway", json!({"metadata": {"name": "g"}})), json!(["g", "<unknown>"]));
}

#[test]
fn autoscaler_targets() {
    let hpa = json!({
        "metadata": {"name": "podinfo", "creationTimestamp": CREATED},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "podinfo"}, "minReplicas": 2, "maxReplicas": 4,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 99}}}]},
        "status": {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}]}
    });
    assert_eq!(
        cells("HorizontalPodAutoscaler", hpa),
        json!(["podinfo", "Deployment/podinfo", "cpu: 12%/99%", "2", 4, 2, "60m"])
    );
    let v1 = json!({"metadata": {"name": "x"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}});
    assert_eq!(
        cells("HorizontalPodAutoscaler", v1).as_array().unwrap()[2..4],
        [json!("cpu: <unknown>/50%"), json!("1")]
    );
}

#[test]
fn event_rows() {
    let event = json!({
        "metadata": {"name": "podinfo.17a", "creationTimestamp": CREATED},
        "involvedObject": {"kind": "Canary", "name": "podinfo", "fieldPath": ""},
        "reason": "Synced", "message": " Advance podinfo canary weight 10 \n", "type": "Normal",
        "source": {"component": "fledge"}, "count": 3,
        "firstTimestamp": "2024-01-01T00:10:00Z", "lastTimestamp": "2024-01-01T00:58:00Z"
    });
    assert_eq!(
        cells("Event", event),
        json!([
            "2m",
            "Normal",
            "Synced",
            "canary/podinfo",
            "",
            "fledge",
            "Advance podinfo canary weight 10",
            "50m",
            3,
            "podinfo.17a"
        ])
    );
}
