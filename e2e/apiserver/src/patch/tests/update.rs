//! The Update entries of managedFields recorded on create, update and patch.

use super::super::{BuiltinListKeys, SchemaListKeys, record_update};
use super::{deployment, entry, managers};
use serde_json::json;

const T0: &str = "2025-01-01T00:00:00Z";
const T1: &str = "2025-01-01T00:01:00Z";
const T2: &str = "2025-01-01T00:02:00Z";

#[test]
fn a_create_records_what_kubectl_create_shows() {
    let keys = BuiltinListKeys::new("Deployment");
    let created = record_update(None, &deployment(1, "nginx"), "kubectl-create", "Update", None, &keys, T0);
    assert_eq!(
        created["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1", "time": T0, "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                            ".": {}, "f:image": {}, "f:name": {},
                            "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                        }}}
                    }
                }
            }
        }])
    );
}

#[test]
fn a_configmap_create_owns_its_data_map() {
    let keys = BuiltinListKeys::new("ConfigMap");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"}, "data": {"key": "v"}});
    let created = record_update(None, &cm, "kubectl-create", "Update", None, &keys, T0);
    assert_eq!(
        entry(&created, "kubectl-create", "Update").expect("entry")["fieldsV1"],
        json!({"f:data": {".": {}, "f:key": {}}})
    );
}

#[test]
fn a_custom_resource_create_owns_spec_as_a_whole() {
    let keys = SchemaListKeys::new(json!({"type": "object"}));
    let cr = json!({"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": {"size": 1}});
    let created = record_update(None, &cr, "kube-rs", "Update", None, &keys, T0);
    assert_eq!(
        entry(&created, "kube-rs", "Update").expect("entry")["fieldsV1"],
        json!({"f:spec": {".": {}, "f:size": {}}})
    );
}

#[test]
fn an_update_takes_the_changed_fields_from_other_managers() {
    let keys = BuiltinListKeys::new("Deployment");
    let live = record_update(None, &deployment(1, "nginx"), "kubectl-create", "Update", None, &keys, T0);
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    let scaled = record_update(Some(&live), &scaled, "hpa", "Update", None, &keys, T1);
    assert_eq!(entry(&scaled, "hpa", "Update").expect("hpa")["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    assert_eq!(entry(&scaled, "hpa", "Update").expect("hpa")["time"], T1);
    let creator = entry(&scaled, "kubectl-create", "Update").expect("creator");
    assert!(!creator["fieldsV1"].to_string().contains("f:replicas"));
    assert_eq!(creator["time"], T0);
    // Removing a field takes it from whoever owned it.
    let mut unlabelled = scaled.clone();
    super::remove_labels(&mut unlabelled);
    let unlabelled = record_update(Some(&scaled), &unlabelled, "editor", "Update", None, &keys, T2);
    let creator = entry(&unlabelled, "kubectl-create", "Update").expect("creator");
    assert!(creator["fieldsV1"].get("f:metadata").is_none(), "{creator}");
    assert!(entry(&unlabelled, "editor", "Update").is_none(), "removing only is not owning");
}

#[test]
fn a_no_op_update_changes_nothing() {
    let keys = BuiltinListKeys::new("Deployment");
    let live = record_update(None, &deployment(1, "nginx"), "kubectl-create", "Update", None, &keys, T0);
    let mut touched = live.clone();
    touched["metadata"]["resourceVersion"] = json!("42");
    let same = record_update(Some(&live), &touched, "controller", "Update", None, &keys, T1);
    assert_eq!(same["metadata"]["managedFields"], live["metadata"]["managedFields"]);
}

#[test]
fn status_writes_are_recorded_per_subresource() {
    let keys = BuiltinListKeys::new("Deployment");
    let live = record_update(None, &deployment(1, "nginx"), "kubectl-create", "Update", None, &keys, T0);
    let mut with_status = live.clone();
    with_status["status"] = json!({"replicas": 1, "conditions": [{"type": "Available", "status": "True"}]});
    let updated =
        record_update(Some(&live), &with_status, "kube-controller-manager", "Update", Some("status"), &keys, T1);
    let own = entry(&updated, "kube-controller-manager", "Update").expect("status entry");
    assert_eq!(own["subresource"], "status");
    assert_eq!(
        own["fieldsV1"],
        json!({"f:status": {".": {}, "f:conditions": {".": {}, "k:{\"type\":\"Available\"}": {".": {}, "f:status": {}, "f:type": {}}}, "f:replicas": {}}})
    );
    // A main-resource update that carries a changed status does not record it.
    let mut both = updated.clone();
    both["status"]["replicas"] = json!(3);
    both["spec"]["paused"] = json!(true);
    let main = record_update(Some(&updated), &both, "editor", "Update", None, &keys, T2);
    assert_eq!(entry(&main, "editor", "Update").expect("editor")["fieldsV1"], json!({"f:spec": {"f:paused": {}}}));
    assert!(entry(&main, "kube-controller-manager", "Update").is_some());
}

#[test]
fn managed_fields_sent_by_the_client_replace_or_reset_the_stored_ones() {
    let keys = BuiltinListKeys::new("Deployment");
    let live = record_update(None, &deployment(1, "nginx"), "kubectl-create", "Update", None, &keys, T0);
    let mut reset = live.clone();
    reset["metadata"]["managedFields"] = json!([{}]);
    reset["spec"]["replicas"] = json!(2);
    let reset = record_update(Some(&live), &reset, "editor", "Update", None, &keys, T1);
    assert!(reset["metadata"].get("managedFields").is_none(), "{reset}");
    // An object without managedFields is not tracked by updates.
    let mut again = reset.clone();
    again["spec"]["replicas"] = json!(3);
    let again = record_update(Some(&reset), &again, "editor", "Update", None, &keys, T2);
    assert!(again["metadata"].get("managedFields").is_none());
    // Sent managedFields that differ replace the stored ones.
    let mut rewritten = live.clone();
    rewritten["metadata"]["managedFields"] = json!([{"manager": "someone", "operation": "Update", "apiVersion": "apps/v1",
        "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
    let rewritten = record_update(Some(&live), &rewritten, "editor", "Update", None, &keys, T1);
    assert_eq!(managers(&rewritten), ["someone"]);
}

#[test]
fn more_than_ten_updaters_are_folded_into_ancient_changes() {
    let keys = BuiltinListKeys::new("ConfigMap");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    let mut live = record_update(None, &cm, "creator", "Update", None, &keys, "2025-01-01T00:00:00Z");
    for i in 0..11 {
        let mut next = live.clone();
        next["data"][format!("k{i}")] = json!("v");
        live = record_update(
            Some(&live),
            &next,
            &format!("m{i:02}"),
            "Update",
            None,
            &keys,
            &format!("2025-01-01T00:00:{:02}Z", i + 1),
        );
    }
    let names = managers(&live);
    assert_eq!(names.len(), 10, "{names:?}");
    let ancient = entry(&live, "ancient-changes", "Update").expect("bucket");
    // Twelve updaters: the three oldest went into the bucket, which takes the newest one's time.
    assert_eq!(ancient["fieldsV1"], json!({"f:data": {".": {}, "f:k0": {}, "f:k1": {}}}));
    assert_eq!(ancient["time"], "2025-01-01T00:00:02Z");
    for gone in ["creator", "m00", "m01"] {
        assert!(!names.contains(&gone.to_string()), "{names:?}");
    }
}
