//! Strategic merge patch as the API server applies what kubectl sends.

use super::super::{BuiltinListKeys, PatchError, strategic_merge_patch};
use super::deployment;
use serde_json::{Value, json};

fn smp(kind: &str, target: &Value, patch: Value) -> Result<Value, PatchError> {
    strategic_merge_patch(target, &patch, &BuiltinListKeys::new(kind))
}

fn with_sidecar() -> Value {
    let mut d = deployment(2, "nginx:1.25");
    d["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80, "protocol": "TCP"}]},
        {"name": "sidecar", "image": "envoy:1", "args": ["--a"]}
    ]);
    d
}

#[test]
fn kubectl_set_image_merges_the_container_by_name() {
    // `kubectl set image deployment/nginx nginx=nginx:1.26` sends exactly this.
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.26", "name": "nginx"}]}}}});
    let patched = smp("Deployment", &with_sidecar(), patch).expect("patch applies");
    let containers = &patched["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        containers,
        &json!([
            {"name": "nginx", "image": "nginx:1.26", "ports": [{"containerPort": 80, "protocol": "TCP"}]},
            {"name": "sidecar", "image": "envoy:1", "args": ["--a"]}
        ])
    );
    assert_eq!(patched["spec"]["replicas"], 2);
}

#[test]
fn an_added_item_without_set_element_order_goes_first() {
    // As in the Kubernetes "Update API objects in place using kubectl patch" task: the patched
    // container list shows the new container before the existing one.
    let pod = json!({"spec": {"containers": [{"name": "patch-demo-ctr", "image": "nginx"}]}});
    let patch = json!({"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}});
    let patched = smp("Pod", &pod, patch).expect("patch applies");
    assert_eq!(
        patched["spec"]["containers"],
        json!([{"name": "patch-demo-ctr-2", "image": "redis"}, {"name": "patch-demo-ctr", "image": "nginx"}])
    );
}

#[test]
fn set_element_order_reorders_merged_items() {
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}],
        "containers": [{"name": "nginx", "image": "nginx:1.27"}]
    }}}});
    let patched = smp("Deployment", &with_sidecar(), patch).expect("patch applies");
    let containers = &patched["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["name"], "sidecar");
    assert_eq!(containers[1]["name"], "nginx");
    assert_eq!(containers[1]["image"], "nginx:1.27");
    assert!(!patched.to_string().contains("$setElementOrder"), "directive left in {patched}");
}

#[test]
fn kubectl_apply_adding_a_container_keeps_the_configured_order() {
    // kubectl apply's three-way patch when the configuration gains a third container at the end.
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}, {"name": "logger"}],
        "containers": [{"name": "logger", "image": "fluentbit"}]
    }}}});
    let patched = smp("Deployment", &with_sidecar(), patch).expect("patch applies");
    let names: Vec<&Value> = patched["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, [&json!("nginx"), &json!("sidecar"), &json!("logger")]);
}

#[test]
fn set_element_order_alone_reorders_a_list_the_patch_does_not_change() {
    let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}});
    let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}});
    let patched = smp("Pod", &pod, patch).expect("patch applies");
    assert_eq!(patched["spec"]["containers"], json!([{"name": "c"}, {"name": "a"}, {"name": "b"}]));
}

#[test]
fn set_element_order_that_contradicts_the_patch_list_is_rejected() {
    let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
        "containers": [{"name": "b", "image": "x"}, {"name": "a", "image": "y"}]
    }});
    let err = smp("Pod", &pod, patch).expect_err("order mismatch");
    assert_eq!(err.status_code(), 400);
}

#[test]
fn delete_directive_removes_an_item_by_merge_key() {
    // kubectl apply removing the sidecar from the configuration.
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"$patch": "delete", "name": "sidecar"}]
    }}}});
    let patched = smp("Deployment", &with_sidecar(), patch).expect("patch applies");
    let containers = &patched["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().map(Vec::len), Some(1));
    assert_eq!(containers[0]["name"], "nginx");
}

