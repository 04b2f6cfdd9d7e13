//! ConfigMaps and Secrets the target's pods use: finding them in a pod template, deciding which
//! are tracked, hashing their content, and building their `-primary` copies so the primary
//! keeps the configuration it was promoted with. No I/O.

use super::{PRIMARY_SUFFIX, non_empty, owned_meta};
use crate::cluster::rules::LabelPrefixes;
use fledge_crds::canary::Canary;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, PodTemplateSpec, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::{BTreeMap, BTreeSet};

/// Annotations that turn tracking off for one ConfigMap or Secret (Fledge's and Flagger's).
const TRACKING_ANNOTATIONS: [&str; 2] = ["fledge.dev/config-tracking", "flagger.app/config-tracking"];

/// Secret types Flagger tracks. Others (registry credentials, service-account tokens,
/// bootstrap tokens, tool-specific types) are not application configuration, and a copy of a
/// token or registry secret would only spread a credential.
const TRACKED_SECRET_TYPES: [&str; 4] =
    ["Opaque", "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth", "kubernetes.io/tls"];

/// Names of the ConfigMaps and Secrets a pod template refers to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigRefs {
    /// ConfigMap names.
    pub config_maps: BTreeSet<String>,
    /// Secret names.
    pub secrets: BTreeSet<String>,
}

/// The two kinds of tracked configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConfigKind {
    /// A ConfigMap.
    ConfigMap,
    /// A Secret.
    Secret,
}

/// The key of a tracked config in `status.trackedConfigs`: `configmap/<name>` or
/// `secret/<name>`, as Flagger writes it.
pub fn tracked_config_key(kind: ConfigKind, name: &str) -> String {
    match kind {
        ConfigKind::ConfigMap => format!("configmap/{name}"),
        ConfigKind::Secret => format!("secret/{name}"),
    }
}

/// Every ConfigMap and Secret `template` refers to: volumes (`configMap`, `secret`, projected
/// sources), and `env[].valueFrom` and `envFrom` of containers and init containers.
///
/// Optional references are included; whether the object exists is for the caller to find out.
pub fn referenced_configs(template: &PodTemplateSpec) -> ConfigRefs {
    let mut refs = ConfigRefs::default();
    if let Some(spec) = &template.spec {
        // One walker serves both reading and rewriting, so the two can never disagree about
        // which references exist; a clone of a pod spec is cheap next to an API call.
        let mut spec = spec.clone();
        for_each_config_ref(&mut spec, |kind, name| {
            match kind {
                ConfigKind::ConfigMap => refs.config_maps.insert(name.clone()),
                ConfigKind::Secret => refs.secrets.insert(name.clone()),
            };
        });
    }
    refs
}

/// Renames every reference to a config in `tracked` to its `-primary` copy.
pub(crate) fn rewrite_config_refs(spec: &mut PodSpec, tracked: &ConfigRefs) {
    for_each_config_ref(spec, |kind, name| {
        let is_tracked = match kind {
            ConfigKind::ConfigMap => tracked.config_maps.contains(name.as_str()),
            ConfigKind::Secret => tracked.secrets.contains(name.as_str()),
        };
        if is_tracked {
            name.push_str(PRIMARY_SUFFIX);
        }
    });
}

