//! The revision of a target: a short hash of its pod template and the content of the configs
//! it tracks, so a new image or a changed ConfigMap starts a new rollout. No I/O.
//!
//! The hash is kept in the Canary's status and compared after restarts and upgrades, so it is
//! defined over canonical JSON (object keys sorted, no whitespace) and SHA-256, never over
//! Rust's `Hash`, whose output may change between compiler versions and processes.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Hex digits kept from the SHA-256: 64 bits, plenty to tell revisions of one target apart,
/// and short enough to read in `kubectl get -o yaml`.
const HASH_HEX_DIGITS: usize = 16;

/// The revision of a target: 16 hex digits of the SHA-256 of the canonical JSON of its pod
/// template and its tracked configs (`configmap/<name>` or `secret/<name>` to a content hash).
///
/// Compute it from the target's template as read, never from the primary's: the primary's
/// labels and config references are Fledge's rewrites and would hide the user's change.
pub fn revision(template: &PodTemplateSpec, tracked_configs: &BTreeMap<String, String>) -> String {
    let template = serde_json::to_value(template).expect("a PodTemplateSpec serializes to JSON");
    short_hash(&serde_json::json!({ "template": template, "configs": tracked_configs }))
}

/// 16 hex digits of the SHA-256 of `value` as canonical JSON.
pub(crate) fn short_hash(value: &Value) -> String {
    let mut text = String::new();
    write_canonical(value, &mut text);
    let digest = Sha256::digest(text.as_bytes());
    let mut hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(HASH_HEX_DIGITS);
    hex
}

/// Writes `value` with object keys sorted. `serde_json::Value` sorts its keys only while no
/// crate in the build enables serde_json's `preserve_order`; sorting here keeps the hash
/// independent of that feature.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(image: &str) -> PodTemplateSpec {
        serde_json::from_value(json!({
            "metadata": {"labels": {"app": "podinfo", "tier": "backend"}},
            "spec": {"containers": [{"name": "podinfod", "image": image,
                "envFrom": [{"configMapRef": {"name": "podinfo-config"}}]}]}
        }))
        .unwrap()
    }

    fn configs(hash: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("configmap/podinfo-config".to_owned(), hash.to_owned())])
    }

    #[test]
    fn same_inputs_give_the_same_revision() {
        let first = revision(&template("podinfo:6.0.0"), &configs("aaaa"));
        assert_eq!(first, revision(&template("podinfo:6.0.0"), &configs("aaaa")));
        assert_eq!(first.len(), 16);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn a_new_image_or_config_content_is_a_new_revision() {
        let base = revision(&template("podinfo:6.0.0"), &configs("aaaa"));
        assert_ne!(base, revision(&template("podinfo:6.0.1"), &configs("aaaa")));
        assert_ne!(base, revision(&template("podinfo:6.0.0"), &configs("bbbb")));
        assert_ne!(base, revision(&template("podinfo:6.0.0"), &BTreeMap::new()));
    }

    #[test]
    fn the_hash_is_pinned() {
        // Revisions are kept in Canary statuses: if this value changes, every Canary in every
        // cluster would see a new revision on upgrade. The expected value was computed
        // independently (Python: sha256 of json.dumps(sort_keys=True, separators=(",", ":"))).
        assert_eq!(revision(&template("podinfo:6.0.0"), &configs("aaaa")), "3e75977e6c74c5f7");
    }

    #[test]
    fn keys_are_sorted_at_every_depth() {
        let mut out = String::new();
        write_canonical(&json!({"z": {"y": 1, "x": [{"b": 2, "a": "q\""}]}, "a": 1.5}), &mut out);
        assert_eq!(out, r#"{"a":1.5,"z":{"x":[{"a":"q\"","b":2}],"y":1}}"#);
    }
}
