//! The objects Fledge writes for a Canary (primary Deployment, config copies, Services, Istio
//! routes, primary HPA), built as plain values from the Canary and what was observed. No I/O:
//! the caller reads the inputs and applies the results with server-side apply.

mod autoscaler;
mod configs;
mod primary;
mod routes;
mod services;
mod unmanaged;

pub use autoscaler::primary_hpa;
pub use configs::{
    ConfigKind, ConfigRefs, config_map_hash, is_tracked, is_tracked_secret, primary_config_map, primary_secret,
    referenced_configs, secret_hash, tracked_config_key,
};
pub use primary::{primary_deployment, selector_label};
pub use routes::{Routing, destination_rules, route_weights, virtual_service, virtual_service_routed};
pub use services::services;
pub use unmanaged::Unmanaged;

use fledge_crds::canary::Canary;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use std::collections::BTreeMap;

/// The field manager of every server-side apply Fledge makes.
pub const FIELD_MANAGER: &str = "fledge";

/// Suffix of the stable copy of the target and of its Service, DestinationRule and configs.
pub const PRIMARY_SUFFIX: &str = "-primary";
/// Suffix of the Service and DestinationRule that reach the target's (canary) pods.
pub const CANARY_SUFFIX: &str = "-canary";

/// Annotations that describe the source object itself and must not be carried to a copy:
/// kubectl's three-way-merge record would make `kubectl apply` on the copy misbehave, and the
/// Deployment controller's revision counter belongs to the object it was written on.
const NOT_COPIED_ANNOTATIONS: [&str; 2] =
    ["kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision"];

/// Names of everything derived from a Canary (target Deployment `podinfo`, apex `podinfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The target Deployment, `spec.targetRef.name` (`podinfo`).
    pub target: String,
    /// The primary Deployment (`podinfo-primary`).
    pub primary: String,
    /// The apex Service and the VirtualService, `spec.service.name` or the target's name.
    pub apex: String,
    /// The Service and DestinationRule of the primary pods (`<apex>-primary`).
    pub primary_service: String,
    /// The Service and DestinationRule of the canary pods (`<apex>-canary`).
    pub canary_service: String,
}

impl Names {
    /// The names derived from `canary`'s spec.
    pub fn of(canary: &Canary) -> Self {
        let target = canary.spec.target_ref.name.clone();
        let apex = canary.spec.apex_name().to_owned();
        Self {
            primary: format!("{target}{PRIMARY_SUFFIX}"),
            primary_service: format!("{apex}{PRIMARY_SUFFIX}"),
            canary_service: format!("{apex}{CANARY_SUFFIX}"),
            target,
            apex,
        }
    }
}

/// The controller owner reference to `canary` that every object Fledge creates carries, so the
/// garbage collector removes them with the Canary. `None` when the Canary has no uid yet (it
/// was not read from the API server).
pub fn owner_reference(canary: &Canary) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: Canary::api_version(&()).into_owned(),
        kind: Canary::kind(&()).into_owned(),
        name: canary.metadata.name.clone()?,
        uid: canary.metadata.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// A Canary whose objects cannot be built; each message names the field to fix.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum ObjectError {
    /// `spec.service` is missing; Istio routing needs its port.
    #[error("spec.service: required for Istio")]
    MissingService,
    /// `spec.service.port` is not a TCP/UDP port number.
    #[error("spec.service.port: {0} is not a port number (1-65535)")]
    InvalidPort(i32),
    /// Hosts or gateways were given for a delegate VirtualService, which may have neither.
    #[error("spec.service.{field}: must be empty with delegation: true")]
    DelegationWith {
        /// `hosts` or `gateways`.
        field: &'static str,
    },
    /// The target's selector has no label Fledge can rewrite for the primary.
    #[error(
        "Deployment {namespace}/{name}: spec.selector.matchLabels has none of the labels {labels} (the controller's --selector-labels)"
    )]
    NoSelectorLabel {
        /// Namespace of the target.
        namespace: String,
        /// Name of the target.
        name: String,
        /// The selector labels looked for, as a person reads them (`app, name, ...`).
        labels: String,
    },
}

/// Metadata of an object Fledge builds for `canary`: the name, the Canary's namespace and the
/// Canary as controller owner; nothing the server sets (uid, resourceVersion, ...).
pub(crate) fn owned_meta(canary: &Canary, name: impl Into<String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: canary.metadata.namespace.clone(),
        owner_references: owner_reference(canary).map(|r| vec![r]),
        ..ObjectMeta::default()
    }
}

/// `annotations` without the ones that only make sense on the object they were read from.
pub(crate) fn copied_annotations(annotations: Option<&BTreeMap<String, String>>) -> Option<BTreeMap<String, String>> {
    let kept: BTreeMap<_, _> = annotations?
        .iter()
        .filter(|(k, _)| !NOT_COPIED_ANNOTATIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!kept.is_empty()).then_some(kept)
}

/// `map` as an optional field: `None` when empty, so an empty map is not written (and owned).
pub(crate) fn non_empty(map: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then_some(map)
}

