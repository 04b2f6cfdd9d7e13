//! Deployments and ReplicaSets: replica counts, containers, images and selectors.

use super::*;

/// The columns of `printDeployment`.
pub(super) fn deployment_columns() -> Vec<Col> {
    vec![
        name_col(),
        ("Ready", "string", 0, "Number of the pod with ready state"),
        (
            "Up-to-date",
            "string",
            0,
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
        ),
        (
            "Available",
            "string",
            0,
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
        ),
        age_col(),
        ("Containers", "string", 1, CONTAINERS_DESCRIPTION),
        ("Images", "string", 1, IMAGES_DESCRIPTION),
        (
            "Selector",
            "string",
            1,
            "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
        ),
    ]
}

/// Spec replicas, 1 when unset as the server's defaulting would have stored it.
fn replicas(o: &Value) -> i64 {
    o.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
}

/// `printDeployment`: the cells of one Deployment.
pub(super) fn deployment_row(d: &Value, now: i64) -> (Vec<Value>, Vec<Value>) {
    let (names, images) = containers(d.pointer("/spec/template/spec"));
    let cells = vec![
        json!(table::name_of(d)),
        json!(format!("{}/{}", int(d, "/status/readyReplicas"), replicas(d))),
        json!(int(d, "/status/updatedReplicas")),
        json!(int(d, "/status/availableReplicas")),
        age(d, now),
        json!(names),
        json!(images),
        json!(format_selector(d.pointer("/spec/selector"))),
    ];
    (cells, Vec::new())
}

/// The columns of `printReplicaSet`.
pub(super) fn replica_set_columns() -> Vec<Col> {
    vec![
        name_col(),
        (
            "Desired",
            "integer",
            0,
            "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller",
        ),
        (
            "Current",
            "integer",
            0,
            "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller",
        ),
        ("Ready", "integer", 0, "The number of ready replicas for this replica set."),
        age_col(),
        ("Containers", "string", 1, CONTAINERS_DESCRIPTION),
        ("Images", "string", 1, IMAGES_DESCRIPTION),
        (
            "Selector",
            "string",
            1,
            "Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys and values that must match in order to be controlled by this replica set. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
        ),
    ]
}

/// `printReplicaSet`: the cells of one ReplicaSet.
pub(super) fn replica_set_row(r: &Value, now: i64) -> (Vec<Value>, Vec<Value>) {
    let (names, images) = containers(r.pointer("/spec/template/spec"));
    let cells = vec![
        json!(table::name_of(r)),
        json!(replicas(r)),
        json!(int(r, "/status/replicas")),
        json!(int(r, "/status/readyReplicas")),
        age(r, now),
        json!(names),
        json!(images),
        json!(format_selector(r.pointer("/spec/selector"))),
    ];
    (cells, Vec::new())
}
