//! Server-side apply and the managedFields it records.

use super::super::{ApplyError, BuiltinListKeys, Conflicts, SchemaListKeys, apply, apply_subresource, record_update};
use super::{deployment, entry, managers};
use serde_json::{Value, json};

const T0: &str = "2025-01-01T00:00:00Z";
const T1: &str = "2025-01-01T00:01:00Z";
const T2: &str = "2025-01-01T00:02:00Z";

fn deploy_keys() -> BuiltinListKeys {
    BuiltinListKeys::new("Deployment")
}

fn conflicts(result: Result<Value, ApplyError>) -> Conflicts {
    match result {
        Err(ApplyError::Conflicts(c)) => c,
        other => panic!("expected conflicts, got {other:?}"),
    }
}

fn ok(result: Result<Value, ApplyError>) -> Value {
    match result {
        Ok(v) => v,
        Err(e) => panic!("apply failed: {e}"),
    }
}

/// A Deployment applied with only the given spec fields.
fn partial(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx", "namespace": "default"}, "spec": spec})
}

#[test]
fn creating_by_apply_records_the_documented_field_set() {
    // The ConfigMap example of the Kubernetes server-side apply documentation.
    let applied = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
        "data": {"key": "some value"}
    });
    let created = ok(apply(None, &applied, "kubectl", false, &BuiltinListKeys::new("ConfigMap"), T0));
    assert_eq!(created["data"], json!({"key": "some value"}));
    assert_eq!(
        created["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": T0, "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:test-label": {}}}}
        }])
    );
}

#[test]
fn applied_deployment_owns_keyed_items_with_dots_and_atomic_selector() {
    let mut applied = deployment(3, "nginx:1.14.2");
    super::remove_labels(&mut applied);
    let created = ok(apply(None, &applied, "kubectl", false, &deploy_keys(), T0));
    let fields = &entry(&created, "kubectl", "Apply").expect("entry")["fieldsV1"];
    assert_eq!(
        fields,
        &json!({"f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                    ".": {}, "f:image": {}, "f:name": {},
                    "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                }}}
            }
        }})
    );
}

#[test]
fn two_appliers_owning_different_fields_both_keep_them() {
    let keys = deploy_keys();
    let live = ok(apply(None, &deployment(3, "nginx:1"), "team-a", false, &keys, T0));
    let labels =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx", "labels": {"owner": "b"}}});
    let live = ok(apply(Some(&live), &labels, "team-b", false, &keys, T1));
    assert_eq!(live["metadata"]["labels"], json!({"app": "nginx", "owner": "b"}));
    assert_eq!(managers(&live), ["team-a", "team-b"]);
    // team-a re-applies its configuration: team-b's label stays.
    let live = ok(apply(Some(&live), &deployment(3, "nginx:1"), "team-a", false, &keys, T2));
    assert_eq!(live["metadata"]["labels"], json!({"app": "nginx", "owner": "b"}));
    assert_eq!(
        entry(&live, "team-b", "Apply").expect("team-b")["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:owner": {}}}})
    );
}

#[test]
fn reapplying_without_a_field_removes_it() {
    let keys = deploy_keys();
    let mut first = deployment(3, "nginx:1");
    first["spec"]["template"]["spec"]["containers"] = json!([{"name": "nginx", "image": "nginx:1", "ports": [{"containerPort": 80}]}, {"name": "sidecar", "image": "envoy"}]);
    first["spec"]["minReadySeconds"] = json!(5);
    let live = ok(apply(None, &first, "kubectl", false, &keys, T0));
    let mut second = deployment(3, "nginx:1");
    super::remove_labels(&mut second);
    let live = ok(apply(Some(&live), &second, "kubectl", false, &keys, T1));
    assert!(live["spec"].get("minReadySeconds").is_none(), "{live}");
    assert!(live["metadata"].get("labels").is_none(), "{live}");
    let containers = live["spec"]["template"]["spec"]["containers"].as_array().cloned().unwrap_or_default();
    assert_eq!(containers.len(), 1);
    let fields = entry(&live, "kubectl", "Apply").expect("entry")["fieldsV1"].to_string();
    assert!(!fields.contains("sidecar") && !fields.contains("minReadySeconds"), "{fields}");
}

