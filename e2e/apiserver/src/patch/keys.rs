//! How each list (and atomic map) of an object merges: the `ListKeys` trait the patchers ask, and
//! its answers for the built-in kinds the sandbox serves, taken from the `patchMergeKey`,
//! `listType`/`listMapKey`, `structType` and `mapType` markers of k8s.io/api.

use serde_json::{Value, json};

/// How server-side apply treats a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole and owned as one field (`x-kubernetes-list-type: atomic`, the default).
    Atomic,
    /// A set of primitives, merged by value (`x-kubernetes-list-type: set`), items owned as `v:`.
    Set,
    /// Items identified by these key fields (`x-kubernetes-list-type: map`), owned as `k:`.
    Map(Vec<MapKey>),
}

/// A key field of a keyed list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapKey {
    /// The field name.
    pub name: String,
    /// The value an item that omits the field is keyed by (a schema default, e.g. `protocol: TCP`).
    pub default: Option<Value>,
}

impl MapKey {
    /// A key field without a default.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), default: None }
    }
}

/// Merge metadata of one kind. `path` is the field names from the object root, list indices left
/// out: the containers of a Deployment are `["spec","template","spec","containers"]`, and a path
/// that names a list also stands for that list's items.
pub trait ListKeys {
    /// The strategic-merge-patch merge key of the list at `path`: `None` for a list the patch
    /// replaces, `Some(vec![])` for a list of primitives merged as a set (`patchStrategy: merge`
    /// without a key, like `metadata.finalizers`), otherwise the key fields (the patch uses the first).
    fn merge_key(&self, path: &[&str]) -> Option<Vec<String>>;

    /// How server-side apply treats the list at `path`. By default derived from `merge_key`.
    fn list_type(&self, path: &[&str]) -> ListType {
        match self.merge_key(path) {
            None => ListType::Atomic,
            Some(keys) if keys.is_empty() => ListType::Set,
            Some(keys) => ListType::Map(keys.into_iter().map(MapKey::new).collect()),
        }
    }

    /// Whether the map at `path` (or the items of the list at `path`) is atomic for server-side
    /// apply: replaced whole and owned as one field, like a Deployment's `spec.selector`.
    fn is_atomic_map(&self, _path: &[&str]) -> bool {
        false
    }

    /// Whether `status` is a separate subresource, so that writes to the main resource neither
    /// change nor own it.
    fn status_is_subresource(&self) -> bool {
        true
    }

    /// The object a create is compared against when recording who set which field: the empty
    /// object of the kind as the API server serializes it. Its maps count as already there, so
    /// the creator does not own them as a whole (`.`). A custom resource's is `{}`.
    fn empty_object(&self) -> Value {
        json!({})
    }
}

/// The merge metadata of a built-in kind (Pod, Deployment, Service, ConfigMap, Secret,
/// HorizontalPodAutoscaler, Lease, Event, Namespace). Other kinds get the `metadata` rules only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltinListKeys {
    /// The kind, e.g. `Deployment`.
    pub kind: String,
}

impl BuiltinListKeys {
    /// The merge metadata of `kind`.
    pub fn new(kind: impl Into<String>) -> Self {
        Self { kind: kind.into() }
    }
}

/// How one list merges under each patch type.
#[derive(Clone, Copy, Debug)]
struct ListRule {
    smp: Smp,
    ssa: Ssa,
}

