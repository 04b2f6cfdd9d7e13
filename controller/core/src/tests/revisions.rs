//! Revisions released while another is under way, after a failure, or back to the promoted one.

use super::*;

#[test]
fn a_new_revision_during_analysis_restarts_it() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(20));
    sim.answer = fail_at(Stage::Analysis);
    sim.after(10);
    assert_eq!(sim.status.failed_checks, Some(1));
    sim.answer = pass();
    sim.release("rev3");
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing);
    assert_eq!(sim.status.canary_weight, Some(0));
    assert_eq!(sim.status.failed_checks, Some(0));
    assert_eq!(sim.status.last_applied_spec.as_deref(), Some("rev3"));
    assert_eq!(sim.events.last().unwrap().0, "RevisionRestarted");
    assert!(sim.events.last().unwrap().1.contains("rev3"));
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(10));
}

#[test]
fn a_new_revision_after_a_failure_always_starts_a_new_analysis() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.answer = fail_at(Stage::Analysis);
    sim.after(1);
    sim.run_until(&[Phase::Failed], 5);
    sim.answer = pass();
    // The primary is busy (for example scaling); the new revision is not absorbed.
    sim.observed.primary = Some(unready("1 of 2 updated replicas are available"));
    sim.release("rev3");
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing);
    assert_eq!(sim.status.last_applied_spec.as_deref(), Some("rev3"));
}

#[test]
fn going_back_to_the_promoted_revision_starts_nothing() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.answer = fail_at(Stage::Analysis);
    sim.after(1);
    sim.run_until(&[Phase::Failed], 5);
    sim.release("rev1");
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Failed);
    assert_eq!(sim.status.last_applied_spec.as_deref(), Some("rev1"));
    assert_eq!(sim.events.last().unwrap().0, "RevisionUnchanged");
    sim.after(10);
    assert_eq!(sim.target, TargetScale::Zero);
}
