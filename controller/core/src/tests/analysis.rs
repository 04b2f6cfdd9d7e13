//! Judging a step: failed checks and the threshold, pre-rollout hooks, a canary that is not ready.

use super::*;

#[test]
fn failed_checks_reaching_the_threshold_roll_back() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(20));
    sim.answer = fail_at(Stage::Analysis);
    sim.after(10);
    assert_eq!(sim.status.failed_checks, Some(1));
    assert_eq!(sim.status.canary_weight, Some(20), "a failed check holds the weight");
    assert_eq!(sim.events.last().unwrap().0, "Halted");
    assert!(sim.events.last().unwrap().1.contains("load-test"));
    // Failed checks are cumulative: a pass in between does not reset them.
    sim.answer = pass();
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(30));
    assert_eq!(sim.status.failed_checks, Some(1));
    sim.answer = fail_at(Stage::Analysis);
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Failed);
    assert_eq!(sim.status.canary_weight, Some(0));
    assert_eq!(sim.target, TargetScale::Up, "scaled down once traffic has drained");
    assert_eq!(sim.last.as_ref().unwrap().requeue_after, Duration::from_secs(10));
    assert_eq!(sim.status.failed_checks, Some(0), "reset by the rollback, as in Flagger");
    assert_eq!(sim.promoted().status, ConditionStatus::False);
    assert_eq!(sim.promoted().reason, "FailedChecks");
    assert!(sim.promoted().message.as_deref().unwrap().contains("threshold reached 2"));
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev1"), "the primary never changes on rollback");
    assert!(sim.notices.contains(&NoticeKind::Failed));
    assert!(!sim.promoted_primary || sim.observed.primary_revision.as_deref() == Some("rev1"));

    // It stays Failed, and says why, until something changes; the target goes to zero.
    let status = sim.status.clone();
    sim.after(10);
    assert_eq!(sim.status, status);
    assert_eq!(sim.target, TargetScale::Zero);
}

#[test]
fn a_failing_pre_rollout_hook_counts_and_is_asked_again() {
    let mut sim = Sim::initialized(hooks("{name: load-test, type: pre-rollout, url: 'http://tester/'}"));
    sim.answer = fail_at(Stage::PreRollout);
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.asked, vec![Stage::PreRollout]);
    assert_eq!(sim.status.failed_checks, Some(1));
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Failed);
}

#[test]
fn a_passed_pre_rollout_hook_is_not_called_again_while_the_first_step_is_held() {
    let mut sim = Sim::initialized(hooks(
        "{name: migrate, type: pre-rollout, url: 'http://tester/'}, \
         {name: approve, type: confirm-traffic-increase, url: 'http://gate/'}",
    ));
    sim.answer = Box::new(|s| match s {
        Stage::PreRollout => vec![result("migrate", Verdict::Pass, "200")],
        Stage::ConfirmTrafficIncrease => vec![result("approve", Verdict::Fail, "403 Forbidden")],
        _ => vec![],
    });
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.asked, vec![Stage::PreRollout, Stage::ConfirmTrafficIncrease]);
    assert_eq!((sim.status.canary_weight, sim.status.failed_checks), (Some(0), Some(0)));
    assert_eq!(sim.status.analysis_start_time, None, "the run starts when traffic moves");
    sim.answer = Box::new(|s| if s == Stage::PreRollout { panic!("called twice") } else { vec![] });
    sim.after(10);
    assert_eq!(sim.asked, vec![Stage::ConfirmTrafficIncrease], "still no checks before the first step");
    assert_eq!(sim.status.canary_weight, Some(10));
    sim.after(10);
    assert_eq!(sim.asked, vec![Stage::Analysis, Stage::ConfirmTrafficIncrease]);
}

#[test]
fn an_unready_canary_waits_then_rolls_back_at_its_deadline() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.observed.canary = unready("0 of 2 updated replicas are available");
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing);
    sim.after(30);
    assert_eq!(sim.status.phase, Phase::Progressing);
    assert!(sim.asked.is_empty(), "no analysis while the canary is not ready");
    assert!(sim.promoted().message.as_deref().unwrap().contains("0 of 2 updated replicas"));
    sim.after(31);
    assert_eq!(sim.status.phase, Phase::Failed);
    assert_eq!(sim.promoted().reason, "ProgressDeadlineExceeded");
    let check = &sim.status.checks.as_ref().unwrap()[0];
    assert_eq!((check.kind, check.verdict), (CheckKind::Readiness, Verdict::Fail));
}

#[test]
fn kubernetes_giving_up_on_the_canary_rolls_back_at_once() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.observed.canary =
        Workload { ready: false, deadline_exceeded: true, message: "ProgressDeadlineExceeded".into() };
    sim.after(2);
    assert_eq!(sim.status.phase, Phase::Failed);
}

#[test]
fn a_canary_unready_long_after_its_last_step_gets_its_whole_deadline() {
    // A step every five minutes and a deadline of a minute.
    let mut sim = Sim::initialized(spec("analysisExtra: {interval: 5m}"));
    sim.release("rev2");
    sim.after(1);
    sim.after(300);
    assert_eq!(sim.status.canary_weight, Some(10));
    // Four minutes after the step a pod is evicted.
    sim.after(240);
    sim.observed.canary = unready("1 of 2 updated replicas are available");
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing, "the deadline counts from now, not from the step");
    sim.after(50);
    assert_eq!(sim.status.phase, Phase::Progressing);
    sim.observed.canary = ready();
    sim.after(2);
    assert_eq!(sim.status.canary_unready_since, None);
    // Unready again, for longer than the deadline: rolled back.
    sim.observed.canary = unready("0 of 2 updated replicas are available");
    sim.after(1);
    sim.after(59);
    assert_eq!(sim.status.phase, Phase::Progressing);
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Failed);
    assert_eq!(sim.promoted().reason, "ProgressDeadlineExceeded");
}

#[test]
fn lowering_the_threshold_below_the_failed_checks_rolls_back_at_the_next_interval() {
    let mut sim = Sim::initialized(spec("analysisExtra: {threshold: 5}"));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.answer = fail_at(Stage::Analysis);
    for _ in 0..3 {
        sim.after(10);
    }
    assert_eq!((sim.status.phase, sim.status.failed_checks), (Phase::Progressing, Some(3)));
    sim.answer = pass();
    sim.spec = spec("analysisExtra: {threshold: 2}");
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Failed, "{:?}", sim.events);
    assert_eq!(
        sim.promoted().message.as_deref(),
        Some("Rolling back podinfo.test: failed checks threshold reached 3 (threshold is now 2)")
    );
}