#[test]
fn replace_directive_in_a_list_replaces_it() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "busybox"}]}}}});
    let patched = smp("Deployment", &with_sidecar(), patch).expect("patch applies");
    assert_eq!(patched["spec"]["template"]["spec"]["containers"], json!([{"name": "only", "image": "busybox"}]));
}

#[test]
fn replace_and_delete_directives_on_maps() {
    let target = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "annotations": {"x": "y"}}});
    let patch = json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}, "annotations": {"$patch": "delete"}}});
    let patched = smp("ConfigMap", &target, patch).expect("patch applies");
    assert_eq!(patched, json!({"metadata": {"labels": {"c": "3"}, "annotations": {}}}));
}

#[test]
fn merge_directive_is_not_supported_by_the_server() {
    let target = json!({"metadata": {"labels": {"a": "1"}}});
    let err = smp("ConfigMap", &target, json!({"metadata": {"labels": {"$patch": "merge", "b": "2"}}}))
        .expect_err("unsupported");
    assert!(err.to_string().contains("unknown patch type"), "{err}");
    let pod = json!({"spec": {"containers": [{"name": "a"}]}});
    let err =
        smp("Pod", &pod, json!({"spec": {"containers": [{"$patch": "merge", "name": "a"}]}})).expect_err("unsupported");
    assert!(err.to_string().contains("merging lists cannot yet be specified"), "{err}");
}

#[test]
fn finalizers_merge_as_a_set_and_delete_from_primitive_list() {
    let target = json!({"metadata": {"finalizers": ["a", "b"]}});
    let added = smp("Pod", &target, json!({"metadata": {"finalizers": ["b", "c"]}})).expect("patch applies");
    assert_eq!(added["metadata"]["finalizers"], json!(["a", "b", "c"]));
    let deleted = smp("Pod", &added, json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "zzz"]}}))
        .expect("patch applies");
    assert_eq!(deleted["metadata"]["finalizers"], json!(["b", "c"]));
    // What kubectl apply sends to drop one finalizer and add another, keeping the order.
    let patch = json!({"metadata": {
        "$setElementOrder/finalizers": ["c", "d"],
        "$deleteFromPrimitiveList/finalizers": ["b"],
        "finalizers": ["d"]
    }});
    let reordered = smp("Pod", &deleted, patch).expect("patch applies");
    assert_eq!(reordered["metadata"]["finalizers"], json!(["c", "d"]));
}

