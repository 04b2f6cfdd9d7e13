//! What ends a rollout from outside it: a target that can no longer serve, and a deleted
//! Canary whose changes are reverted (`revertOnDeletion`).

use super::*;
use crate::conditions::SPEC_VALID;

const GONE: &str = "spec.targetRef: Deployment test/podinfo does not exist; create it or fix the name";

fn spec_valid(sim: &Sim) -> &fledge_crds::canary::CanaryCondition {
    conditions::get(&sim.status, SPEC_VALID).expect("a SpecValid condition")
}

/// A release of rev2 at weight 20.
fn at_weight_20() -> Sim {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(20));
    sim
}

/// What the reconciler observes of a target that cannot be used.
fn target_gone(sim: &mut Sim) {
    sim.observed = Observed { target_unavailable: Some(GONE.into()), ..Observed::default() };
}

#[test]
fn a_target_gone_mid_rollout_sends_all_traffic_to_the_primary_and_fails_the_run() {
    let mut sim = at_weight_20();
    let events = sim.events.len();
    target_gone(&mut sim);
    let d = sim.after(1).clone();
    assert!(sim.asked.is_empty(), "nothing is checked: {:?}", sim.asked);
    assert_eq!(sim.status.phase, Phase::Failed);
    assert_eq!(d.canary_weight, 0);
    assert_eq!(d.objects, Objects::PrimaryOnly, "only the routes, which do not need the target");
    assert_eq!(d.target, TargetScale::Keep);
    assert!(d.post_rollout, "the run ended: the post-rollout hooks are called");
    let message = format!("Rolling back podinfo.test: all traffic to the primary, the canary cannot serve ({GONE})");
    assert_eq!(sim.events[events..], [("RolledBack", message.clone()), ("InvalidSpec", GONE.to_owned())]);
    assert_eq!(d.notices.len(), 1);
    assert_eq!(d.notices[0].kind, NoticeKind::Failed);
    assert_eq!(d.notices[0].message, message);
    assert_eq!(d.notices[0].facts, [("Phase".to_owned(), "Failed".to_owned())]);
    let promoted = sim.promoted();
    assert_eq!((promoted.status, promoted.reason.as_str()), (ConditionStatus::False, "TargetUnavailable"));
    assert_eq!(promoted.message.as_deref(), Some(message.as_str()));
    let spec_valid = spec_valid(&sim);
    assert_eq!((spec_valid.status, spec_valid.reason.as_str()), (ConditionStatus::False, "InvalidSpec"));
    assert_eq!(spec_valid.message.as_deref(), Some(GONE));
    assert_eq!(sim.status.observed_generation, Some(1));

    // Still gone: nothing more is said or written, and the failure is not repeated.
    let events = sim.events.len();
    let d = sim.after(10).clone();
    assert_eq!(sim.events.len(), events, "{:?}", &sim.events[events..]);
    assert!(d.notices.is_empty() && !d.post_rollout);
    assert_eq!(d.objects, Objects::Untouched);
    assert_eq!(sim.promoted().reason, "TargetUnavailable");
}

#[test]
fn a_target_missing_outside_a_run_is_a_spec_problem_said_once() {
    let mut sim = Sim::initialized(spec(""));
    let status = sim.status.clone();
    target_gone(&mut sim);
    let d = sim.after(1).clone();
    assert_eq!(d.objects, Objects::Untouched);
    assert_eq!(d.target, TargetScale::Keep);
    assert!(d.notices.is_empty() && !d.post_rollout);
    assert_eq!(sim.status.phase, Phase::Initialized);
    assert_eq!(sim.events.last().unwrap(), &("InvalidSpec", GONE.to_owned()));
    assert_eq!(spec_valid(&sim).status, ConditionStatus::False);
    let without = |s: &CanaryStatus| {
        let mut s = s.clone();
        conditions::clear(&mut s, SPEC_VALID);
        s
    };
    assert_eq!(without(&sim.status), status, "nothing but the SpecValid condition changes");
    let events = sim.events.len();
    sim.after(10);
    assert_eq!(sim.events.len(), events, "said once");
    // Another problem is said again.
    let other = "spec.targetRef: Deployment test/podinfo has no selector label Fledge can rewrite";
    sim.observed.target_unavailable = Some(other.into());
    sim.after(10);
    assert_eq!(sim.events.last().unwrap(), &("InvalidSpec", other.to_owned()));
}

#[test]
fn a_mirrored_run_whose_target_vanished_copies_nothing_once_it_is_back() {
    let mut sim = Sim::initialized(spec("analysisExtra: {iterations: 3, mirror: true}"));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.status.mirrored, Some(true));
    target_gone(&mut sim);
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Failed);
    sim.observed = Observed { revision: "rev2".into(), canary: ready(), ..Observed::default() };
    sim.observed.primary = Some(ready());
    sim.observed.primary_revision = Some("rev1".into());
    let d = sim.after(10);
    assert!(!d.mirror, "no copies to a canary that is not under analysis");
}

#[test]
fn a_deleted_canary_without_the_finalizer_is_let_go() {
    let mut sim = at_weight_20();
    let status = sim.status.clone();
    let events = sim.events.len();
    sim.deletion = Deletion::LetGo;
    sim.manual.abort = true;
    let d = sim.after(10).clone();
    assert_eq!(sim.status, status, "nothing is written");
    assert_eq!(sim.events.len(), events);
    assert!(sim.asked.is_empty());
    assert_eq!((d.objects, d.target, d.release_finalizer), (Objects::Untouched, TargetScale::Keep, false));
    assert!(d.remove_annotations.is_empty(), "nor any annotation looked at");
}