#[test]
fn a_field_another_manager_also_owns_stays_when_dropped() {
    let keys = deploy_keys();
    let live = ok(apply(None, &partial(json!({"replicas": 3, "minReadySeconds": 5})), "a", false, &keys, T0));
    let live = ok(apply(Some(&live), &partial(json!({"minReadySeconds": 5})), "b", false, &keys, T1));
    // Both own minReadySeconds now; a stops applying it.
    let live = ok(apply(Some(&live), &partial(json!({"replicas": 3})), "a", false, &keys, T2));
    assert_eq!(live["spec"]["minReadySeconds"], 5);
    assert_eq!(entry(&live, "a", "Apply").expect("a")["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    assert_eq!(entry(&live, "b", "Apply").expect("b")["fieldsV1"], json!({"f:spec": {"f:minReadySeconds": {}}}));
}

#[test]
fn a_field_an_updater_owns_stays_when_the_applier_drops_it() {
    let keys = deploy_keys();
    let live = ok(apply(None, &partial(json!({"replicas": 3, "paused": false})), "a", false, &keys, T0));
    let mut edited = live.clone();
    edited["spec"]["paused"] = json!(true);
    let live = record_update(Some(&live), &edited, "kubectl-edit", "Update", None, &keys, T1);
    let live = ok(apply(Some(&live), &partial(json!({"replicas": 3})), "a", false, &keys, T2));
    assert_eq!(live["spec"]["paused"], true);
}

#[test]
fn a_conflicting_apply_fails_unless_forced() {
    let keys = deploy_keys();
    let live = record_update(None, &deployment(1, "nginx:1"), "kubectl-client-side-apply", "Update", None, &keys, T0);
    // The same value is no conflict: both own it.
    let shared = ok(apply(Some(&live), &partial(json!({"replicas": 1})), "kubectl", false, &keys, T1));
    assert_eq!(managers(&shared), ["kubectl", "kubectl-client-side-apply"]);
    let err = conflicts(apply(Some(&live), &partial(json!({"replicas": 3})), "kubectl", false, &keys, T1));
    assert_eq!(
        err.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        err.causes(),
        json!([{"type": "FieldManagerConflict", "message": "conflict with \"kubectl-client-side-apply\" using apps/v1", "field": ".spec.replicas"}])
    );
    let forced = ok(apply(Some(&live), &partial(json!({"replicas": 3})), "kubectl", true, &keys, T1));
    assert_eq!(forced["spec"]["replicas"], 3);
    assert_eq!(entry(&forced, "kubectl", "Apply").expect("applier")["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    let updater = entry(&forced, "kubectl-client-side-apply", "Update").expect("updater").to_string();
    assert!(!updater.contains("f:replicas"), "{updater}");
    assert!(updater.contains("f:image"), "{updater}");
}

#[test]
fn conflicts_with_several_managers_are_listed_by_manager() {
    let keys = deploy_keys();
    let live = ok(apply(None, &deployment(1, "nginx:1"), "a", false, &keys, T0));
    let live = ok(apply(Some(&live), &partial(json!({"minReadySeconds": 1})), "b", false, &keys, T1));
    let mut config = deployment(2, "nginx:2");
    config["spec"]["minReadySeconds"] = json!(9);
    let err = conflicts(apply(Some(&live), &config, "c", false, &keys, T2));
    assert_eq!(
        err.message(),
        "Apply failed with 3 conflicts: conflicts with \"a\":\n\
         - .spec.replicas\n\
         - .spec.template.spec.containers[name=\"nginx\"].image\n\
         conflicts with \"b\":\n\
         - .spec.minReadySeconds"
    );
    assert_eq!(err.0.len(), 3);
}

#[test]
fn keyed_items_of_different_appliers_merge() {
    let keys = deploy_keys();
    let live = ok(apply(None, &deployment(1, "nginx:1"), "a", false, &keys, T0));
    let sidecar = partial(json!({"template": {"spec": {"containers": [{"name": "sidecar", "image": "envoy"}]}}}));
    let live = ok(apply(Some(&live), &sidecar, "mesh", false, &keys, T1));
    let names: Vec<Value> = live["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, [json!("nginx"), json!("sidecar")]);
    // a re-applies with a new image: the sidecar stays, only a's container changes.
    let live = ok(apply(Some(&live), &deployment(1, "nginx:2"), "a", false, &keys, T2));
    let containers = &live["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["image"], "nginx:2");
    assert_eq!(containers[1], json!({"name": "sidecar", "image": "envoy"}));
}

#[test]
fn a_port_without_protocol_matches_the_defaulted_live_port() {
    let keys = deploy_keys();
    let mut live = deployment(1, "nginx:1");
    live["spec"]["template"]["spec"]["containers"][0]["ports"] =
        json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}]);
    let live = record_update(None, &live, "creator", "Update", None, &keys, T0);
    let live = ok(apply(Some(&live), &deployment(1, "nginx:1"), "kubectl", false, &keys, T1));
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}])
    );
}