#[test]
fn retain_keys_clears_the_other_strategy_fields() {
    // kubectl apply switching a Deployment from RollingUpdate to Recreate.
    let mut d = deployment(1, "nginx");
    d["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
    let patched = smp("Deployment", &d, patch).expect("patch applies");
    assert_eq!(patched["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn retain_keys_must_name_every_field_the_patch_sets() {
    let target = json!({"spec": {"strategy": {"type": "Recreate"}}});
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
    let err = smp("Deployment", &target, patch).expect_err("rollingUpdate not retained");
    assert_eq!(err, PatchError::BadRequest("invalid patch format of retainKeys".into()));
}

#[test]
fn null_deletes_and_lists_without_merge_key_are_replaced() {
    let pod = json!({"spec": {
        "tolerations": [{"key": "a", "operator": "Exists"}],
        "containers": [{"name": "app", "args": ["--x", "--y"], "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]
    }});
    let patch = json!({"spec": {
        "tolerations": [{"key": "b", "operator": "Exists"}],
        "containers": [{"name": "app", "args": ["--z"], "env": [{"name": "A", "value": null, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]
    }});
    let patched = smp("Pod", &pod, patch).expect("patch applies");
    assert_eq!(patched["spec"]["tolerations"], json!([{"key": "b", "operator": "Exists"}]));
    let container = &patched["spec"]["containers"][0];
    assert_eq!(container["args"], json!(["--z"]));
    assert_eq!(
        container["env"],
        json!([{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}, {"name": "B", "value": "2"}])
    );
    let removed = smp("Pod", &patched, json!({"spec": {"tolerations": null}})).expect("patch applies");
    assert!(removed["spec"].get("tolerations").is_none());
}

#[test]
fn service_ports_merge_by_port_and_owner_references_by_uid() {
    let svc = json!({
        "metadata": {"ownerReferences": [{"uid": "u1", "kind": "A", "name": "a"}]},
        "spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}, {"port": 443, "targetPort": 8443, "protocol": "TCP"}]}
    });
    let patch = json!({
        "metadata": {"ownerReferences": [{"uid": "u2", "kind": "B", "name": "b"}]},
        "spec": {"ports": [{"port": 443, "targetPort": 9443}]}
    });
    let patched = smp("Service", &svc, patch).expect("patch applies");
    assert_eq!(patched["spec"]["ports"][1], json!({"port": 443, "targetPort": 9443, "protocol": "TCP"}));
    assert_eq!(patched["spec"]["ports"][0]["targetPort"], 8080);
    let uids: Vec<&Value> =
        patched["metadata"]["ownerReferences"].as_array().into_iter().flatten().map(|o| &o["uid"]).collect();
    assert_eq!(uids, [&json!("u2"), &json!("u1")]);
}

#[test]
fn no_directive_is_left_in_the_object() {
    let pod = json!({"spec": {"containers": [{"name": "a", "image": "x"}]}});
    let patch = json!({
        "$unknown": 1,
        "spec": {
            "$foo": "bar",
            "volumes": [{"name": "v", "$retainKeys": ["name", "emptyDir"], "emptyDir": {}}],
            "containers": [{"name": "b", "image": "y", "$setElementOrder/env": [{"name": "E"}], "env": [{"name": "E", "value": "1"}]}],
            "newMap": {"$patch": "delete"},
            "affinity": {"nodeAffinity": {"x": null, "y": 1}}
        }
    });
    let patched = smp("Pod", &pod, patch).expect("patch applies");
    assert!(!patched.to_string().contains('$'), "directive left in {patched}");
    assert!(patched["spec"].get("newMap").is_none());
    assert_eq!(patched["spec"]["affinity"], json!({"nodeAffinity": {"y": 1}}));
    assert_eq!(patched["spec"]["volumes"], json!([{"name": "v", "emptyDir": {}}]));
    assert_eq!(
        patched["spec"]["containers"][0],
        json!({"name": "b", "image": "y", "env": [{"name": "E", "value": "1"}]})
    );
}

#[test]
fn an_item_without_its_merge_key_is_rejected() {
    let pod = json!({"spec": {"containers": [{"name": "a"}]}});
    let err = smp("Pod", &pod, json!({"spec": {"containers": [{"image": "x"}]}})).expect_err("no name");
    assert!(err.to_string().contains("does not contain declared merge key: name"), "{err}");
    assert_eq!(err.status_code(), 400);
}

#[test]
fn a_patch_that_is_not_an_object_is_rejected() {
    let err = smp("Pod", &json!({}), json!([1])).expect_err("not an object");
    assert_eq!(err.status_code(), 400);
}

#[test]
fn retain_keys_in_a_volume_item_switches_its_source() {
    // kubectl apply changing a volume from emptyDir to a configMap.
    let pod = json!({"spec": {"volumes": [{"name": "data", "emptyDir": {}}, {"name": "other", "emptyDir": {}}]}});
    let patch = json!({"spec": {
        "$setElementOrder/volumes": [{"name": "data"}, {"name": "other"}],
        "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}, "name": "data"}]
    }});
    let patched = smp("Pod", &pod, patch).expect("patch applies");
    assert_eq!(
        patched["spec"]["volumes"],
        json!([{"name": "data", "configMap": {"name": "cm"}}, {"name": "other", "emptyDir": {}}])
    );
}