/// Calls `visit` with every ConfigMap or Secret name in `spec`, in place.
fn for_each_config_ref(spec: &mut PodSpec, mut visit: impl FnMut(ConfigKind, &mut String)) {
    for volume in spec.volumes.iter_mut().flatten() {
        if let Some(cm) = &mut volume.config_map {
            visit(ConfigKind::ConfigMap, &mut cm.name);
        }
        if let Some(name) = volume.secret.as_mut().and_then(|s| s.secret_name.as_mut()) {
            visit(ConfigKind::Secret, name);
        }
        let sources = volume.projected.as_mut().and_then(|p| p.sources.as_mut());
        for source in sources.into_iter().flatten() {
            if let Some(cm) = &mut source.config_map {
                visit(ConfigKind::ConfigMap, &mut cm.name);
            }
            if let Some(secret) = &mut source.secret {
                visit(ConfigKind::Secret, &mut secret.name);
            }
        }
    }
    let containers: Vec<&mut Container> =
        spec.init_containers.iter_mut().flatten().chain(spec.containers.iter_mut()).collect();
    for container in containers {
        for value_from in container.env.iter_mut().flatten().filter_map(|e| e.value_from.as_mut()) {
            if let Some(key_ref) = &mut value_from.config_map_key_ref {
                visit(ConfigKind::ConfigMap, &mut key_ref.name);
            }
            if let Some(key_ref) = &mut value_from.secret_key_ref {
                visit(ConfigKind::Secret, &mut key_ref.name);
            }
        }
        for env_from in container.env_from.iter_mut().flatten() {
            if let Some(cm) = &mut env_from.config_map_ref {
                visit(ConfigKind::ConfigMap, &mut cm.name);
            }
            if let Some(secret) = &mut env_from.secret_ref {
                visit(ConfigKind::Secret, &mut secret.name);
            }
        }
    }
}

/// Whether a ConfigMap or Secret is tracked: false when its annotation
/// `fledge.dev/config-tracking` or `flagger.app/config-tracking` is `disabled`.
pub fn is_tracked(meta: &ObjectMeta) -> bool {
    let annotations = meta.annotations.as_ref();
    !TRACKING_ANNOTATIONS.iter().any(|key| annotations.and_then(|a| a.get(*key)).is_some_and(|v| v == "disabled"))
}

/// Whether a Secret is tracked: [`is_tracked`], and of a type that holds application
/// configuration (`Opaque`, `kubernetes.io/basic-auth`, `ssh-auth` or `tls`), as in Flagger.
pub fn is_tracked_secret(secret: &Secret) -> bool {
    let type_ = secret.type_.as_deref().filter(|t| !t.is_empty()).unwrap_or("Opaque");
    is_tracked(&secret.metadata) && TRACKED_SECRET_TYPES.contains(&type_)
}

/// Hash of a ConfigMap's content (`data` and `binaryData`), 16 hex digits of a SHA-256 over
/// canonical JSON: the same content always gives the same hash, in any process.
pub fn config_map_hash(cm: &ConfigMap) -> String {
    let binary = cm.binary_data.clone().unwrap_or_default();
    content_hash(cm.data.clone().unwrap_or_default(), binary)
}

/// Hash of a Secret's content (`data`, with any `stringData` merged as the API server would),
/// computed like [`config_map_hash`].
pub fn secret_hash(s: &Secret) -> String {
    content_hash(BTreeMap::new(), secret_data(s).unwrap_or_default())
}

/// The hash of text and binary entries; absent and empty maps hash the same.
fn content_hash(data: BTreeMap<String, String>, binary_data: BTreeMap<String, ByteString>) -> String {
    crate::cluster::revision::short_hash(&serde_json::json!({ "data": data, "binaryData": binary_data }))
}

/// A Secret's `data` with `stringData` merged in (it wins, as on the API server), so a Secret
/// that was never round-tripped through the server is hashed and copied by what it holds.
fn secret_data(s: &Secret) -> Option<BTreeMap<String, ByteString>> {
    let mut data = s.data.clone().unwrap_or_default();
    for (key, value) in s.string_data.iter().flatten() {
        data.insert(key.clone(), ByteString(value.clone().into_bytes()));
    }
    (!data.is_empty()).then_some(data)
}

/// Metadata of a config copy: `<name>-primary` in the Canary's namespace, owned by it, with
/// the source's labels that `copied` lets through. Annotations are not copied: they tend to
/// carry another tool's claim on the source (Argo CD tracking, reloaders), which must not
/// extend to Fledge's copy.
fn copy_meta(canary: &Canary, source: &ObjectMeta, copied: &LabelPrefixes) -> ObjectMeta {
    let name = format!("{}{PRIMARY_SUFFIX}", source.name.as_deref().unwrap_or_default());
    ObjectMeta { labels: non_empty(copied.filter(source.labels.as_ref())), ..owned_meta(canary, name) }
}

