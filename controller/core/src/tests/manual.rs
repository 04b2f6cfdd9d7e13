//! Manual control by annotation: promote, abort, retry, and annotations that make no sense now.

use super::*;

#[test]
fn abort_rolls_back_at_once_and_is_removed() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.after(10);
    sim.manual.abort = true;
    let d = sim.after(1).clone();
    assert_eq!(d.canary_weight, 0);
    assert_eq!(sim.status.phase, Phase::Failed);
    assert_eq!(sim.promoted().reason, "Aborted");
    assert_eq!(sim.removed, vec![ANNOTATION_ABORT]);
    assert!(sim.notices.contains(&NoticeKind::Manual));
    let trace = sim.status.conditions.as_ref().unwrap().iter().find(|c| c.r#type == "ManualAction").unwrap();
    assert_eq!(trace.reason, "Aborted");
    assert_eq!(trace.message.as_deref(), Some("fledge.dev/abort=true acted on in phase Progressing"));
    assert!(sim.events.iter().any(|(r, m)| *r == "RolledBack" && m.contains("aborted by fledge.dev/abort=true")));
    // The reason stays while the canary stays Failed.
    sim.after(30);
    assert_eq!(sim.promoted().reason, "Aborted");
}

#[test]
fn abort_while_waiting_does_not_start_the_revision_again() {
    let mut sim = Sim::initialized(spec(""));
    sim.answer = fail_at(Stage::ConfirmRollout);
    sim.release("rev2");
    sim.after(1);
    sim.manual.abort = true;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Failed);
    sim.answer = pass();
    sim.after(30);
    assert_eq!(sim.status.phase, Phase::Failed);
    sim.manual.retry = true;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing);
}

#[test]
fn promote_skips_the_remaining_steps_and_gates() {
    let mut sim = Sim::initialized(spec(""));
    sim.answer = fail_at(Stage::ConfirmPromotion);
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.manual.promote = true;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Promoting);
    assert_eq!(sim.removed, vec![ANNOTATION_PROMOTE]);
    assert!(!sim.last.as_ref().unwrap().promote_primary);
    sim.after(0);
    assert!(sim.last.as_ref().unwrap().promote_primary);
    assert_eq!(sim.reasons().last(), Some(&"Promoting"));
    assert!(sim.reasons().contains(&"ManualPromotion"));
    sim.observed.primary = Some(ready());
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Succeeded);
}

#[test]
fn promote_while_waiting_for_approval_passes_the_gate() {
    let mut sim = Sim::initialized(spec(""));
    sim.answer = fail_at(Stage::ConfirmRollout);
    sim.release("rev2");
    sim.after(1);
    sim.manual.promote = true;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Promoting);
    assert_eq!(sim.status.last_applied_spec.as_deref(), Some("rev2"));
}

#[test]
fn retry_restarts_the_analysis_of_a_failed_revision() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.answer = fail_at(Stage::Analysis);
    sim.after(1);
    sim.run_until(&[Phase::Failed], 5);
    sim.answer = pass();
    sim.manual.retry = true;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing);
    assert_eq!(sim.target, TargetScale::Up);
    assert_eq!(sim.status.failed_checks, Some(0));
    assert_eq!(sim.removed, vec![ANNOTATION_RETRY]);
    assert_eq!(sim.reasons().iter().filter(|r| **r == "Retry").count(), 1);
    sim.run_until(&[Phase::Succeeded, Phase::Promoting], 10);
}

#[test]
fn annotations_that_make_no_sense_are_removed_with_a_warning() {
    let mut sim = Sim::initialized(spec(""));
    sim.manual = Manual { promote: true, abort: true, retry: true };
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Initialized);
    assert_eq!(sim.removed.len(), 3);
    let warnings: Vec<_> = sim.events.iter().filter(|(r, _)| *r == "AnnotationIgnored").map(|(_, m)| m).collect();
    assert_eq!(warnings.len(), 3);
    assert!(
        warnings.iter().any(|m| m.contains("fledge.dev/abort=true ignored: nothing is progressing for podinfo.test"))
    );

    // Retry while progressing.
    sim.release("rev2");
    sim.after(1);
    sim.manual.retry = true;
    sim.after(1);
    assert!(sim.events.last().unwrap().1.contains("retry applies to a Failed canary"));
    assert_eq!(sim.status.phase, Phase::Progressing);

    // Promote after a failure points at retry.
    sim.manual.abort = true;
    sim.after(1);
    sim.manual.promote = true;
    sim.after(1);
    assert!(sim.events.last().unwrap().1.contains("annotate fledge.dev/retry=true"));
}

#[test]
fn annotations_during_initialization_are_refused() {
    let mut sim = Sim::new(spec(""));
    sim.manual.promote = true;
    sim.reconcile();
    assert_eq!(sim.removed, vec![ANNOTATION_PROMOTE]);
    assert!(sim.events[0].1.contains("still initializing"));
}

#[test]
fn an_abort_that_makes_the_promotion_s_status_write_fail_never_sends_users_to_the_rejected_revision() {
    // At the last interval the promotion is decided, but the abort annotation written
    // meanwhile makes the status write conflict.
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    for _ in 0..5 {
        sim.after(10);
    }
    assert_eq!((sim.status.phase, sim.status.canary_weight), (Phase::Progressing, Some(50)));
    sim.now += 10;
    sim.reconcile_losing_the_status();
    assert_eq!(sim.last.as_ref().unwrap().status.phase, Phase::Promoting, "the promotion was decided");
    assert_eq!(sim.observed.primary_revision.as_deref(), Some("rev1"), "and nothing was copied yet");
    sim.manual.abort = true;
    sim.after(0);
    assert_eq!(sim.status.phase, Phase::Failed);
    assert_eq!(sim.status.canary_weight, Some(0), "all traffic on the primary");
    assert_eq!(sim.observed.primary_revision.as_deref(), Some("rev1"), "which still runs the old revision");
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev1"));
    sim.after(10);
    assert_eq!(sim.observed.primary_revision.as_deref(), Some("rev1"));
}

#[test]
fn a_promote_annotation_with_a_new_revision_whose_gate_is_closed_promotes_it() {
    let mut sim = Sim::initialized(hooks("{name: approve, type: confirm-rollout, url: 'http://gate/'}"));
    sim.answer = fail_at(Stage::ConfirmRollout);
    sim.release("rev2");
    sim.manual.promote = true;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Promoting, "{:?}", sim.events);
    assert_eq!(sim.status.last_applied_spec.as_deref(), Some("rev2"));
    assert!(!sim.reasons().contains(&"AnnotationIgnored"), "{:?}", sim.events);
    sim.observed.primary = Some(ready());
    sim.run_until(&[Phase::Succeeded], 10);
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev2"));
}
