//! Rollout windows: outside them the weight holds; annotations are never held.

use super::*;

#[test]
fn outside_its_rollout_window_a_release_holds_its_weight_and_goes_on_when_the_window_opens() {
    // at(0) is 2023-11-14T22:13:20Z; the window opens at 23:00Z, at(2800), for an hour.
    let windows = "analysisExtra: {windows: [{name: evening, schedule: '0 23 * * *', duration: 1h}], \
                   webhooks: [{name: acceptance, type: pre-rollout, url: 'http://tester/'}]}";
    let mut sim = Sim::initialized(spec(windows));
    sim.release("rev2");
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing, "the canary starts and is checked");
    sim.after(10);
    assert!(sim.asked.is_empty(), "pre-rollout hooks wait for the window, and there is nothing to judge yet");
    assert_eq!(sim.status.canary_weight, Some(0), "held at weight 0");
    let held = conditions::get(&sim.status, conditions::ROLLOUT_WINDOW).unwrap().clone();
    assert_eq!((held.status, held.reason.as_str()), (ConditionStatus::False, "OutsideWindow"));
    assert_eq!(
        held.message.as_deref(),
        Some("outside the allow window evening; it opens at 2023-11-14T23:00:00Z"),
        "{held:?}"
    );
    sim.after(10);
    assert!(sim.asked.is_empty(), "{:?}", sim.asked);
    assert_eq!(sim.status.canary_weight, Some(0));
    assert_eq!(sim.reasons().iter().filter(|r| **r == "Held").count(), 1, "said once: {:?}", sim.events);

    // The window opens: the next step advances.
    sim.now = 2800;
    sim.after(0);
    assert_eq!(sim.asked, vec![Stage::PreRollout, Stage::ConfirmTrafficIncrease]);
    assert_eq!(sim.status.canary_weight, Some(10));
    let open = conditions::get(&sim.status, conditions::ROLLOUT_WINDOW).unwrap();
    assert_eq!((open.status, open.reason.as_str()), (ConditionStatus::True, "Open"));
}

#[test]
fn promotion_by_annotation_and_abort_are_never_held_by_a_window() {
    let windows = "analysisExtra: {windows: [{type: deny, schedule: '* * * * *', duration: 2m}]}";
    let mut sim = Sim::initialized(spec(windows));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(0));
    sim.manual.promote = true;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Promoting, "promote overrides the window");

    let mut sim = Sim::initialized(spec(windows));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.manual.abort = true;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Failed, "abort is never held");
}