#[test]
fn status_is_neither_applied_nor_owned_on_the_main_resource() {
    let keys = deploy_keys();
    let mut config = deployment(1, "nginx:1");
    config["status"] = json!({"replicas": 7});
    let mut live = deployment(1, "nginx:1");
    live["status"] = json!({"replicas": 1});
    let live = record_update(None, &live, "creator", "Update", None, &keys, T0);
    let applied = ok(apply(Some(&live), &config, "kubectl", false, &keys, T1));
    assert_eq!(applied["status"], json!({"replicas": 1}));
    assert!(!applied["metadata"]["managedFields"].to_string().contains("f:status"));
    // Through the status subresource, status is what is applied and owned.
    let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"}, "spec": {"replicas": 99}, "status": {"replicas": 7}});
    let updated = ok(apply_subresource(Some(&applied), &status, "controller", Some("status"), false, &keys, T2));
    assert_eq!(updated["status"], json!({"replicas": 7}));
    assert_eq!(updated["spec"]["replicas"], 1);
    let own = entry(&updated, "controller", "Apply").expect("status applier");
    assert_eq!(own["subresource"], "status");
    assert_eq!(own["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
}

#[test]
fn identity_and_server_metadata_are_never_owned() {
    let keys = BuiltinListKeys::new("ConfigMap");
    let applied = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "d", "uid": "u", "resourceVersion": "5", "generation": 3, "creationTimestamp": "x"},
        "data": {"a": "b"}
    });
    let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d", "uid": "real", "resourceVersion": "9"}});
    let live = record_update(None, &live, "creator", "Update", None, &keys, T0);
    let result = ok(apply(Some(&live), &applied, "kubectl", false, &keys, T1));
    assert_eq!(result["metadata"]["uid"], "real");
    assert_eq!(result["metadata"]["resourceVersion"], "9");
    assert_eq!(entry(&result, "kubectl", "Apply").expect("entry")["fieldsV1"], json!({"f:data": {"f:a": {}}}));
}