#[derive(Clone, Copy, Debug)]
enum Smp {
    /// No `patchStrategy`: the patch replaces the list.
    Replace,
    /// `patchStrategy: merge` on primitives.
    Set,
    /// `patchStrategy: merge` with this `patchMergeKey`.
    Key(&'static str),
}

#[derive(Clone, Copy, Debug)]
enum Ssa {
    Atomic,
    Set,
    /// Key fields with their defaults.
    Keys(&'static [(&'static str, Option<&'static str>)]),
}

const BY_NAME: ListRule = ListRule { smp: Smp::Key("name"), ssa: Ssa::Keys(&[("name", None)]) };
const BY_TYPE: ListRule = ListRule { smp: Smp::Key("type"), ssa: Ssa::Keys(&[("type", None)]) };
const BY_IP: ListRule = ListRule { smp: Smp::Key("ip"), ssa: Ssa::Keys(&[("ip", None)]) };

fn keyed(smp: &'static str, ssa: &'static [(&'static str, Option<&'static str>)]) -> ListRule {
    ListRule { smp: Smp::Key(smp), ssa: Ssa::Keys(ssa) }
}

/// The lists of `ObjectMeta`.
fn object_meta_list(rest: &[&str]) -> Option<ListRule> {
    match rest {
        ["ownerReferences"] => Some(keyed("uid", &[("uid", None)])),
        ["finalizers"] => Some(ListRule { smp: Smp::Set, ssa: Ssa::Set }),
        _ => None,
    }
}

fn is_container_list(name: &str) -> bool {
    matches!(name, "containers" | "initContainers" | "ephemeralContainers")
}

/// The lists of `PodSpec`.
fn pod_spec_list(rest: &[&str]) -> Option<ListRule> {
    match rest {
        [c] if is_container_list(c) => Some(BY_NAME),
        [c, "ports"] if is_container_list(c) => {
            Some(keyed("containerPort", &[("containerPort", None), ("protocol", Some("TCP"))]))
        }
        [c, "env"] if is_container_list(c) => Some(BY_NAME),
        [c, "volumeMounts"] if is_container_list(c) => Some(keyed("mountPath", &[("mountPath", None)])),
        [c, "volumeDevices"] if is_container_list(c) => Some(keyed("devicePath", &[("devicePath", None)])),
        // `listType=map` without a patch strategy: strategic merge replaces it.
        [c, "resources", "claims"] if is_container_list(c) => {
            Some(ListRule { smp: Smp::Replace, ssa: Ssa::Keys(&[("name", None)]) })
        }
        ["resources", "claims"] => Some(ListRule { smp: Smp::Replace, ssa: Ssa::Keys(&[("name", None)]) }),
        ["volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates"] => Some(BY_NAME),
        ["hostAliases"] => Some(BY_IP),
        ["topologySpreadConstraints"] => {
            Some(keyed("topologyKey", &[("topologyKey", None), ("whenUnsatisfiable", None)]))
        }
        _ => None,
    }
}

/// The atomic structs and maps under `PodSpec`.
fn pod_spec_atomic(rest: &[&str]) -> bool {
    match rest {
        ["nodeSelector" | "imagePullSecrets"] => true,
        ["affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"] => true,
        ["topologySpreadConstraints", "labelSelector"] => true,
        [c, "env", "valueFrom", "configMapKeyRef" | "secretKeyRef" | "fieldRef" | "resourceFieldRef"] => {
            is_container_list(c)
        }
        ["volumes", _, "secretRef" | "nodePublishSecretRef"] => true,
        ["volumes", "ephemeral", "volumeClaimTemplate", "spec", "selector" | "dataSource"] => true,
        ["volumes", "downwardAPI", "items", "fieldRef" | "resourceFieldRef"] => true,
        _ => false,
    }
}

/// The lists of `PodStatus`.
fn pod_status_list(rest: &[&str]) -> Option<ListRule> {
    match rest {
        ["conditions"] => Some(BY_TYPE),
        ["podIPs"] => Some(BY_IP),
        // patchMergeKey=ip but listType=atomic.
        ["hostIPs"] => Some(ListRule { smp: Smp::Key("ip"), ssa: Ssa::Atomic }),
        ["resourceClaimStatuses"] => Some(BY_NAME),
        _ => None,
    }
}

impl BuiltinListKeys {
    /// Where the kind keeps a `PodSpec`, if it has one.
    fn pod_spec_prefix(&self) -> Option<&'static [&'static str]> {
        match self.kind.as_str() {
            "Pod" => Some(&["spec"]),
            "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" => Some(&["spec", "template", "spec"]),
            _ => None,
        }
    }

