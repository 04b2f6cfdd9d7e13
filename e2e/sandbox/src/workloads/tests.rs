use super::*;

fn deployment(replicas: i64, image: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": "test", "uid": "d-1", "generation": 1,
                     "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": 60,
            "selector": {"matchLabels": {"app": "podinfo"}},
            "template": {
                "metadata": {"labels": {"app": "podinfo"}, "annotations": annotations},
                "spec": {"containers": [{"name": "podinfod", "image": image}]},
            },
        },
    })
}

/// Applies actions as the API server would, with creation times at `now`.
fn apply(actions: Vec<Action>, deployment: &mut Value, pods: &mut Vec<Value>, now: SystemTime) {
    for action in actions {
        match action {
            Action::CreatePod(mut pod) => {
                pod["metadata"]["creationTimestamp"] = json!(rfc3339(now));
                pod["metadata"]["uid"] = json!(format!("p{}", pods.len() + 10));
                pods.push(pod);
            }
            Action::DeletePod { name, .. } => pods.retain(|p| p["metadata"]["name"] != name),
            Action::SetPodStatus { name, status, .. } => {
                if let Some(p) = pods.iter_mut().find(|p| p["metadata"]["name"] == name) {
                    p["status"] = status;
                }
            }
            Action::SetDeploymentStatus { status, .. } => deployment["status"] = status,
        }
    }
}

fn run(deployment: &mut Value, pods: &mut Vec<Value>, from: SystemTime, seconds: u64) -> SystemTime {
    let mut now = from;
    for _ in 0..seconds * 4 {
        let actions =
            reconcile(std::slice::from_ref(deployment), pods, now, Settings { ready_delay: Duration::from_secs(1) });
        apply(actions, deployment, pods, now);
        now += Duration::from_millis(250);
    }
    now
}

fn start() -> SystemTime {
    time_of("2026-01-01T00:00:00Z").unwrap()
}

#[test]
fn pods_are_named_labelled_and_become_ready() {
    let mut d = deployment(2, "podinfo:6.0.0", json!({}));
    let mut pods = Vec::new();
    let actions = reconcile(std::slice::from_ref(&d), &pods, start(), Settings::default());
    apply(actions, &mut d, &mut pods, start());
    assert_eq!(pods.len(), 2);
    let hash = template_hash(&d["spec"]["template"]);
    for pod in &pods {
        let name = pod["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with(&format!("podinfo-{hash}-")), "{name}");
        assert_eq!(name.len(), "podinfo-".len() + 10 + 1 + 5);
        assert_eq!(pod["metadata"]["labels"]["pod-template-hash"], json!(hash));
        assert_eq!(pod["metadata"]["labels"]["app"], "podinfo");
        let containers: Vec<&str> =
            pod["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(containers, ["podinfod", SIDECAR]);
    }
    assert_ne!(pods[0]["metadata"]["name"], pods[1]["metadata"]["name"]);
    run(&mut d, &mut pods, start(), 2);
    assert!(pods.iter().all(is_ready));
    assert_eq!(d["status"]["readyReplicas"], 2);
    assert_eq!(d["status"]["updatedReplicas"], 2);
    assert_eq!(d["status"]["observedGeneration"], 1);
    assert_eq!(d["status"]["conditions"][0]["type"], "Available");
    assert_eq!(d["status"]["conditions"][0]["status"], "True");
    assert_eq!(d["status"]["conditions"][1]["reason"], "NewReplicaSetAvailable");
}

#[test]
fn a_new_template_replaces_pods_once_the_new_ones_are_ready() {
    let mut d = deployment(2, "podinfo:6.0.0", json!({}));
    let mut pods = Vec::new();
    let now = run(&mut d, &mut pods, start(), 2);
    let old_hash = template_hash(&d["spec"]["template"]);
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("podinfo:6.0.1");
    d["metadata"]["generation"] = json!(2);
    let new_hash = template_hash(&d["spec"]["template"]);
    let actions = reconcile(std::slice::from_ref(&d), &pods, now, Settings { ready_delay: Duration::from_secs(1) });
    apply(actions, &mut d, &mut pods, now);
    // New pods exist, old ones still serve until the new ones are ready.
    assert_eq!(pods.iter().filter(|p| p["metadata"]["labels"]["pod-template-hash"] == old_hash).count(), 2);
    assert_eq!(pods.iter().filter(|p| p["metadata"]["labels"]["pod-template-hash"] == new_hash).count(), 2);
    run(&mut d, &mut pods, now, 2);
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| p["metadata"]["labels"]["pod-template-hash"] == new_hash && is_ready(p)));
    assert_eq!(d["status"]["observedGeneration"], 2);
}

#[test]
fn an_unready_version_keeps_the_old_pods_and_misses_its_deadline() {
    let mut d = deployment(1, "podinfo:6.0.0", json!({}));
    let mut pods = Vec::new();
    let now = run(&mut d, &mut pods, start(), 2);
    d["spec"]["template"]["metadata"]["annotations"] = json!({ANNOTATION_READY: "false"});
    let now = run(&mut d, &mut pods, now, 30);
    assert_eq!(pods.len(), 2, "the old pod stays while the new one is not ready");
    assert_eq!(pods.iter().filter(|p| is_ready(p)).count(), 1);
    assert_eq!(d["status"]["conditions"][1]["reason"], "ReplicaSetUpdated");
    run(&mut d, &mut pods, now, 35);
    assert_eq!(d["status"]["conditions"][1]["status"], "False");
    assert_eq!(d["status"]["conditions"][1]["reason"], "ProgressDeadlineExceeded");
}

#[test]
fn scaling_to_zero_removes_every_pod() {
    let mut d = deployment(3, "podinfo:6.0.0", json!({}));
    let mut pods = Vec::new();
    let now = run(&mut d, &mut pods, start(), 2);
    assert_eq!(pods.len(), 3);
    d["spec"]["replicas"] = json!(0);
    run(&mut d, &mut pods, now, 1);
    assert!(pods.is_empty());
    assert!(d["status"].get("replicas").is_none());
    assert!(d["status"].get("readyReplicas").is_none());
}

#[test]
fn a_pod_can_opt_out_of_the_sidecar() {
    let d = deployment(1, "podinfo:6.0.0", json!({ANNOTATION_INJECT: "false"}));
    let actions = reconcile(std::slice::from_ref(&d), &[], start(), Settings::default());
    let Some(Action::CreatePod(pod)) = actions.first() else { panic!("{actions:?}") };
    assert_eq!(pod["spec"]["containers"].as_array().unwrap().len(), 1);
}

#[test]
fn a_deployment_can_break_its_new_pods_only() {
    let mut d = deployment(1, "app:1", json!({}));
    let mut pods = Vec::new();
    let now = run(&mut d, &mut pods, start(), 3);
    assert!(pods.iter().all(is_ready));
    d["metadata"]["annotations"] = json!({ANNOTATION_NEW_PODS_READY: "false"});
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("app:2");
    d["metadata"]["generation"] = json!(2);
    run(&mut d, &mut pods, now, 5);
    assert_eq!(pods.len(), 2, "the new pod never gets ready, so the old one stays");
    assert_eq!(pods.iter().filter(|p| is_ready(p)).count(), 1);
}
