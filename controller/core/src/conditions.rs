//! Conditions on the status, written so that a condition changes only when its meaning does:
//! `lastTransitionTime` moves when the status flips, `lastUpdateTime` when the reason or the
//! message changes, and nothing moves otherwise (a status that changes on every pass is a hot
//! loop). Pure.

use fledge_crds::canary::{CanaryCondition, CanaryStatus, ConditionStatus, Phase};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// Flagger's condition: whether the current revision is promoted.
pub const PROMOTED: &str = "Promoted";
/// Whether Fledge can act on the spec: False with the problems when it cannot (see
/// [`spec_valid`](crate::spec_valid)).
pub const SPEC_VALID: &str = "SpecValid";
/// Whether the Canary is suspended.
pub const SUSPENDED: &str = "Suspended";
/// The last manual annotation acted on or refused, and what came of it.
pub const MANUAL_ACTION: &str = "ManualAction";
/// Whether `analysis.windows` let the rollout advance now, and when that changes.
pub const ROLLOUT_WINDOW: &str = "RolloutWindow";
/// Set (False) while the primary has a revision other than the one the status records as
/// promoted, outside a promotion.
pub const PRIMARY_REVISION: &str = "PrimaryRevision";

/// Set a condition, keeping its times unless something changed.
pub fn set(
    status: &mut CanaryStatus,
    type_: &str,
    truth: ConditionStatus,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let message = (!message.is_empty()).then(|| message.to_owned());
    match conditions.iter_mut().find(|c| c.r#type == type_) {
        Some(c) if c.status == truth && c.reason == reason && c.message == message => {}
        Some(c) => {
            if c.status != truth {
                c.last_transition_time = Some(Time(now));
            }
            c.status = truth;
            c.reason = reason.to_owned();
            c.message = message;
            c.last_update_time = Some(Time(now));
        }
        None => conditions.push(CanaryCondition {
            r#type: type_.to_owned(),
            status: truth,
            reason: reason.to_owned(),
            message,
            last_transition_time: Some(Time(now)),
            last_update_time: Some(Time(now)),
        }),
    }
}

/// Remove a condition.
pub fn clear(status: &mut CanaryStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.r#type != type_);
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

/// The condition of a type, if set.
pub fn get<'a>(status: &'a CanaryStatus, type_: &str) -> Option<&'a CanaryCondition> {
    status.conditions.as_deref().unwrap_or_default().iter().find(|c| c.r#type == type_)
}

/// The status of Flagger's `Promoted` condition in a phase.
pub fn promoted_status(phase: Phase) -> ConditionStatus {
    match phase {
        Phase::Initialized | Phase::Succeeded => ConditionStatus::True,
        Phase::Failed => ConditionStatus::False,
        _ => ConditionStatus::Unknown,
    }
}

/// Flagger's message of the `Promoted` condition in a phase.
pub fn promoted_message(phase: Phase) -> &'static str {
    match phase {
        Phase::Unset | Phase::Initializing => "Deployment initialization in progress.",
        Phase::Initialized => "Deployment initialization completed.",
        Phase::Waiting => "Waiting for approval.",
        Phase::Progressing => "New revision detected, progressing canary analysis.",
        Phase::WaitingPromotion => "Canary analysis completed, waiting for promotion approval.",
        Phase::Promoting => "Canary analysis completed, starting primary rolling update.",
        Phase::Finalising => "Canary analysis completed, routing all traffic to primary.",
        Phase::Succeeded => "Canary analysis completed successfully, promotion finished.",
        Phase::Failed => "Canary analysis failed, Deployment scaled to zero.",
        Phase::Terminating => "Canary is being deleted, reverting its changes.",
        Phase::Terminated => "Canary deleted, its changes reverted.",
    }
}
