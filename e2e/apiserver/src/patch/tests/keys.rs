//! The merge metadata of built-in kinds and of CRD schemas.

use super::super::{BuiltinListKeys, ListKeys, ListType, MapKey, SchemaListKeys};
use serde_json::json;

fn keyed(names: &[&str]) -> ListType {
    ListType::Map(names.iter().map(|n| MapKey::new(*n)).collect())
}

#[test]
fn pod_template_lists_have_the_real_merge_keys() {
    let d = BuiltinListKeys::new("Deployment");
    let pod = ["spec", "template", "spec"];
    let at = |rest: &[&'static str]| -> Vec<&'static str> { pod.iter().chain(rest).copied().collect() };
    for (list, key) in [
        (vec!["containers"], "name"),
        (vec!["initContainers"], "name"),
        (vec!["ephemeralContainers"], "name"),
        (vec!["containers", "env"], "name"),
        (vec!["containers", "volumeMounts"], "mountPath"),
        (vec!["initContainers", "volumeDevices"], "devicePath"),
        (vec!["containers", "ports"], "containerPort"),
        (vec!["volumes"], "name"),
        (vec!["imagePullSecrets"], "name"),
        (vec!["hostAliases"], "ip"),
        (vec!["topologySpreadConstraints"], "topologyKey"),
    ] {
        assert_eq!(d.merge_key(&at(&list)), Some(vec![key.to_string()]), "{list:?}");
    }
    for atomic in
        [vec!["tolerations"], vec!["containers", "args"], vec!["containers", "envFrom"], vec!["readinessGates"]]
    {
        assert_eq!(d.merge_key(&at(&atomic)), None, "{atomic:?}");
        assert_eq!(d.list_type(&at(&atomic)), ListType::Atomic, "{atomic:?}");
    }
    assert_eq!(d.merge_key(&["spec", "template", "metadata", "ownerReferences"]), Some(vec!["uid".to_string()]));
}

#[test]
fn apply_uses_the_list_map_keys_with_their_defaults() {
    let pod = BuiltinListKeys::new("Pod");
    assert_eq!(
        pod.list_type(&["spec", "containers", "ports"]),
        ListType::Map(vec![
            MapKey::new("containerPort"),
            MapKey { name: "protocol".into(), default: Some(json!("TCP")) }
        ])
    );
    assert_eq!(pod.list_type(&["spec", "topologySpreadConstraints"]), keyed(&["topologyKey", "whenUnsatisfiable"]));
    // hostIPs: patchMergeKey=ip, listType=atomic.
    assert_eq!(pod.merge_key(&["status", "hostIPs"]), Some(vec!["ip".to_string()]));
    assert_eq!(pod.list_type(&["status", "hostIPs"]), ListType::Atomic);
    assert_eq!(pod.list_type(&["status", "podIPs"]), keyed(&["ip"]));
    assert_eq!(pod.list_type(&["status", "conditions"]), keyed(&["type"]));
    assert_eq!(pod.list_type(&["status", "containerStatuses"]), ListType::Atomic);
    // Container resource claims are listType=map without a patch strategy.
    assert_eq!(pod.merge_key(&["spec", "containers", "resources", "claims"]), None);
    assert_eq!(pod.list_type(&["spec", "containers", "resources", "claims"]), keyed(&["name"]));
    let svc = BuiltinListKeys::new("Service");
    assert_eq!(svc.merge_key(&["spec", "ports"]), Some(vec!["port".to_string()]));
    assert_eq!(
        svc.list_type(&["spec", "ports"]),
        ListType::Map(vec![MapKey::new("port"), MapKey { name: "protocol".into(), default: Some(json!("TCP")) }])
    );
}

#[test]
fn metadata_lists_and_other_kinds() {
    for kind in ["ConfigMap", "Secret", "Lease", "Event", "Namespace", "HorizontalPodAutoscaler"] {
        let keys = BuiltinListKeys::new(kind);
        assert_eq!(keys.list_type(&["metadata", "finalizers"]), ListType::Set, "{kind}");
        assert_eq!(keys.merge_key(&["metadata", "finalizers"]), Some(vec![]), "{kind}");
        assert_eq!(keys.list_type(&["metadata", "ownerReferences"]), keyed(&["uid"]), "{kind}");
        assert!(keys.is_atomic_map(&["metadata", "ownerReferences"]), "{kind}");
    }
    let hpa = BuiltinListKeys::new("HorizontalPodAutoscaler");
    assert_eq!(hpa.list_type(&["spec", "metrics"]), ListType::Atomic);
    assert_eq!(hpa.list_type(&["status", "currentMetrics"]), ListType::Atomic);
    assert_eq!(hpa.list_type(&["status", "conditions"]), keyed(&["type"]));
    let ns = BuiltinListKeys::new("Namespace");
    assert_eq!(ns.list_type(&["spec", "finalizers"]), ListType::Atomic);
    assert_eq!(ns.list_type(&["status", "conditions"]), keyed(&["type"]));
    assert_eq!(BuiltinListKeys::new("Deployment").list_type(&["status", "conditions"]), keyed(&["type"]));
}

#[test]
fn atomic_structs_and_maps() {
    let d = BuiltinListKeys::new("Deployment");
    assert!(d.is_atomic_map(&["spec", "selector"]));
    assert!(d.is_atomic_map(&["spec", "template", "spec", "nodeSelector"]));
    assert!(d.is_atomic_map(&["spec", "template", "spec", "containers", "env", "valueFrom", "secretKeyRef"]));
    assert!(d.is_atomic_map(&["spec", "template", "spec", "imagePullSecrets"]));
    assert!(!d.is_atomic_map(&["spec", "template", "metadata", "labels"]));
    assert!(!d.is_atomic_map(&["spec", "template", "spec", "containers", "resources"]));
    assert!(BuiltinListKeys::new("Service").is_atomic_map(&["spec", "selector"]));
    assert!(BuiltinListKeys::new("Event").is_atomic_map(&["involvedObject"]));
    assert!(!BuiltinListKeys::new("HorizontalPodAutoscaler").is_atomic_map(&["spec", "scaleTargetRef"]));
}

fn crd_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "properties": {
                    "routes": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name", "port"],
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "port": {"type": "integer", "default": 80},
                                "hosts": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                                "selector": {"type": "object", "x-kubernetes-map-type": "atomic"}
                            }
                        }
                    },
                    "args": {"type": "array", "items": {"type": "string"}},
                    "byName": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {"tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}}
                        }
                    }
                }
            }
        }
    })
}

#[test]
fn crd_schemas_give_list_and_map_types() {
    let keys = SchemaListKeys::new(crd_schema());
    assert_eq!(
        keys.list_type(&["spec", "routes"]),
        ListType::Map(vec![MapKey::new("name"), MapKey { name: "port".into(), default: Some(json!(80)) }])
    );
    assert_eq!(keys.merge_key(&["spec", "routes"]), Some(vec!["name".to_string(), "port".to_string()]));
    assert_eq!(keys.list_type(&["spec", "routes", "hosts"]), ListType::Set);
    assert_eq!(keys.list_type(&["spec", "args"]), ListType::Atomic);
    assert_eq!(keys.list_type(&["spec", "byName", "anything", "tags"]), ListType::Set);
    assert_eq!(keys.list_type(&["spec", "unknown"]), ListType::Atomic);
    assert!(keys.is_atomic_map(&["spec", "routes", "selector"]));
    assert!(!keys.is_atomic_map(&["spec", "routes"]));
    // metadata of a custom resource follows ObjectMeta.
    assert_eq!(keys.list_type(&["metadata", "finalizers"]), ListType::Set);
    assert!(keys.status_is_subresource());
    assert!(!keys.with_status_subresource(false).status_is_subresource());
}