    /// Where the kind keeps an `ObjectMeta`.
    fn meta_rest<'p>(&self, path: &'p [&'p str]) -> Option<&'p [&'p str]> {
        if let Some(rest) = path.strip_prefix(&["metadata"]) {
            return Some(rest);
        }
        if self.pod_spec_prefix() == Some(&["spec", "template", "spec"]) {
            return path.strip_prefix(&["spec", "template", "metadata"]);
        }
        None
    }

    fn rule(&self, path: &[&str]) -> Option<ListRule> {
        if let Some(rest) = self.meta_rest(path) {
            return object_meta_list(rest);
        }
        if let Some(rest) = self.pod_spec_prefix().and_then(|p| path.strip_prefix(p)) {
            return pod_spec_list(rest);
        }
        match (self.kind.as_str(), path) {
            ("Pod", ["status", rest @ ..]) => pod_status_list(rest),
            ("Service", ["spec", "ports"]) => Some(keyed("port", &[("port", None), ("protocol", Some("TCP"))])),
            (
                "Deployment"
                | "Service"
                | "HorizontalPodAutoscaler"
                | "Namespace"
                | "ReplicaSet"
                | "StatefulSet"
                | "DaemonSet"
                | "Job",
                ["status", "conditions"],
            ) => Some(BY_TYPE),
            _ => None,
        }
    }
}

impl ListKeys for BuiltinListKeys {
    fn merge_key(&self, path: &[&str]) -> Option<Vec<String>> {
        match self.rule(path)?.smp {
            Smp::Replace => None,
            Smp::Set => Some(Vec::new()),
            Smp::Key(key) => Some(vec![key.to_string()]),
        }
    }

    fn list_type(&self, path: &[&str]) -> ListType {
        match self.rule(path).map(|r| r.ssa) {
            None | Some(Ssa::Atomic) => ListType::Atomic,
            Some(Ssa::Set) => ListType::Set,
            Some(Ssa::Keys(keys)) => ListType::Map(
                keys.iter()
                    .map(|(name, default)| MapKey {
                        name: (*name).to_string(),
                        default: default.map(|d| Value::String(d.to_string())),
                    })
                    .collect(),
            ),
        }
    }

    fn is_atomic_map(&self, path: &[&str]) -> bool {
        if let Some(rest) = self.meta_rest(path) {
            // OwnerReference is `structType=atomic`.
            return rest == ["ownerReferences"];
        }
        if let Some(rest) = self.pod_spec_prefix().and_then(|p| path.strip_prefix(p)) {
            return pod_spec_atomic(rest);
        }
        match (self.kind.as_str(), path) {
            // LabelSelector and the Service selector map are atomic.
            ("Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job", ["spec", "selector"]) => true,
            ("Service", ["spec", "selector"]) => true,
            // ObjectReference is atomic.
            ("Event", ["involvedObject" | "related" | "regarding"]) => true,
            _ => false,
        }
    }

    fn empty_object(&self) -> Value {
        // The maps a Go zero value of the kind serializes (non-pointer structs), so that a create
        // does not record them as added, as the API server does.
        match self.kind.as_str() {
            "Pod" => json!({"metadata": {}, "spec": {"containers": null}, "status": {}}),
            "Deployment" => json!({
                "metadata": {},
                "spec": {"selector": null, "template": {"metadata": {}, "spec": {"containers": null}}, "strategy": {}},
                "status": {}
            }),
            "Service" => json!({"metadata": {}, "spec": {}, "status": {"loadBalancer": {}}}),
            "HorizontalPodAutoscaler" => json!({"metadata": {}, "spec": {"scaleTargetRef": {}}, "status": {}}),
            "Lease" => json!({"metadata": {}, "spec": {}}),
            "Event" => json!({"metadata": {}, "involvedObject": {}, "source": {}}),
            "Namespace" => json!({"metadata": {}, "spec": {}, "status": {}}),
            _ => json!({"metadata": {}}),
        }
    }
}

/// The `metadata` rules every kind shares, for custom resources whose schema leaves
/// `metadata` open.
pub(crate) fn object_meta_rules() -> BuiltinListKeys {
    BuiltinListKeys::new("")
}
