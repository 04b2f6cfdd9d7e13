//! Promotion: the primary takes the analysed revision, and what happens when it cannot or when a newer revision arrives meanwhile.

use super::*;

#[test]
fn a_primary_that_breaks_after_promotion_never_receives_the_traffic() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Promoting], 10);
    sim.observed.primary = Some(unready("0 of 2 updated replicas are available"));
    for _ in 0..40 {
        sim.after(2);
    }
    assert_eq!(sim.status.phase, Phase::Promoting);
    assert_eq!(sim.status.canary_weight, Some(50), "the canary keeps serving its share");
    assert_eq!(*sim.weights.last().unwrap(), 50);
    assert_eq!(sim.target, TargetScale::Up, "the canary is not scaled down");
    assert_eq!(sim.reasons().iter().filter(|r| **r == "PrimaryNotReady").count(), 1);
    // Abort is refused: the primary already runs the new revision.
    sim.manual.abort = true;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Promoting);
    assert_eq!(sim.removed, vec![ANNOTATION_ABORT]);
    assert!(sim.events.last().unwrap().1.contains("promotion of podinfo.test has started"));
    // Once fixed, promotion finishes.
    sim.observed.primary = Some(ready());
    sim.after(2);
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Succeeded);
}

#[test]
fn a_new_revision_before_the_primary_took_the_analysed_one_restarts_the_analysis() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Promoting], 10);
    // The copy to the primary did not happen (an API error), and rev3 arrives.
    sim.observed.primary_revision = Some("rev1".into());
    sim.release("rev3");
    let d = sim.after(1).clone();
    assert!(!d.promote_primary, "rev3 was never analysed: it must not reach the primary");
    assert_eq!(sim.status.phase, Phase::Progressing);
    assert_eq!(sim.status.last_applied_spec.as_deref(), Some("rev3"));
    assert_eq!(sim.status.canary_weight, Some(0));
    assert_eq!(sim.reasons().last(), Some(&"RevisionRestarted"));
}

#[test]
fn a_new_revision_during_the_primary_rollout_gets_no_traffic_and_waits_its_turn() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Promoting], 10);
    sim.observed.primary = Some(unready("1 of 2 updated replicas are available"));
    sim.after(1);
    assert_eq!(sim.observed.primary_revision.as_deref(), Some("rev2"));
    sim.release("rev3");
    let d = sim.after(1).clone();
    assert_eq!(d.canary_weight, 0, "the canary now runs rev3, which nobody analysed");
    assert!(!d.promote_primary);
    assert_eq!(sim.status.phase, Phase::Promoting);
    // The primary finishes rolling out rev2: rev2 is promoted, then rev3 gets its own run.
    sim.observed.primary = Some(ready());
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Succeeded);
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev2"));
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing);
    assert_eq!(sim.status.last_applied_spec.as_deref(), Some("rev3"));
}

#[test]
fn a_fix_released_while_the_primary_is_stuck_is_analysed() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Promoting], 10);
    sim.observed.primary = Some(unready("0 of 2 updated replicas are available"));
    sim.after(61);
    assert_eq!(sim.status.phase, Phase::Promoting);
    sim.release("rev3");
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing, "{:?}", sim.events);
    assert_eq!(sim.status.last_applied_spec.as_deref(), Some("rev3"));
    assert_eq!(sim.status.canary_weight, Some(0));
}

#[test]
fn a_step_weight_promotion_slower_than_the_deadline_is_not_taken_for_a_stuck_primary() {
    // Five promotion steps of 30s: 150s, against a deadline of 60s.
    let mut sim = Sim::initialized(spec("analysisExtra: {interval: 30s, stepWeightPromotion: 10}"));
    sim.release("rev2");
    sim.after(1);
    for _ in 0..10 {
        if sim.status.phase == Phase::Promoting {
            break;
        }
        sim.after(30);
    }
    assert_eq!(sim.status.phase, Phase::Promoting);
    sim.observed.primary = Some(ready());
    sim.after(0);
    sim.after(1);
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev2"), "recorded once the primary runs it");
    for _ in 0..3 {
        sim.after(30);
    }
    assert_eq!(sim.status.canary_weight, Some(20));
    // The primary's autoscaler adds pods as traffic comes back: briefly not ready, 90s after
    // the promotion started.
    sim.observed.primary = Some(unready("2 of 3 updated replicas are available"));
    sim.after(5);
    assert!(!sim.reasons().contains(&"PrimaryNotReady"), "{:?}", sim.events);
    // And a new revision arrives meanwhile: the promotion of rev2 is not lost.
    sim.release("rev3");
    sim.after(5);
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev2"));
    sim.observed.primary = Some(ready());
    sim.run_until(&[Phase::Succeeded, Phase::Progressing], 10);
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev2"));
}

#[test]
fn a_primary_given_a_revision_by_something_else_is_reported_once() {
    let mut sim = Sim::initialized(spec(""));
    sim.observed.primary_revision = Some("edited".into());
    sim.after(1);
    sim.after(1);
    let said: Vec<_> = sim.events.iter().filter(|(r, _)| *r == "PrimaryRevisionChanged").collect();
    assert_eq!(said.len(), 1, "{:?}", sim.events);
    assert_eq!(
        said[0].1,
        "Primary podinfo-primary.test has revision edited, but the status records rev1 as promoted; Fledge did not \
         give it that revision"
    );
    let condition = conditions::get(&sim.status, conditions::PRIMARY_REVISION).unwrap();
    assert_eq!((condition.status, condition.reason.as_str()), (ConditionStatus::False, "Unexpected"));
    sim.observed.primary_revision = Some("rev1".into());
    sim.after(1);
    assert!(conditions::get(&sim.status, conditions::PRIMARY_REVISION).is_none());
}

#[test]
fn a_fix_released_while_the_primary_is_stuck_is_not_reported_as_a_foreign_primary_revision() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Promoting], 10);
    sim.observed.primary = Some(unready("0 of 2 updated replicas are available"));
    sim.after(0);
    sim.after(61);
    sim.release("rev3");
    sim.after(2);
    assert_eq!(sim.status.phase, Phase::Progressing, "{:?}", sim.events);
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev2"), "the primary has what Fledge gave it");
    assert!(!sim.reasons().contains(&"PrimaryRevisionChanged"), "{:?}", sim.events);
}
