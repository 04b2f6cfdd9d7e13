//! Whether a Deployment's current template is rolled out and ready, read from its status as
//! `kubectl rollout status` reads it, with Flagger's ready threshold. Pure.

use fledge_core::Workload;
use k8s_openapi::api::apps::v1::Deployment;

/// The state of a Deployment; `threshold` is the percentage of replicas that must be
/// available (Flagger's `canaryReadyThreshold` / `primaryReadyThreshold`, default 100).
pub fn state(deployment: &Deployment, threshold: Option<i32>) -> Workload {
    let name = deployment.metadata.name.as_deref().unwrap_or_default();
    let spec = deployment.spec.as_ref();
    let status = deployment.status.clone().unwrap_or_default();
    let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
    let generation = deployment.metadata.generation.unwrap_or(0);
    let deadline_exceeded = status.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing" && c.status == "False" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    let not_ready = |message: String| Workload { ready: false, deadline_exceeded, message };
    if status.observed_generation.unwrap_or(0) < generation {
        return not_ready(format!("waiting for the rollout of {name} generation {generation} to be observed"));
    }
    if deadline_exceeded {
        return not_ready(format!("deployment {name} exceeded its progress deadline"));
    }
    if desired == 0 {
        return not_ready(format!("deployment {name} is scaled to zero"));
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let threshold = threshold.filter(|t| (1..=100).contains(t)).unwrap_or(100);
    // Replicas that must be available: the threshold's share of the desired count, rounded up.
    let needed = ((desired * threshold + 99) / 100).max(1);
    if updated < needed {
        return not_ready(format!("{updated} of {desired} updated replicas of {name} are rolled out"));
    }
    if threshold == 100 && total > updated {
        return not_ready(format!("{} old replicas of {name} are pending termination", total - updated));
    }
    if available < needed {
        return not_ready(format!("{available} of {desired} updated replicas of {name} are available"));
    }
    Workload { ready: true, deadline_exceeded: false, message: String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: i32, status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "podinfo", "generation": 2},
            "spec": {"replicas": replicas, "selector": {}, "template": {}},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn a_rolled_out_deployment_is_ready() {
        let d = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert!(state(&d, None).ready);
    }

    #[test]
    fn an_unobserved_generation_is_not_ready() {
        let d = deployment(
            2,
            json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        let w = state(&d, None);
        assert!(!w.ready);
        assert_eq!(w.message, "waiting for the rollout of podinfo generation 2 to be observed");
    }

    #[test]
    fn old_replicas_and_unavailable_ones_are_waited_for() {
        let d = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}),
        );
        assert_eq!(state(&d, None).message, "1 old replicas of podinfo are pending termination");
        let d = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}),
        );
        assert_eq!(state(&d, None).message, "1 of 2 updated replicas of podinfo are available");
    }

    #[test]
    fn a_ready_threshold_accepts_a_share_of_the_replicas() {
        let d = deployment(
            4,
            json!({"observedGeneration": 2, "replicas": 5, "updatedReplicas": 4, "availableReplicas": 2}),
        );
        assert!(state(&d, Some(50)).ready);
        assert!(!state(&d, Some(75)).ready);
    }

    #[test]
    fn kubernetes_giving_up_is_reported() {
        let d = deployment(
            1,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1,
                   "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}),
        );
        let w = state(&d, None);
        assert!(!w.ready && w.deadline_exceeded);
    }

    #[test]
    fn zero_replicas_is_not_ready() {
        let d = deployment(0, json!({"observedGeneration": 2}));
        assert_eq!(state(&d, None).message, "deployment podinfo is scaled to zero");
    }
}
