//! A new Canary: the primary is created and takes the traffic once it can serve.

use super::*;

#[test]
fn a_new_canary_initializes_once_the_primary_is_ready() {
    let mut sim = Sim::new(spec(""));
    let d = sim.reconcile().clone();
    assert_eq!(sim.status.phase, Phase::Initializing);
    assert!(d.promote_primary, "the primary is created from the target");
    assert_eq!(d.canary_weight, 0);
    assert_eq!(d.target, TargetScale::Keep, "the target keeps serving until the primary is ready");
    assert!(d.requeue_after <= Duration::from_secs(2));

    sim.observed.primary = Some(unready("0 of 2 updated replicas are available"));
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Initializing);
    assert_eq!(sim.promoted().status, ConditionStatus::Unknown);
    assert!(sim.promoted().message.as_deref().unwrap().contains("0 of 2 updated replicas"));

    assert!(!sim.last.as_ref().unwrap().route_apex, "no traffic to a primary without ready pods");
    sim.observed.primary = Some(ready());
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Initialized);
    assert!(sim.last.as_ref().unwrap().route_apex);
    assert_eq!(sim.target, TargetScale::Keep, "the target serves until the routes have moved");
    sim.after(10);
    assert_eq!(sim.target, TargetScale::Zero);
    assert_eq!(sim.status.last_applied_spec.as_deref(), Some("rev1"));
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev1"));
    assert_eq!(sim.status.canary_weight, Some(0));
    assert_eq!(sim.promoted().status, ConditionStatus::True);
    assert_eq!(sim.promoted().reason, "Initialized");
    assert_eq!(sim.events.last().unwrap(), &("Initialized", "Initialization done! podinfo.test".to_owned()));
    assert_eq!(sim.status.observed_generation, Some(1));
}

#[test]
fn a_primary_past_its_deadline_is_reported_once_and_never_gets_the_traffic_moved() {
    let mut sim = Sim::new(spec(""));
    sim.observed.primary = Some(unready("0 of 2 updated replicas are available"));
    sim.reconcile();
    sim.after(61);
    sim.after(2);
    sim.after(2);
    assert_eq!(sim.status.phase, Phase::Initializing);
    assert_eq!(sim.reasons().iter().filter(|r| **r == "PrimaryNotReady").count(), 1, "{:?}", sim.events);
    assert!(sim.promoted().message.as_deref().unwrap().contains("is not ready after 60s"));
    assert_eq!(sim.weights, vec![0]);
}

#[test]
fn a_reconcile_with_nothing_to_do_changes_nothing() {
    let mut sim = Sim::initialized(spec(""));
    let before = sim.status.clone();
    let events = sim.events.len();
    let d = sim.after(30).clone();
    assert_eq!(d.status, before, "an idle canary writes nothing");
    assert_eq!(sim.events.len(), events);
    assert!(d.remove_annotations.is_empty());
}
