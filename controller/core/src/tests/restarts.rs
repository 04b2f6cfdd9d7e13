//! Time and restarts: the status alone carries a rollout, and the requeue is the time left.

use super::*;

#[test]
fn a_restart_at_every_phase_continues_from_the_status_alone() {
    // Walk a rollout; before each reconcile, also decide from a copy of the status as a
    // freshly started controller would, at the same instant: the decisions are identical.
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    let mut seen = Vec::new();
    for step in 0..40 {
        sim.now += if step == 0 { 1 } else { 5 };
        let fresh = sim.decide_once();
        let again = sim.decide_once();
        assert_eq!(fresh, again, "a decision depends on the status and the input only");
        sim.reconcile();
        if sim.status.phase == Phase::Promoting {
            sim.observed.primary = Some(ready());
        }
        seen.push(sim.status.phase);
        if sim.status.phase == Phase::Succeeded {
            break;
        }
    }
    for phase in [Phase::Progressing, Phase::Promoting, Phase::Finalising, Phase::Succeeded] {
        assert!(seen.contains(&phase), "{phase} not seen: {seen:?}");
    }
    assert_eq!(sim.weights, vec![0, 10, 20, 30, 40, 50, 0], "every weight once, in order");
}

#[test]
fn a_crash_between_acting_and_writing_the_status_repeats_the_same_step() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    // The controller acts on a decision (weight 20) and dies before writing the status.
    sim.now += 10;
    let lost = sim.decide_once();
    assert_eq!(lost.canary_weight, 20);
    // Restarted a second later, it decides from the old status: the same weight, not 30.
    sim.now += 1;
    let again = sim.decide_once();
    assert_eq!(again.canary_weight, 20);
    sim.reconcile();
    sim.after(1);
    assert_eq!(sim.status.canary_weight, Some(20), "no step twice");
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(30), "no step skipped");
}

#[test]
fn a_promotion_interrupted_by_a_restart_is_not_repeated() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Promoting], 10);
    sim.observed.primary = Some(ready());
    sim.after(1);
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Succeeded);
    let events = sim.events.len();
    // A controller restarted now reads Succeeded and does nothing more.
    sim.after(1);
    assert_eq!(sim.events.len(), events);
    assert_eq!(sim.reasons().iter().filter(|r| **r == "Promoted").count(), 1);
}

#[test]
fn the_requeue_is_the_time_left_to_the_next_step() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    let d = sim.after(3).clone();
    assert_eq!(d.requeue_after, Duration::from_secs(7));
}

#[test]
fn an_idle_canary_is_looked_at_again_only_as_a_safety_net() {
    let mut sim = Sim::initialized(spec(""));
    let d = sim.after(30).clone();
    assert_eq!(d.requeue_after, Duration::from_secs(300));
    sim.release("rev2");
    let d = sim.after(1).clone();
    assert_eq!(d.requeue_after, Duration::from_secs(10), "a run is looked at every interval");
}
