//! Who a pod is to the mesh: the identity Istio's metadata exchange carries between sidecars, from which the
//! `source_*` and `destination_*` metric labels come.

use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeMap;

/// Metric label value Istio writes when it does not know.
pub const UNKNOWN: &str = "unknown";

/// Label or annotation that keeps Istio's sidecar out of a pod when `"false"`.
const INJECT: &str = "sidecar.istio.io/inject";

/// The mesh identity of one pod.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Workload {
    /// The pod's name.
    pub pod: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The workload: the Deployment (or other controller) that owns the pod, else the pod itself.
    pub name: String,
    /// The pod's labels.
    pub labels: BTreeMap<String, String>,
    /// The pod's service account, part of its mTLS identity.
    pub service_account: String,
    /// The pod's IP (a stable made-up one when the pod has none yet).
    pub ip: String,
    /// Whether an Istio sidecar runs in the pod; without one the pod neither routes by VirtualService nor reports.
    pub sidecar: bool,
}

impl Workload {
    /// The identity of `pod`.
    pub fn of_pod(pod: &Pod) -> Self {
        let meta = &pod.metadata;
        let labels = meta.labels.clone().unwrap_or_default();
        let opted_out = |map: &Option<BTreeMap<String, String>>| {
            map.as_ref().and_then(|m| m.get(INJECT)).is_some_and(|v| v.eq_ignore_ascii_case("false"))
        };
        Self {
            pod: meta.name.clone().unwrap_or_default(),
            namespace: meta.namespace.clone().unwrap_or_else(|| "default".to_owned()),
            name: workload_name(pod),
            service_account: pod
                .spec
                .as_ref()
                .and_then(|s| s.service_account_name.clone())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "default".to_owned()),
            ip: pod_ip(pod),
            sidecar: !opted_out(&meta.labels) && !opted_out(&meta.annotations),
            labels,
        }
    }

    fn label(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.labels.get(*k)).map(String::as_str)
    }

    /// The `app` label as Istio reports it (`source_app`, `destination_app`).
    pub fn app(&self) -> &str {
        self.label(&["app", "app.kubernetes.io/name"]).unwrap_or(UNKNOWN)
    }

    /// The `version` label as Istio reports it (`source_version`, `destination_version`).
    pub fn version(&self) -> &str {
        self.label(&["version", "app.kubernetes.io/version"]).unwrap_or(UNKNOWN)
    }

    /// Istio's canonical service: its label, else the app's name, else the workload.
    pub fn canonical_service(&self) -> &str {
        self.label(&["service.istio.io/canonical-name", "app.kubernetes.io/name", "app"]).unwrap_or(&self.name)
    }

    /// Istio's canonical revision: its label, else the version, else `latest`.
    pub fn canonical_revision(&self) -> &str {
        self.label(&["service.istio.io/canonical-revision", "app.kubernetes.io/version", "version"]).unwrap_or("latest")
    }

    /// The SPIFFE identity of the pod's mTLS certificate.
    pub fn principal(&self) -> String {
        format!("spiffe://cluster.local/ns/{}/sa/{}", self.namespace, self.service_account)
    }
}

/// The workload name Istio gives a pod: a ReplicaSet owner named `<deployment>-<pod-template-hash>` stands for
/// its Deployment, another controller for itself; a pod without a controller but with a `pod-template-hash`
/// label and a name `<deployment>-<hash>-<suffix>` is taken as the Deployment's too; otherwise the pod's name.
pub fn workload_name(pod: &Pod) -> String {
    let meta = &pod.metadata;
    let name = meta.name.clone().unwrap_or_default();
    let hash = meta.labels.as_ref().and_then(|l| l.get("pod-template-hash")).filter(|h| !h.is_empty());
    let controller = meta.owner_references.iter().flatten().find(|r| r.controller == Some(true));
    if let Some(owner) = controller {
        if owner.kind == "ReplicaSet"
            && let Some(deployment) = hash.and_then(|h| owner.name.strip_suffix(&format!("-{h}")))
        {
            return deployment.to_owned();
        }
        return owner.name.clone();
    }
    if let Some(hash) = hash
        && let Some(at) = name.find(&format!("-{hash}-"))
    {
        return name[..at].to_owned();
    }
    name
}

/// The pod's IP, or a stable made-up one in 10.244.0.0/16 from its namespace and name when it has none.
pub fn pod_ip(pod: &Pod) -> String {
    if let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.clone()).filter(|ip| !ip.is_empty()) {
        return ip;
    }
    let meta = &pod.metadata;
    made_up_ip("10.244", &format!("{}/{}", meta.namespace.as_deref().unwrap_or(""), meta.name.as_deref().unwrap_or("")))
}

/// A stable address `<prefix>.x.y` for `key`, avoiding network and broadcast addresses.
pub(super) fn made_up_ip(prefix: &str, key: &str) -> String {
    // FNV-1a: stable across runs and platforms, unlike std's hasher.
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{prefix}.{}.{}", (hash >> 8) % 256, hash % 254 + 1)
}

/// Whether the pod's `Ready` condition is `True`.
pub fn is_ready(pod: &Pod) -> bool {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.into_iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Whether the pod is being deleted.
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Whether the pod's phase is `Running`.
pub fn is_running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn pod(name: &str, hash: Option<&str>, owner: Option<(&str, &str)>) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.into());
        pod.metadata.namespace = Some("test".into());
        if let Some(hash) = hash {
            pod.metadata.labels = Some([("pod-template-hash".to_owned(), hash.to_owned())].into());
        }
        if let Some((kind, owner)) = owner {
            pod.metadata.owner_references = Some(vec![OwnerReference {
                kind: kind.into(),
                name: owner.into(),
                controller: Some(true),
                ..Default::default()
            }]);
        }
        pod
    }

    #[test]
    fn a_replica_set_stands_for_its_deployment() {
        let p = pod("podinfo-primary-7d9f8b-abcde", Some("7d9f8b"), Some(("ReplicaSet", "podinfo-primary-7d9f8b")));
        assert_eq!(workload_name(&p), "podinfo-primary");
    }

    #[test]
    fn without_an_owner_the_hash_label_and_name_give_the_deployment() {
        assert_eq!(workload_name(&pod("podinfo-primary-7d9f8b-abcde", Some("7d9f8b"), None)), "podinfo-primary");
        assert_eq!(workload_name(&pod("podinfo-7d9f8b-abcde", None, None)), "podinfo-7d9f8b-abcde");
    }

    #[test]
    fn other_controllers_and_bare_pods_keep_their_names() {
        assert_eq!(workload_name(&pod("web-0", None, Some(("StatefulSet", "web")))), "web");
        assert_eq!(workload_name(&pod("rs-x-1", Some("zzz"), Some(("ReplicaSet", "rs-x")))), "rs-x");
        assert_eq!(workload_name(&pod("curl", None, None)), "curl");
    }

    #[test]
    fn identity_labels_fall_back_like_istio() {
        let mut p = pod("podinfo-1-a", None, None);
        p.metadata.labels = Some([("app".to_owned(), "podinfo".to_owned())].into());
        let w = Workload::of_pod(&p);
        assert_eq!(
            (w.app(), w.version(), w.canonical_service(), w.canonical_revision()),
            ("podinfo", UNKNOWN, "podinfo", "latest")
        );
        assert_eq!(w.principal(), "spiffe://cluster.local/ns/test/sa/default");
        assert!(w.sidecar);
        assert_eq!(w.ip, pod_ip(&p), "made-up IPs are stable");
        assert!(w.ip.starts_with("10.244."));
    }
}
