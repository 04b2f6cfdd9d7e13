//! What the status says of the spec itself (the `SpecValid` condition): Fledge cannot act on a
//! spec with errors, or on a target it cannot use, and says so once per distinct problem;
//! warnings are kept beside a spec it acts on. Pure.

use crate::conditions::{self, SPEC_VALID};
use crate::{Event, EventType};
use fledge_crds::canary::{CanaryStatus, ConditionStatus};
use k8s_openapi::jiff::Timestamp;

/// A spec Fledge can act on: `SpecValid` True with its `warnings`, or no condition without any.
pub fn accepted(status: &mut CanaryStatus, warnings: &[String], now: Timestamp) {
    if warnings.is_empty() {
        conditions::clear(status, SPEC_VALID);
    } else {
        conditions::set(status, SPEC_VALID, ConditionStatus::True, "Warnings", &warnings.join("; "), now);
    }
}

/// A spec Fledge cannot act on, and why: `SpecValid` False, and the `generation` it was read
/// from observed. Returns the Warning event to publish when the problem is new (a person acts
/// on it, then the Canary changes; the same problem is not said again on every pass).
pub fn refused(status: &mut CanaryStatus, generation: Option<i64>, why: &str, now: Timestamp) -> Option<Event> {
    let said = conditions::get(status, SPEC_VALID).is_some_and(|c| c.message.as_deref() == Some(why));
    conditions::set(status, SPEC_VALID, ConditionStatus::False, "InvalidSpec", why, now);
    status.observed_generation = generation;
    (!said).then(|| Event { type_: EventType::Warning, reason: "InvalidSpec", message: why.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + second).unwrap()
    }

    #[test]
    fn warnings_are_kept_beside_a_valid_spec_and_go_with_them() {
        let mut status = CanaryStatus::default();
        accepted(&mut status, &["spec.a: x".into(), "spec.b: y".into()], at(0));
        let c = conditions::get(&status, SPEC_VALID).unwrap();
        assert_eq!((c.status, c.reason.as_str()), (ConditionStatus::True, "Warnings"));
        assert_eq!(c.message.as_deref(), Some("spec.a: x; spec.b: y"));
        accepted(&mut status, &[], at(1));
        assert!(status.conditions.is_none());
    }

    #[test]
    fn a_refused_spec_is_said_once_per_problem() {
        let mut status = CanaryStatus::default();
        let said = refused(&mut status, Some(3), "spec.service.port: must be set", at(0));
        assert_eq!(said.map(|e| (e.type_, e.reason)), Some((EventType::Warning, "InvalidSpec")));
        assert_eq!(status.observed_generation, Some(3));
        let c = conditions::get(&status, SPEC_VALID).unwrap();
        assert_eq!((c.status, c.reason.as_str()), (ConditionStatus::False, "InvalidSpec"));
        assert!(refused(&mut status, Some(3), "spec.service.port: must be set", at(1)).is_none());
        assert!(refused(&mut status, Some(4), "spec.analysis.interval: not a duration", at(2)).is_some());
    }
}
