//! The simulated kube-controller-manager and kubelet: Deployments get Pods, named and labelled
//! as a ReplicaSet would name them, that become Ready after a delay; Deployment status follows
//! as in Kubernetes. Pure: `reconcile` turns what exists and the time into actions.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// A pod template annotation that keeps the pods of a version from ever becoming ready.
pub const ANNOTATION_READY: &str = "sandbox.fledge.dev/ready";
/// A Deployment annotation (not the template's): the pods it creates from now on never become
/// ready, while those it has keep serving. How a test breaks one Deployment of two that share a
/// template, for example a primary after promotion.
pub const ANNOTATION_NEW_PODS_READY: &str = "sandbox.fledge.dev/new-pods-ready";
/// A pod annotation that keeps the simulated Istio sidecar out, as Istio's own does.
pub const ANNOTATION_INJECT: &str = "sidecar.istio.io/inject";
/// The sidecar container every meshed pod gets.
pub const SIDECAR: &str = "istio-proxy";

/// How the simulated cluster behaves.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// How long a new pod takes to become ready.
    pub ready_delay: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self { ready_delay: Duration::from_millis(500) }
    }
}

/// A change the simulator wants made.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Action {
    /// Create this pod.
    CreatePod(Value),
    /// Delete a pod.
    DeletePod { namespace: String, name: String },
    /// Set a pod's status.
    SetPodStatus { namespace: String, name: String, status: Value },
    /// Set a Deployment's status.
    SetDeploymentStatus { namespace: String, name: String, status: Value },
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

use fledge_apiserver::time::{parse as time_of, rfc3339};

/// The `pod-template-hash` of a template: stable, ten characters of the safe alphabet.
pub(crate) fn template_hash(template: &Value) -> String {
    // FNV-1a over the canonical JSON, as stable as Kubernetes' own hash is for a template.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in template.to_string().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10).map(|i| ALPHABET[((hash >> (i * 6)) % ALPHABET.len() as u64) as usize] as char).collect()
}

fn suffix(seed: &str, n: usize) -> String {
    template_hash(&json!([seed, n]))[..5].to_owned()
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn owned_by(pod: &Value, uid: &str) -> bool {
    pod.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid && r["controller"] == true))
}

/// What the controllers do now.
pub(crate) fn reconcile(deployments: &[Value], pods: &[Value], now: SystemTime, settings: Settings) -> Vec<Action> {
    let mut actions = Vec::new();
    for pod in pods {
        if let Some(status) = kubelet(pod, now, settings) {
            actions.push(Action::SetPodStatus {
                namespace: s(pod, "/metadata/namespace").to_owned(),
                name: s(pod, "/metadata/name").to_owned(),
                status,
            });
        }
    }
    for deployment in deployments {
        if deployment.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        actions.extend(deployment_controller(deployment, pods, now));
    }
    actions
}

/// The kubelet's view of one pod: its status now, if it should change.
fn kubelet(pod: &Value, now: SystemTime, settings: Settings) -> Option<Value> {
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        return None;
    }
    let created = time_of(s(pod, "/metadata/creationTimestamp")).unwrap_or(now);
    let started = now.duration_since(created).unwrap_or_default() >= settings.ready_delay;
    let never_ready =
        pod.pointer(&format!("/metadata/annotations/{}", ANNOTATION_READY.replace('/', "~1"))) == Some(&json!("false"));
    let ready = started && !never_ready;
    let phase = if started { "Running" } else { "Pending" };
    let current = pod.get("status").cloned().unwrap_or(Value::Null);
    if s(&current, "/phase") == phase && is_ready(pod) == ready && current.get("podIP").is_some() {
        return None;
    }
    let start = rfc3339(created);
    let transition = rfc3339(now);
    let truth = |b: bool| if b { "True" } else { "False" };
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let state = if started {
                json!({"running": {"startedAt": start}})
            } else {
                json!({"waiting": {"reason": "ContainerCreating"}})
            };
            json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": ready, "started": started,
                   "restartCount": 0, "state": state})
        })
        .collect();
    let uid = s(pod, "/metadata/uid");
    let octet = |i: usize| uid.as_bytes().get(i).copied().unwrap_or(1);
    let ip = format!("10.244.{}.{}", octet(0), octet(1));
    Some(json!({
        "phase": phase,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": start},
            {"type": "Initialized", "status": "True", "lastTransitionTime": start},
            {"type": "ContainersReady", "status": truth(ready), "lastTransitionTime": transition},
            {"type": "Ready", "status": truth(ready), "lastTransitionTime": transition},
        ],
        "hostIP": "10.0.0.1",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": start,
        "qosClass": "BestEffort",
        "containerStatuses": containers,
    }))
}

