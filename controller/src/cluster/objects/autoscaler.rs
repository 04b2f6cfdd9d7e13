//! The primary's HorizontalPodAutoscaler (`autoscaling/v2`): a copy of the target's that scales
//! the primary Deployment instead. No I/O.

use super::{Names, PRIMARY_SUFFIX, copied_annotations, non_empty, owned_meta};
use crate::cluster::rules::LabelPrefixes;
use fledge_crds::canary::Canary;
use k8s_openapi::api::autoscaling::v2::{CrossVersionObjectReference, HorizontalPodAutoscaler};

/// The HPA `<target HPA name>-primary`, complete for server-side apply: the target HPA's
/// metrics, behavior and replica bounds, scaling `apps/v1` Deployment `<target>-primary`, with
/// `spec.autoscalerRef.primaryScalerReplicas` overriding the bounds it sets.
/// Its labels are the target HPA's that `copied` lets through.
pub fn primary_hpa(
    canary: &Canary,
    target_hpa: &HorizontalPodAutoscaler,
    copied: &LabelPrefixes,
) -> HorizontalPodAutoscaler {
    let source_name = target_hpa
        .metadata
        .name
        .clone()
        .or_else(|| canary.spec.autoscaler_ref.as_ref().map(|r| r.name.clone()))
        .unwrap_or_default();
    let mut spec = target_hpa.spec.clone().unwrap_or_default();
    spec.scale_target_ref = CrossVersionObjectReference {
        api_version: Some("apps/v1".to_owned()),
        kind: "Deployment".to_owned(),
        name: Names::of(canary).primary,
    };
    let bounds = canary.spec.autoscaler_ref.as_ref().and_then(|r| r.primary_scaler_replicas.as_ref());
    if let Some(bounds) = bounds {
        if let Some(min) = bounds.min_replicas {
            spec.min_replicas = Some(min);
        }
        if let Some(max) = bounds.max_replicas {
            spec.max_replicas = max;
        }
    }

    let mut metadata = owned_meta(canary, format!("{source_name}{PRIMARY_SUFFIX}"));
    metadata.labels = non_empty(copied.filter(target_hpa.metadata.labels.as_ref()));
    metadata.annotations = copied_annotations(target_hpa.metadata.annotations.as_ref());
    HorizontalPodAutoscaler { metadata, spec: Some(spec), status: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::fixtures::*;
    use serde_json::json;

    fn target_hpa() -> HorizontalPodAutoscaler {
        serde_norway::from_str(
            r#"
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: podinfo-hpa
  namespace: test
  uid: hpa-uid
  resourceVersion: "5"
  labels: {app: podinfo}
  annotations: {kubectl.kubernetes.io/last-applied-configuration: "{}"}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  minReplicas: 2
  maxReplicas: 4
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 99}}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 60}
status:
  currentReplicas: 2
  desiredReplicas: 2
"#,
        )
        .unwrap()
    }

    #[test]
    fn primary_hpa_scales_the_primary_with_the_same_policy() {
        let hpa = serde_json::to_value(primary_hpa(&podinfo_canary(), &target_hpa(), &LabelPrefixes::All)).unwrap();
        assert_eq!(hpa["apiVersion"], "autoscaling/v2");
        assert_eq!(hpa["kind"], "HorizontalPodAutoscaler");
        assert_eq!(
            hpa["metadata"],
            json!({
                "name": "podinfo-hpa-primary", "namespace": "test", "labels": {"app": "podinfo"},
                "ownerReferences": [{"apiVersion": "fledge.dev/v1beta1", "kind": "Canary", "name": "podinfo",
                    "uid": "0000-uid", "controller": true, "blockOwnerDeletion": true}]
            })
        );
        assert_eq!(
            hpa["spec"],
            json!({
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo-primary"},
                "minReplicas": 2,
                "maxReplicas": 4,
                "metrics": [{"type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 99}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}
            })
        );
        assert_eq!(hpa.get("status"), None);
    }

    #[test]
    fn primary_scaler_replicas_override_the_bounds() {
        let canary = mk_canary(
            "
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  autoscalerRef:
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    name: podinfo-hpa
    primaryScalerReplicas: {minReplicas: 3, maxReplicas: 10}
  service: {port: 9898}
  analysis: {stepWeight: 10}
",
        );
        let spec = primary_hpa(&canary, &target_hpa(), &LabelPrefixes::All).spec.unwrap();
        assert_eq!((spec.min_replicas, spec.max_replicas), (Some(3), 10));

        let only_max = mk_canary(
            "
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  autoscalerRef:
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    name: podinfo-hpa
    primaryScalerReplicas: {maxReplicas: 6}
  analysis: {stepWeight: 10}
",
        );
        let spec = primary_hpa(&only_max, &target_hpa(), &LabelPrefixes::All).spec.unwrap();
        assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 6));
    }
}