#[test]
fn a_revert_scales_the_target_up_and_gives_it_the_traffic_once_it_is_ready() {
    let mut sim = Sim::initialized(spec("revertOnDeletion: true"));
    sim.after(10);
    assert_eq!(sim.target, TargetScale::Zero);
    sim.observed.canary = unready("deployment podinfo is scaled to zero");
    sim.deletion = Deletion::Revert;
    let d = sim.after(10).clone();
    assert_eq!(sim.status.phase, Phase::Terminating);
    assert_eq!(sim.events.last().unwrap(), &("Terminating", "Reverting podinfo.test: scaling up the target".into()));
    assert_eq!(d.target, TargetScale::Up);
    assert_eq!(d.objects, Objects::Untouched, "the routes stay until the target can serve");
    assert!(!d.release_finalizer);
    assert_eq!(d.requeue_after, Duration::from_secs(2));
    let promoted = sim.promoted();
    assert_eq!((promoted.status, promoted.reason.as_str()), (ConditionStatus::Unknown, "Terminating"));
    assert_eq!(promoted.message.as_deref(), Some("Canary is being deleted, reverting its changes."));
    let events = sim.events.len();
    sim.after(2);
    assert_eq!(sim.events.len(), events, "said once");
    assert!(!sim.released);

    sim.observed.canary = ready();
    let d = sim.after(2).clone();
    assert_eq!(sim.status.phase, Phase::Terminated);
    assert_eq!(d.objects, Objects::Reverted);
    assert!(d.release_finalizer);
    assert_eq!(sim.events[events..], [("Terminated", "Reverted podinfo.test: traffic goes to the target".to_owned())]);
    let promoted = sim.promoted();
    assert_eq!((promoted.status, promoted.reason.as_str()), (ConditionStatus::Unknown, "Terminated"));
    assert_eq!(promoted.message.as_deref(), Some("Canary deleted, its changes reverted."));
}

#[test]
fn a_ready_target_is_given_the_traffic_back_in_one_reconcile() {
    let mut sim = Sim::initialized(spec("revertOnDeletion: true"));
    let events = sim.events.len();
    sim.deletion = Deletion::Revert;
    let d = sim.after(1).clone();
    assert_eq!(sim.status.phase, Phase::Terminated);
    assert_eq!(sim.reasons()[events..], ["Terminating", "Terminated"]);
    assert_eq!((d.objects, d.release_finalizer), (Objects::Reverted, true));
}

#[test]
fn a_target_that_never_gets_ready_is_given_the_traffic_at_its_deadline() {
    let mut sim = Sim::initialized(spec("revertOnDeletion: true"));
    sim.observed.canary = unready("0 of 2 updated replicas of podinfo are available");
    sim.deletion = Deletion::Revert;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Terminating);
    sim.after(59);
    assert_eq!(sim.status.phase, Phase::Terminating, "waits its progress deadline (60s)");
    let events = sim.events.len();
    let d = sim.after(1).clone();
    assert_eq!(sim.status.phase, Phase::Terminated);
    assert_eq!(d.objects, Objects::Reverted);
    let late = "Reverting podinfo.test although the target is not ready after 60s: \
                0 of 2 updated replicas of podinfo are available";
    assert_eq!(sim.reasons()[events..], ["RevertDeadlineExceeded", "Terminated"]);
    assert_eq!(sim.events[events].1, late);
    assert!(sim.released);
}

#[test]
fn a_revert_without_a_target_is_skipped_and_the_canary_let_go() {
    let mut sim = Sim::initialized(spec("revertOnDeletion: true"));
    let events = sim.events.len();
    target_gone(&mut sim);
    sim.deletion = Deletion::Revert;
    let d = sim.after(1).clone();
    assert_eq!(sim.reasons()[events..], ["Terminating", "RevertSkipped"]);
    assert_eq!(sim.events.last().unwrap().1, GONE);
    assert_eq!((d.objects, d.target, d.release_finalizer), (Objects::Untouched, TargetScale::Keep, true));
    assert_eq!(sim.status.phase, Phase::Terminating);
}

#[test]
fn a_canary_deleted_mid_rollout_is_reverted_without_another_step() {
    let mut sim = at_weight_20();
    sim.spec.revert_on_deletion = Some(true);
    sim.deletion = Deletion::Revert;
    sim.manual.promote = true;
    let d = sim.after(10).clone();
    assert!(sim.asked.is_empty(), "no check runs: {:?}", sim.asked);
    assert!(d.remove_annotations.is_empty(), "no annotation is acted on");
    assert!(!d.promote_primary);
    assert_eq!(sim.status.phase, Phase::Terminated);
    assert_eq!(d.objects, Objects::Reverted);
}

#[test]
fn a_release_that_failed_after_the_revert_is_only_tried_again() {
    let mut sim = Sim::initialized(spec("revertOnDeletion: true"));
    sim.deletion = Deletion::Revert;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Terminated);
    let events = sim.events.len();
    let d = sim.after(5).clone();
    assert_eq!(sim.events.len(), events, "nothing said twice");
    assert_eq!((d.objects, d.target, d.release_finalizer), (Objects::Untouched, TargetScale::Keep, true));
}
