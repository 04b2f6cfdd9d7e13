//! The FieldsV1 encoding and set operations.

use super::super::fieldset::{FieldSet, display_path, field, key_element};
use serde_json::json;
use std::collections::BTreeMap;

fn path(steps: &[&str]) -> Vec<String> {
    steps.iter().map(|s| s.to_string()).collect()
}

#[test]
fn fields_v1_marks_members_that_have_children_with_a_dot() {
    let mut set = FieldSet::new();
    let item = key_element(&BTreeMap::from([("name".to_string(), json!("app"))]));
    set.insert(&[field("spec"), field("replicas")]);
    set.insert(&[field("spec"), field("containers"), item.clone()]);
    set.insert(&[field("spec"), field("containers"), item.clone(), field("image")]);
    set.insert(&[field("spec"), field("selector")]);
    assert_eq!(
        set.to_fields_v1(),
        json!({"f:spec": {
            "f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}}},
            "f:replicas": {},
            "f:selector": {}
        }})
    );
    let read = FieldSet::from_fields_v1(&set.to_fields_v1()).expect("valid FieldsV1");
    assert_eq!(read, set);
    assert!(read.has(&[field("spec"), field("containers"), item]));
    assert!(!read.has(&[field("spec")]));
}

#[test]
fn fields_v1_that_is_not_well_formed_is_rejected() {
    assert!(FieldSet::from_fields_v1(&json!({"x:bad": {}})).is_err());
    assert!(FieldSet::from_fields_v1(&json!({"f:spec": 1})).is_err());
    assert!(FieldSet::from_fields_v1(&json!([])).is_err());
}

#[test]
fn set_operations_work_on_members() {
    let a = FieldSet::from_fields_v1(&json!({"f:spec": {"f:a": {}, "f:b": {}}, "f:data": {"f:x": {}}})).expect("valid");
    let b = FieldSet::from_fields_v1(&json!({"f:spec": {"f:b": {}, "f:c": {}}})).expect("valid");
    assert_eq!(a.difference(&b).to_fields_v1(), json!({"f:spec": {"f:a": {}}, "f:data": {"f:x": {}}}));
    assert_eq!(a.intersection(&b).to_fields_v1(), json!({"f:spec": {"f:b": {}}}));
    assert_eq!(a.union(&b).to_fields_v1(), json!({"f:spec": {"f:a": {}, "f:b": {}, "f:c": {}}, "f:data": {"f:x": {}}}));
    assert_eq!(
        a.with_named_fields().to_fields_v1(),
        json!({"f:spec": {".": {}, "f:a": {}, "f:b": {}}, "f:data": {".": {}, "f:x": {}}})
    );
    assert!(a.difference(&a).is_empty());
}

#[test]
fn paths_print_as_kubernetes_prints_them() {
    let p = path(&["f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"nginx\"}", "f:image"]);
    assert_eq!(display_path(&p), ".spec.template.spec.containers[name=\"nginx\"].image");
    let p = path(&["f:spec", "f:ports", "k:{\"port\":80,\"protocol\":\"TCP\"}"]);
    assert_eq!(display_path(&p), ".spec.ports[port=80,protocol=\"TCP\"]");
    assert_eq!(display_path(&path(&["f:metadata", "f:finalizers", "v:\"a\""])), ".metadata.finalizers[=\"a\"]");
}