/// The primary's copy of a ConfigMap: `<name>-primary` with the same `data`, `binaryData` and
/// `immutable`, owned by the Canary. An immutable copy cannot be updated, so when the source is
/// replaced the caller deletes the copy before applying the new one.
pub fn primary_config_map(canary: &Canary, cm: &ConfigMap, copied: &LabelPrefixes) -> ConfigMap {
    ConfigMap {
        metadata: copy_meta(canary, &cm.metadata, copied),
        data: cm.data.clone(),
        binary_data: cm.binary_data.clone(),
        immutable: cm.immutable,
    }
}

/// The primary's copy of a Secret: `<name>-primary` with the same `data` (`stringData` folded
/// in), `type` and `immutable`, owned by the Canary.
pub fn primary_secret(canary: &Canary, s: &Secret, copied: &LabelPrefixes) -> Secret {
    Secret {
        metadata: copy_meta(canary, &s.metadata, copied),
        data: secret_data(s),
        string_data: None,
        type_: s.type_.clone(),
        immutable: s.immutable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::fixtures::*;
    use serde_json::json;

    fn mk_config_map(yaml: &str) -> ConfigMap {
        serde_norway::from_str(yaml).unwrap()
    }

    fn mk_secret(yaml: &str) -> Secret {
        serde_norway::from_str(yaml).unwrap()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn finds_configs_in_volumes_projections_env_and_init_containers() {
        let refs = referenced_configs(&podinfo_deployment().spec.unwrap().template);
        assert_eq!(
            refs.config_maps,
            set(&["podinfo-bundle", "podinfo-config", "podinfo-env", "podinfo-init", "shared-config"])
        );
        assert_eq!(refs.secrets, set(&["podinfo-bundle-secret", "podinfo-secret-env", "podinfo-tls", "podinfo-token"]));
        assert_eq!(referenced_configs(&PodTemplateSpec::default()), ConfigRefs::default());
    }

    #[test]
    fn tracking_is_disabled_by_either_annotation() {
        let cm = |annotations: &str| {
            mk_config_map(&format!("{{metadata: {{name: c, annotations: {annotations}}}}}")).metadata
        };
        assert!(is_tracked(&ObjectMeta::default()));
        assert!(is_tracked(&cm("{fledge.dev/config-tracking: enabled}")));
        assert!(!is_tracked(&cm("{fledge.dev/config-tracking: disabled}")));
        assert!(!is_tracked(&cm("{flagger.app/config-tracking: disabled}")));
    }

    #[test]
    fn registry_and_token_secrets_are_not_tracked() {
        assert!(is_tracked_secret(&mk_secret("{metadata: {name: s}}")));
        assert!(is_tracked_secret(&mk_secret("{metadata: {name: s}, type: kubernetes.io/tls}")));
        assert!(!is_tracked_secret(&mk_secret("{metadata: {name: s}, type: kubernetes.io/dockerconfigjson}")));
        assert!(!is_tracked_secret(&mk_secret(
            "{metadata: {name: s, annotations: {flagger.app/config-tracking: disabled}}, type: Opaque}"
        )));
    }

    #[test]
    fn hashes_change_with_content_only() {
        let a = mk_config_map("{metadata: {name: a, resourceVersion: '1'}, data: {x: '1', y: '2'}}");
        let same = mk_config_map("{metadata: {name: b, resourceVersion: '9'}, data: {y: '2', x: '1'}}");
        let changed = mk_config_map("{metadata: {name: a}, data: {x: '1', y: '3'}}");
        let binary = mk_config_map("{metadata: {name: a}, data: {x: '1', y: '2'}, binaryData: {z: AAE=}}");
        assert_eq!(config_map_hash(&a), config_map_hash(&same));
        assert_ne!(config_map_hash(&a), config_map_hash(&changed));
        assert_ne!(config_map_hash(&a), config_map_hash(&binary));
        assert_eq!(config_map_hash(&a).len(), 16);
        assert!(config_map_hash(&a).chars().all(|c| c.is_ascii_hexdigit()));

        let s = mk_secret("{metadata: {name: s}, data: {token: c2VjcmV0}}");
        let written_as_string = mk_secret("{metadata: {name: s}, stringData: {token: secret}}");
        let other = mk_secret("{metadata: {name: s}, data: {token: b3RoZXI=}}");
        assert_eq!(secret_hash(&s), secret_hash(&written_as_string));
        assert_ne!(secret_hash(&s), secret_hash(&other));
    }

    #[test]
    fn config_map_copy_is_owned_and_keeps_the_content() {
        let cm = mk_config_map(
            r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: podinfo-config
  namespace: test
  uid: cm-uid
  resourceVersion: "7"
  labels: {app: podinfo}
  annotations: {argocd.argoproj.io/tracking-id: "x"}
data: {color: blue}
binaryData: {logo: AAE=}
immutable: true
"#,
        );
        let copy = serde_json::to_value(primary_config_map(&podinfo_canary(), &cm, &LabelPrefixes::All)).unwrap();
        assert_eq!(
            copy,
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {
                    "name": "podinfo-config-primary", "namespace": "test", "labels": {"app": "podinfo"},
                    "ownerReferences": [{"apiVersion": "fledge.dev/v1beta1", "kind": "Canary", "name": "podinfo",
                        "uid": "0000-uid", "controller": true, "blockOwnerDeletion": true}]
                },
                "data": {"color": "blue"}, "binaryData": {"logo": "AAE="}, "immutable": true
            })
        );
    }

    #[test]
    fn config_copies_take_the_labels_include_label_prefix_lets_through() {
        let cm = mk_config_map("{metadata: {name: c, labels: {app: podinfo, team.example.com/owner: web}}}");
        let copy =
            |prefixes: &str| primary_config_map(&podinfo_canary(), &cm, &LabelPrefixes::parse(prefixes)).metadata;
        assert_eq!(
            copy("team.example.com/").labels.unwrap().into_keys().collect::<Vec<_>>(),
            ["team.example.com/owner"]
        );
        assert_eq!(copy("").labels, None, "none: no empty map written");
        let s = mk_secret("{metadata: {name: s, labels: {app: podinfo}}}");
        assert_eq!(primary_secret(&podinfo_canary(), &s, &LabelPrefixes::parse("")).metadata.labels, None);
    }

    #[test]
    fn secret_copy_keeps_type_and_folds_string_data() {
        let s = mk_secret(
            "{metadata: {name: podinfo-tls, namespace: other}, type: kubernetes.io/tls, \
             data: {tls.crt: Y2VydA==}, stringData: {tls.key: key}}",
        );
        let copy = serde_json::to_value(primary_secret(&podinfo_canary(), &s, &LabelPrefixes::All)).unwrap();
        assert_eq!(copy["metadata"]["name"], "podinfo-tls-primary");
        assert_eq!(copy["metadata"]["namespace"], "test");
        assert_eq!(copy["metadata"]["ownerReferences"][0]["kind"], "Canary");
        assert_eq!(copy["type"], "kubernetes.io/tls");
        assert_eq!(copy["data"], json!({"tls.crt": "Y2VydA==", "tls.key": "a2V5"}));
        assert_eq!(copy.get("stringData"), None);
    }

    #[test]
    fn tracked_config_keys_are_flaggers() {
        assert_eq!(tracked_config_key(ConfigKind::ConfigMap, "podinfo-config"), "configmap/podinfo-config");
        assert_eq!(tracked_config_key(ConfigKind::Secret, "podinfo-tls"), "secret/podinfo-tls");
    }
}