#[test]
fn invalid_configurations_are_rejected() {
    let keys = deploy_keys();
    let no_name = partial(json!({"template": {"spec": {"containers": [{"image": "x"}]}}}));
    match apply(None, &no_name, "kubectl", false, &keys, T0) {
        Err(ApplyError::Invalid(message)) => {
            assert!(message.contains("omits key field \"name\""), "{message}");
            assert!(message.contains(".spec.template.spec.containers"), "{message}");
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    let duplicate = partial(json!({"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}));
    assert!(
        matches!(apply(None, &duplicate, "kubectl", false, &keys, T0), Err(ApplyError::Invalid(m)) if m.contains("duplicate entries"))
    );
    let mut with_managed = deployment(1, "x");
    with_managed["metadata"]["managedFields"] = json!([]);
    assert!(
        matches!(apply(None, &with_managed, "kubectl", false, &keys, T0), Err(ApplyError::Invalid(m)) if m.contains("managedFields must be nil"))
    );
    assert!(matches!(apply(None, &json!([1]), "kubectl", false, &keys, T0), Err(ApplyError::Invalid(_))));
}

#[test]
fn an_untracked_object_is_first_owned_by_before_first_apply() {
    let keys = deploy_keys();
    let live = deployment(1, "nginx:1");
    let err = conflicts(apply(Some(&live), &partial(json!({"replicas": 2})), "kubectl", false, &keys, T0));
    assert_eq!(
        err.message(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas"
    );
    let same = ok(apply(Some(&live), &partial(json!({"replicas": 1})), "kubectl", false, &keys, T0));
    assert_eq!(managers(&same), ["kubectl", "before-first-apply"]);
}

#[test]
fn kubectl_takes_over_fields_from_its_client_side_apply() {
    // `kubectl apply` then `kubectl apply --server-side` with a changed replica count.
    let keys = deploy_keys();
    let mut config = deployment(1, "nginx:1");
    let last_applied = format!("{config}\n");
    config["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/last-applied-configuration": last_applied});
    let live = record_update(None, &config, "kubectl-client-side-apply", "Update", None, &keys, T0);
    let result = ok(apply(Some(&live), &deployment(4, "nginx:1"), "kubectl", false, &keys, T1));
    assert_eq!(result["spec"]["replicas"], 4);
    let annotation = result["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or_default();
    let rewritten: Value = serde_json::from_str(annotation).unwrap_or_default();
    assert_eq!(rewritten["spec"]["replicas"], 4);
    // Another manager gets no such leeway.
    assert!(matches!(
        apply(Some(&live), &deployment(4, "nginx:1"), "other", false, &keys, T1),
        Err(ApplyError::Conflicts(_))
    ));
}

#[test]
fn a_no_op_apply_keeps_the_time() {
    let keys = deploy_keys();
    let live = ok(apply(None, &deployment(1, "nginx:1"), "kubectl", false, &keys, T0));
    let again = ok(apply(Some(&live), &deployment(1, "nginx:1"), "kubectl", false, &keys, T1));
    assert_eq!(again, live);
    let changed = ok(apply(Some(&live), &deployment(2, "nginx:1"), "kubectl", false, &keys, T2));
    assert_eq!(entry(&changed, "kubectl", "Apply").expect("entry")["time"], T2);
}

#[test]
fn an_updater_that_loses_every_field_is_dropped() {
    let keys = BuiltinListKeys::new("ConfigMap");
    let applied = |a: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": a, "b": "1"}});
    let live = ok(apply(None, &applied("1"), "kubectl", false, &keys, T0));
    let mut edited = live.clone();
    edited["data"]["a"] = json!("2");
    let live = record_update(Some(&live), &edited, "editor", "Update", None, &keys, T1);
    assert_eq!(managers(&live), ["kubectl", "editor"]);
    assert_eq!(entry(&live, "editor", "Update").expect("editor")["fieldsV1"], json!({"f:data": {"f:a": {}}}));
    assert_eq!(entry(&live, "kubectl", "Apply").expect("applier")["fieldsV1"], json!({"f:data": {"f:b": {}}}));
    let result = ok(apply(Some(&live), &applied("3"), "kubectl", true, &keys, T2));
    assert_eq!(managers(&result), ["kubectl"]);
    assert_eq!(result["data"]["a"], "3");
}

#[test]
fn custom_resources_merge_by_their_schema() {
    let schema = json!({"type": "object", "properties": {
        "metadata": {"type": "object"},
        "spec": {"type": "object", "properties": {
            "routes": {
                "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "port"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer", "default": 80}}}
            },
            "hosts": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "args": {"type": "array", "items": {"type": "string"}}
        }}
    }});
    let keys = SchemaListKeys::new(schema);
    let cr = |spec: Value| json!({"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": spec});
    let live = ok(apply(
        None,
        &cr(json!({"routes": [{"name": "a", "weight": 1}], "hosts": ["h1"], "args": ["-x"]})),
        "one",
        false,
        &keys,
        T0,
    ));
    assert_eq!(
        entry(&live, "one", "Apply").expect("one")["fieldsV1"],
        json!({"f:spec": {
            "f:args": {},
            "f:hosts": {"v:\"h1\"": {}},
            "f:routes": {"k:{\"name\":\"a\",\"port\":80}": {".": {}, "f:name": {}, "f:weight": {}}}
        }})
    );
    let live = ok(apply(
        Some(&live),
        &cr(json!({"routes": [{"name": "b", "port": 81}], "hosts": ["h2"], "args": ["-y"]})),
        "two",
        true,
        &keys,
        T1,
    ));
    assert_eq!(live["spec"]["routes"], json!([{"name": "a", "weight": 1}, {"name": "b", "port": 81}]));
    assert_eq!(live["spec"]["hosts"], json!(["h1", "h2"]));
    assert_eq!(live["spec"]["args"], json!(["-y"]));
    // args is atomic: forcing it took it from "one".
    assert!(!entry(&live, "one", "Apply").expect("one")["fieldsV1"].to_string().contains("f:args"));
    // "one" drops its route and host: only its own items go.
    let live = ok(apply(Some(&live), &cr(json!({"args": ["-y"]})), "one", false, &keys, T2));
    assert_eq!(live["spec"]["routes"], json!([{"name": "b", "port": 81}]));
    assert_eq!(live["spec"]["hosts"], json!(["h2"]));
}

#[test]
fn forcing_takes_one_field_of_another_appliers_item() {
    let keys = deploy_keys();
    let live = ok(apply(None, &deployment(1, "nginx:1"), "a", false, &keys, T0));
    let image = partial(json!({"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}}}));
    let err = conflicts(apply(Some(&live), &image, "b", false, &keys, T1));
    assert_eq!(
        err.message(),
        "Apply failed with 1 conflict: conflict with \"a\": .spec.template.spec.containers[name=\"nginx\"].image"
    );
    let live = ok(apply(Some(&live), &image, "b", true, &keys, T1));
    assert_eq!(live["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:2");
    assert_eq!(live["spec"]["template"]["spec"]["containers"][0]["ports"], json!([{"containerPort": 80}]));
    let a = entry(&live, "a", "Apply").expect("a")["fieldsV1"].to_string();
    assert!(!a.contains("f:image") && a.contains("f:ports"), "{a}");
    // a re-applying its old image now conflicts with b.
    assert!(matches!(
        apply(Some(&live), &deployment(1, "nginx:1"), "a", false, &keys, T2),
        Err(ApplyError::Conflicts(_))
    ));
}

#[test]
fn finalizers_are_a_set_owned_per_value() {
    let keys = BuiltinListKeys::new("ConfigMap");
    let cm = |finalizers: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": finalizers}});
    let live = ok(apply(None, &cm(json!(["a.io/x"])), "one", false, &keys, T0));
    let live = ok(apply(Some(&live), &cm(json!(["b.io/y"])), "two", false, &keys, T1));
    assert_eq!(live["metadata"]["finalizers"], json!(["a.io/x", "b.io/y"]));
    assert_eq!(
        entry(&live, "two", "Apply").expect("two")["fieldsV1"],
        json!({"f:metadata": {"f:finalizers": {"v:\"b.io/y\"": {}}}})
    );
    let live = ok(apply(Some(&live), &cm(json!([])), "one", false, &keys, T2));
    assert_eq!(live["metadata"]["finalizers"], json!(["b.io/y"]));
}