/// Shared fixtures of the builders' tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use fledge_crds::canary::Canary;
    use k8s_openapi::api::apps::v1::Deployment;

    /// A Canary from YAML; `metadata` defaults to `podinfo` in `test` with a uid.
    pub fn mk_canary(yaml: &str) -> Canary {
        let mut value: serde_json::Value = serde_norway::from_str(yaml).expect("canary YAML");
        let object = value.as_object_mut().expect("a YAML mapping");
        object.entry("apiVersion").or_insert("fledge.dev/v1beta1".into());
        object.entry("kind").or_insert("Canary".into());
        let meta = object.entry("metadata").or_insert(serde_json::json!({})).as_object_mut().expect("metadata");
        meta.entry("name").or_insert("podinfo".into());
        meta.entry("namespace").or_insert("test".into());
        meta.entry("uid").or_insert("0000-uid".into());
        serde_json::from_value(value).expect("a Canary")
    }

    /// The usual Canary: target `podinfo`, port 9898.
    pub fn podinfo_canary() -> Canary {
        mk_canary(
            "
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis: {interval: 1m, stepWeight: 10}
",
        )
    }

    /// A Deployment from YAML.
    pub fn mk_deployment(yaml: &str) -> Deployment {
        serde_norway::from_str(yaml).expect("deployment YAML")
    }

    /// The podinfo Deployment as a user would apply it, plus what the server adds.
    pub fn podinfo_deployment() -> Deployment {
        mk_deployment(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: test
  uid: dep-uid
  resourceVersion: "42"
  labels: {app: podinfo, team: web}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
    deployment.kubernetes.io/revision: "3"
    owner: web-team
spec:
  replicas: 0
  minReadySeconds: 3
  revisionHistoryLimit: 5
  progressDeadlineSeconds: 60
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 0}}
  selector:
    matchLabels: {app: podinfo, tier: backend}
  template:
    metadata:
      labels: {app: podinfo, tier: backend}
      annotations: {prometheus.io/scrape: "true"}
    spec:
      volumes:
        - name: config
          configMap: {name: podinfo-config}
        - name: untracked
          configMap: {name: shared-config}
        - name: tls
          secret: {secretName: podinfo-tls}
        - name: bundle
          projected:
            sources:
              - configMap: {name: podinfo-bundle}
              - secret: {name: podinfo-bundle-secret}
              - serviceAccountToken: {path: token}
      initContainers:
        - name: init
          image: busybox
          envFrom:
            - configMapRef: {name: podinfo-init}
      containers:
        - name: podinfod
          image: ghcr.io/stefanprodan/podinfo:6.0.0
          ports:
            - {name: http, containerPort: 9898}
            - {name: http-metrics, containerPort: 9797}
            - {containerPort: 9999, protocol: UDP}
          env:
            - name: PODINFO_UI_COLOR
              valueFrom: {configMapKeyRef: {name: podinfo-env, key: color}}
            - name: TOKEN
              valueFrom: {secretKeyRef: {name: podinfo-token, key: token}}
            - name: PLAIN
              value: x
          envFrom:
            - secretRef: {name: podinfo-secret-env}
        - name: istio-proxy
          image: istio/proxyv2
          ports:
            - {name: http-envoy-prom, containerPort: 15090}
status:
  replicas: 0
"#,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn names_follow_the_target_and_the_apex() {
        let names = Names::of(&podinfo_canary());
        assert_eq!(names.target, "podinfo");
        assert_eq!(names.primary, "podinfo-primary");
        assert_eq!(names.apex, "podinfo");
        assert_eq!(names.primary_service, "podinfo-primary");
        assert_eq!(names.canary_service, "podinfo-canary");

        let renamed = mk_canary(
            "
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {name: frontend, port: 80}
  analysis: {stepWeight: 10}
",
        );
        let names = Names::of(&renamed);
        assert_eq!(names.primary, "podinfo-primary");
        assert_eq!((names.apex.as_str(), names.primary_service.as_str()), ("frontend", "frontend-primary"));
        assert_eq!(names.canary_service, "frontend-canary");
    }

    #[test]
    fn owner_reference_is_a_blocking_controller_reference() {
        let owner = serde_json::to_value(owner_reference(&podinfo_canary()).unwrap()).unwrap();
        assert_eq!(
            owner,
            serde_json::json!({
                "apiVersion": "fledge.dev/v1beta1", "kind": "Canary", "name": "podinfo", "uid": "0000-uid",
                "controller": true, "blockOwnerDeletion": true
            })
        );

        let mut unsaved = podinfo_canary();
        unsaved.metadata.uid = None;
        assert_eq!(owner_reference(&unsaved), None);
    }

    #[test]
    fn error_messages_name_the_field() {
        assert_eq!(ObjectError::MissingService.to_string(), "spec.service: required for Istio");
        assert_eq!(
            ObjectError::DelegationWith { field: "hosts" }.to_string(),
            "spec.service.hosts: must be empty with delegation: true"
        );
        assert_eq!(
            ObjectError::NoSelectorLabel {
                namespace: "test".into(),
                name: "podinfo".into(),
                labels: "app, name, app.kubernetes.io/name".into()
            }
            .to_string(),
            "Deployment test/podinfo: spec.selector.matchLabels has none of the labels app, name, \
             app.kubernetes.io/name (the controller's --selector-labels)"
        );
    }
}