/// A new pod of `deployment` with template `hash`.
fn new_pod(deployment: &Value, hash: &str, index: usize) -> Value {
    let name = s(deployment, "/metadata/name");
    let namespace = s(deployment, "/metadata/namespace");
    let template = &deployment["spec"]["template"];
    let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or(json!({}));
    labels["pod-template-hash"] = json!(hash);
    let mut annotations = template.pointer("/metadata/annotations").cloned().unwrap_or(json!({}));
    let broken = format!("/metadata/annotations/{}", ANNOTATION_NEW_PODS_READY.replace('/', "~1"));
    if deployment.pointer(&broken) == Some(&json!("false")) {
        annotations[ANNOTATION_READY] = json!("false");
    }
    let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
    let injected = annotations.get(ANNOTATION_INJECT) != Some(&json!("false"));
    if injected && let Some(containers) = spec.get_mut("containers").and_then(Value::as_array_mut) {
        containers
            .push(json!({"name": SIDECAR, "image": "docker.io/istio/proxyv2:1.27.0", "args": ["proxy", "sidecar"]}));
    }
    spec["nodeName"] = json!("sandbox-node");
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{name}-{hash}-{}", suffix(&format!("{namespace}/{name}/{hash}"), index)),
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                "uid": deployment["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    })
}

fn deployment_controller(deployment: &Value, pods: &[Value], now: SystemTime) -> Vec<Action> {
    let mut actions = Vec::new();
    let name = s(deployment, "/metadata/name").to_owned();
    let namespace = s(deployment, "/metadata/namespace").to_owned();
    let uid = s(deployment, "/metadata/uid");
    let desired = deployment.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1).max(0) as usize;
    let hash = template_hash(&deployment["spec"]["template"]);
    let mine: Vec<&Value> = pods
        .iter()
        .filter(|p| {
            s(p, "/metadata/namespace") == namespace
                && owned_by(p, uid)
                && p.pointer("/metadata/deletionTimestamp").is_none()
        })
        .collect();
    let (current, old): (Vec<&Value>, Vec<&Value>) =
        mine.iter().partition(|p| s(p, "/metadata/labels/pod-template-hash") == hash);
    let delete =
        |p: &Value| Action::DeletePod { namespace: namespace.clone(), name: s(p, "/metadata/name").to_owned() };
    let recreate = s(deployment, "/spec/strategy/type") == "Recreate";
    if !recreate || old.is_empty() {
        // Scale the current version to the desired count (a rolling update keeps old pods
        // until new ones are ready; see below).
        let names: std::collections::HashSet<&str> = current.iter().map(|p| s(p, "/metadata/name")).collect();
        let mut index = 0;
        for _ in current.len()..desired {
            let mut pod = new_pod(deployment, &hash, index);
            while names.contains(s(&pod, "/metadata/name")) {
                index += 1;
                pod = new_pod(deployment, &hash, index);
            }
            index += 1;
            actions.push(Action::CreatePod(pod));
        }
    }
    if current.len() > desired {
        // Not-ready pods go first, then the newest, as the ReplicaSet controller prefers.
        let mut extra = current.clone();
        extra.sort_by_key(|p| (is_ready(p), std::cmp::Reverse(s(p, "/metadata/creationTimestamp").to_owned())));
        actions.extend(extra.iter().take(current.len() - desired).map(|p| delete(p)));
    }
    let ready_current = current.iter().filter(|p| is_ready(p)).count().min(desired);
    if recreate {
        actions.extend(old.iter().map(|p| delete(p)));
    } else {
        // Old pods go as new ones become ready (maxUnavailable 0 in effect), and all at once
        // when the new version is complete or the Deployment is scaled to zero.
        let keep = desired.saturating_sub(ready_current);
        let mut old_sorted = old.clone();
        old_sorted.sort_by_key(|p| is_ready(p));
        actions.extend(old_sorted.iter().take(old.len().saturating_sub(keep)).map(|p| delete(p)));
    }
    let status = deployment_status(deployment, &mine, &current, desired, now);
    if deployment.get("status") != Some(&status) {
        actions.push(Action::SetDeploymentStatus { namespace, name, status });
    }
    actions
}

