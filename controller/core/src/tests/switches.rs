//! `spec.suspend` and `spec.skipAnalysis`.

use super::*;

#[test]
fn suspend_holds_everything_and_says_so() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.spec.suspend = Some(true);
    sim.manual.promote = true;
    let d = sim.after(10).clone();
    assert_eq!(d.objects, Objects::Untouched);
    assert_eq!(d.target, TargetScale::Keep);
    assert_eq!(sim.status.canary_weight, Some(10));
    assert!(sim.removed.is_empty(), "promote waits for the resume");
    let suspended = sim.status.conditions.as_ref().unwrap().iter().find(|c| c.r#type == "Suspended").unwrap();
    assert_eq!(suspended.status, ConditionStatus::True);
    assert!(suspended.message.as_deref().unwrap().contains("fledge.dev/promote=true will be acted on"));
    // Time passes without steps.
    sim.after(100);
    assert_eq!(sim.status.canary_weight, Some(10));
    // Abort is never held: the routes go back to the primary at once.
    sim.manual.abort = true;
    let d = sim.after(1).clone();
    assert_eq!(sim.status.phase, Phase::Failed);
    assert_eq!(d.objects, Objects::Routed, "the routes are written although suspended");
    assert_eq!(d.canary_weight, 0);
    // Resumed: the promote annotation is looked at again.
    sim.spec.suspend = None;
    sim.after(1);
    assert!(sim.status.conditions.as_ref().unwrap().iter().all(|c| c.r#type != "Suspended"));
    assert!(sim.removed.contains(&ANNOTATION_PROMOTE));
}

#[test]
fn skip_analysis_promotes_once_the_canary_is_ready() {
    let mut sim = Sim::initialized(spec("skipAnalysis: true"));
    sim.release("rev2");
    sim.observed.canary = unready("0 of 1 updated replicas are available");
    sim.after(1);
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing);
    sim.observed.canary = ready();
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Promoting);
    assert!(sim.asked.is_empty(), "no checks run");
}
