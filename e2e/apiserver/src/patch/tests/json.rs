//! JSON merge patch, JSON patch and the patch content types.

use super::super::{PatchError, PatchKind, apply_patch_type_from_content_type, json_merge_patch, json_patch};
use serde_json::json;

#[test]
fn merge_patch_follows_rfc_7386_examples() {
    // The examples of RFC 7386 appendix A.
    let cases = [
        (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
        (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
        (json!({"a": "b"}), json!({"a": null}), json!({})),
        (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
        (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
        (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
        (json!({"a": {"b": "c"}}), json!({"a": {"b": "d", "c": null}}), json!({"a": {"b": "d"}})),
        (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
        (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
        (json!({"a": "b"}), json!(["c"]), json!(["c"])),
        (json!({"a": "foo"}), json!(null), json!(null)),
        (json!({"a": "foo"}), json!("bar"), json!("bar")),
        (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
        (json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"})),
        (json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}})),
    ];
    for (mut target, patch, expected) in cases {
        json_merge_patch(&mut target, &patch);
        assert_eq!(target, expected, "patch {patch}");
    }
}

#[test]
fn merge_patch_replaces_lists_whole() {
    // Unlike strategic merge patch, a merge patch cannot merge containers by name.
    let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
    json_merge_patch(&mut pod, &json!({"spec": {"containers": [{"name": "a", "image": "z"}]}}));
    assert_eq!(pod, json!({"spec": {"containers": [{"name": "a", "image": "z"}]}}));
}

#[test]
fn json_patch_applies_every_operation() {
    let target = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1, "list": [1, 2]}});
    let patch = json!([
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/labels/b", "value": "2"},
        {"op": "remove", "path": "/metadata/labels/a"},
        {"op": "add", "path": "/spec/list/-", "value": 3},
        {"op": "copy", "from": "/spec/replicas", "path": "/spec/copied"},
        {"op": "move", "from": "/spec/list", "path": "/spec/moved"}
    ]);
    let patched = json_patch(&target, &patch).expect("patch applies");
    assert_eq!(
        patched,
        json!({"metadata": {"labels": {"b": "2"}}, "spec": {"replicas": 3, "copied": 3, "moved": [1, 2, 3]}})
    );
}

#[test]
fn json_patch_test_failure_is_an_error_naming_the_path() {
    let target = json!({"spec": {"replicas": 2}});
    let patch = json!([{"op": "test", "path": "/spec/replicas", "value": 1}, {"op": "replace", "path": "/spec/replicas", "value": 5}]);
    let err = json_patch(&target, &patch).expect_err("test fails");
    assert!(matches!(err, PatchError::Unprocessable(_)), "{err:?}");
    assert_eq!(err.status_code(), 422);
    assert!(err.to_string().contains("/spec/replicas"), "{err}");
}

#[test]
fn json_patch_bad_path_is_an_error_naming_the_path() {
    let target = json!({"spec": {}});
    let err = json_patch(&target, &json!([{"op": "remove", "path": "/spec/missing"}])).expect_err("no such path");
    assert!(err.to_string().contains("/spec/missing"), "{err}");
    let err = json_patch(&target, &json!([{"op": "add", "path": "/nope/deeper", "value": 1}])).expect_err("no parent");
    assert!(err.to_string().contains("/nope/deeper"), "{err}");
}

#[test]
fn json_patch_that_is_not_a_list_of_operations_is_a_bad_request() {
    let target = json!({});
    for patch in [json!({"op": "add"}), json!([{"op": "frobnicate", "path": "/a"}]), json!([{"op": "add", "value": 1}])]
    {
        let err = json_patch(&target, &patch).expect_err("malformed");
        assert_eq!(err.status_code(), 400, "{patch}: {err}");
    }
}

#[test]
fn content_types_select_the_patch_kind() {
    assert_eq!(apply_patch_type_from_content_type("application/json-patch+json"), Some(PatchKind::Json));
    assert_eq!(apply_patch_type_from_content_type("application/merge-patch+json"), Some(PatchKind::Merge));
    assert_eq!(
        apply_patch_type_from_content_type("application/strategic-merge-patch+json"),
        Some(PatchKind::Strategic)
    );
    assert_eq!(apply_patch_type_from_content_type("application/apply-patch+yaml"), Some(PatchKind::Apply));
    assert_eq!(
        apply_patch_type_from_content_type("Application/Strategic-Merge-Patch+JSON; charset=utf-8"),
        Some(PatchKind::Strategic)
    );
    assert_eq!(apply_patch_type_from_content_type("application/apply-patch+cbor"), None);
    assert_eq!(apply_patch_type_from_content_type("application/json"), None);
    assert_eq!(apply_patch_type_from_content_type(""), None);
    assert_eq!(PatchKind::Apply.content_type(), "application/apply-patch+yaml");
}