fn deployment_status(
    deployment: &Value,
    mine: &[&Value],
    current: &[&Value],
    desired: usize,
    now: SystemTime,
) -> Value {
    let ready = mine.iter().filter(|p| is_ready(p)).count();
    let updated = current.len();
    let available = ready;
    let complete =
        updated == desired && mine.len() == desired && current.iter().filter(|p| is_ready(p)).count() == desired;
    let previous: BTreeMap<String, Value> = deployment
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["type"].as_str().map(|t| (t.to_owned(), c.clone())))
        .collect();
    let now_text = rfc3339(now);
    let condition = |kind: &str, status: &str, reason: &str, message: String| {
        let same = previous.get(kind).is_some_and(|c| c["status"] == status && c["reason"] == reason);
        let transition = previous
            .get(kind)
            .filter(|c| c["status"] == status)
            .map(|c| c["lastTransitionTime"].clone())
            .unwrap_or(json!(now_text));
        let update = if same { previous[kind]["lastUpdateTime"].clone() } else { json!(now_text) };
        json!({"type": kind, "status": status, "reason": reason, "message": message,
               "lastUpdateTime": update, "lastTransitionTime": transition})
    };
    let name = s(deployment, "/metadata/name");
    let available_condition = if available >= desired {
        condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.".into())
    } else {
        condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
        )
    };
    let deadline = deployment.pointer("/spec/progressDeadlineSeconds").and_then(Value::as_u64).unwrap_or(600);
    let progressing = if complete {
        condition(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            format!(
                "ReplicaSet \"{name}-{}\" has successfully progressed.",
                template_hash(&deployment["spec"]["template"])
            ),
        )
    } else {
        let last_progress = previous
            .get("Progressing")
            .filter(|c| c["reason"] == "ReplicaSetUpdated" || c["reason"] == "ProgressDeadlineExceeded")
            .and_then(|c| time_of(c["lastUpdateTime"].as_str().unwrap_or_default()))
            .unwrap_or(now);
        let stalled = previous.get("Progressing").is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded")
            || now.duration_since(last_progress).unwrap_or_default() > Duration::from_secs(deadline);
        if stalled {
            condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                format!(
                    "ReplicaSet \"{name}-{}\" has timed out progressing.",
                    template_hash(&deployment["spec"]["template"])
                ),
            )
        } else {
            let mut c = condition(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{name}-{}\" is progressing.", template_hash(&deployment["spec"]["template"])),
            );
            // Progress is dated by the last change of the pods, not by every pass.
            if let Some(prev) = previous.get("Progressing").filter(|p| p["reason"] == "ReplicaSetUpdated") {
                c["lastUpdateTime"] = prev["lastUpdateTime"].clone();
            }
            c
        }
    };
    let mut status = json!({
        "observedGeneration": deployment.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
        "replicas": mine.len(),
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "conditions": [available_condition, progressing],
    });
    if mine.len() > available {
        status["unavailableReplicas"] = json!(mine.len() - available);
    }
    for zero in ["readyReplicas", "availableReplicas", "updatedReplicas", "replicas"] {
        if status[zero] == json!(0) {
            status.as_object_mut().map(|o| o.remove(zero));
        }
    }
    status
}

#[cfg(test)]
mod tests;
