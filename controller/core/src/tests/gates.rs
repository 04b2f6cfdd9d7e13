//! Gates and hooks: confirm-rollout, confirm-traffic-increase, confirm-promotion, rollback and post-rollout hooks, muted alerts, and what the notices carry.

use super::*;

#[test]
fn a_closed_confirm_rollout_gate_waits_and_asks_each_interval() {
    let mut sim = Sim::initialized(spec(""));
    sim.answer = fail_at(Stage::ConfirmRollout);
    sim.release("rev2");
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Waiting);
    assert_eq!(sim.target, TargetScale::Zero);
    sim.after(2);
    assert!(sim.asked.is_empty(), "asked again only after an interval");
    sim.after(8);
    assert_eq!(sim.asked, vec![Stage::ConfirmRollout]);
    assert_eq!(sim.reasons().iter().filter(|r| **r == "Waiting").count(), 1);
    sim.answer = pass();
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Progressing);
}

#[test]
fn a_closed_confirm_promotion_gate_holds_at_waiting_promotion_with_checks_going_on() {
    let mut sim = Sim::initialized(spec(""));
    sim.answer = fail_at(Stage::ConfirmPromotion);
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::WaitingPromotion], 10);
    sim.after(10);
    assert_eq!(sim.asked, vec![Stage::Analysis, Stage::ConfirmPromotion]);
    assert_eq!(sim.status.phase, Phase::WaitingPromotion);
    sim.answer = pass();
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Promoting);
}

#[test]
fn a_closed_traffic_increase_gate_holds_the_weight_without_failing() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.answer = fail_at(Stage::ConfirmTrafficIncrease);
    sim.after(10);
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(10));
    assert_eq!(sim.status.failed_checks, Some(0));
    let held: Vec<_> = sim.events.iter().filter(|(r, _)| *r == "WaitingTrafficIncrease").collect();
    assert_eq!(held.len(), 1, "said once a hold: {:?}", sim.events);
    assert_eq!(held[0].1, "Traffic increase of podinfo.test held: webhook load-test: 500 Internal Server Error");
    assert_eq!(sim.notices.iter().filter(|n| **n == NoticeKind::Waiting).count(), 1);
    sim.answer = pass();
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(20), "the gate opened");
}

#[test]
fn a_muted_traffic_increase_gate_holds_without_a_notice() {
    let mut sim =
        Sim::initialized(hooks("{name: load-test, type: confirm-traffic-increase, url: 'http://g', muteAlert: true}"));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.answer = fail_at(Stage::ConfirmTrafficIncrease);
    sim.after(10);
    assert!(sim.reasons().contains(&"WaitingTrafficIncrease"));
    assert!(!sim.notices.contains(&NoticeKind::Waiting), "{:?}", sim.notices);
}

#[test]
fn a_revision_replacing_one_under_analysis_is_announced_as_new() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.release("rev3");
    let d = sim.after(1).clone();
    assert_eq!(d.status.last_applied_spec.as_deref(), Some("rev3"));
    let started: Vec<_> = d.notices.iter().filter(|n| n.kind == NoticeKind::Started).collect();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].message, "New revision rev3 of podinfo.test detected, restarting the analysis.");
    assert!(started[0].facts.contains(&("Revision".to_owned(), "rev3".to_owned())));
}

#[test]
fn rollback_hooks_are_asked_each_interval_only_when_there_are_some() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert!(!sim.asked.contains(&Stage::Rollback), "no rollback hooks, nothing asked: {:?}", sim.asked);

    let mut sim = Sim::initialized(hooks("{name: stop, type: rollback, url: 'http://gate/rollback/check'}"));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.asked, vec![Stage::Rollback, Stage::ConfirmTrafficIncrease]);
    sim.after(2);
    assert!(sim.asked.is_empty(), "asked once an interval: {:?}", sim.asked);
    sim.after(8);
    assert_eq!(sim.status.canary_weight, Some(20), "a non-2xx answer lets the rollout go on");
}

#[test]
fn a_rollback_hook_answering_2xx_rolls_back_and_the_post_rollout_hooks_run() {
    let mut sim = Sim::initialized(hooks("{name: stop, type: rollback, url: 'http://gate/rollback/check'}"));
    // A rollback hook answers 4xx until someone asks for a rollback.
    sim.answer = Box::new(|s| if s == Stage::Rollback { vec![result("stop", Verdict::Fail, "403")] } else { vec![] });
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(10));
    sim.answer = Box::new(|s| if s == Stage::Rollback { vec![result("stop", Verdict::Pass, "200")] } else { vec![] });
    let d = sim.after(10).clone();
    assert_eq!(sim.status.phase, Phase::Failed);
    assert_eq!(d.canary_weight, 0);
    assert!(d.post_rollout, "post-rollout hooks run after a rollback");
    assert_eq!(sim.promoted().reason, "RollbackWebhook");
    let (_, message) = sim.events.iter().find(|(r, _)| *r == "RolledBack").unwrap();
    assert_eq!(message, "Rolling back podinfo.test: rollback webhook \"stop\" asked for it");
    assert!(sim.status.checks.iter().flatten().all(|c| c.name != "stop"), "rollback answers are not checks");
    sim.after(10);
    assert!(!sim.last.as_ref().unwrap().post_rollout, "once");
}

#[test]
fn a_rollback_hook_rolls_back_a_waiting_revision_which_does_not_start_again() {
    let mut sim = Sim::initialized(hooks(
        "{name: approve, type: confirm-rollout, url: 'http://gate/approve'}, \
         {name: stop, type: rollback, url: 'http://gate/rollback/check'}",
    ));
    sim.answer = fail_at(Stage::ConfirmRollout);
    sim.release("rev2");
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Waiting);
    sim.answer = Box::new(|s| match s {
        Stage::Rollback => vec![result("stop", Verdict::Pass, "200")],
        Stage::ConfirmRollout => vec![result("approve", Verdict::Fail, "403")],
        _ => vec![],
    });
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Failed);
    sim.after(10);
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Failed, "the rolled-back revision waits for a retry");
}

#[test]
fn a_promotion_runs_the_post_rollout_hooks_once() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    let mut post = 0;
    for _ in 0..20 {
        if sim.after(10).post_rollout {
            post += 1;
        }
    }
    assert_eq!(sim.status.phase, Phase::Succeeded);
    assert_eq!(post, 1);
}

#[test]
fn a_muted_gate_holds_without_a_notice() {
    let mut sim =
        Sim::initialized(hooks("{name: approve, type: confirm-rollout, url: 'http://gate', muteAlert: true}"));
    sim.answer =
        Box::new(|s| if s == Stage::ConfirmRollout { vec![result("approve", Verdict::Fail, "403")] } else { vec![] });
    sim.release("rev2");
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Waiting);
    assert!(sim.reasons().contains(&"Waiting"), "the event is still published");
    assert!(!sim.notices.contains(&NoticeKind::Waiting), "{:?}", sim.notices);

    let mut sim = Sim::initialized(hooks("{name: approve, type: confirm-rollout, url: 'http://gate'}"));
    sim.answer =
        Box::new(|s| if s == Stage::ConfirmRollout { vec![result("approve", Verdict::Fail, "403")] } else { vec![] });
    sim.release("rev2");
    let waiting = sim.after(1).notices.clone();
    assert_eq!(waiting[0].kind, NoticeKind::Waiting);
    assert!(
        waiting[0].facts.contains(&("Revision".to_owned(), "rev2".to_owned())),
        "the release waiting, not the one running: {:?}",
        waiting[0].facts
    );
    sim.after(10);
    sim.after(10);
    assert_eq!(sim.notices.iter().filter(|n| **n == NoticeKind::Waiting).count(), 1, "said once");
}

#[test]
fn notices_carry_the_revision_image_failed_checks_and_duration() {
    let mut sim = Sim::initialized(spec(""));
    sim.observed.images = vec!["ghcr.io/stefanprodan/podinfo:6.0.1".into()];
    sim.release("rev2");
    let started = sim.after(1).notices[0].clone();
    assert_eq!(started.kind, NoticeKind::Started);
    let facts = |n: &crate::Notice| n.facts.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
    assert_eq!(
        facts(&started),
        ["Revision=rev2", "Image=ghcr.io/stefanprodan/podinfo:6.0.1", "Phase=Progressing", "Canary weight=0%"]
    );
    sim.answer = fail_at(Stage::Analysis);
    sim.run_until(&[Phase::Failed], 10);
    let failed = sim.last.as_ref().unwrap().notices.iter().find(|n| n.kind == NoticeKind::Failed).unwrap().clone();
    assert_eq!(
        facts(&failed),
        [
            "Revision=rev2",
            "Image=ghcr.io/stefanprodan/podinfo:6.0.1",
            "Phase=Failed",
            "Failed checks=2 of 2",
            "Duration=30s"
        ]
    );
    assert!(failed.message.contains("failed checks threshold reached 2"), "{}", failed.message);
    assert_eq!(
        started.message,
        "New revision rev2 (ghcr.io/stefanprodan/podinfo:6.0.1) of podinfo.test detected, starting the analysis."
    );
    sim.answer = pass();
    sim.manual.retry = true;
    sim.after(1);
    sim.run_until(&[Phase::Succeeded], 20);
    let promoted = sim.events.iter().any(|(r, _)| *r == "Promoted");
    assert!(promoted);
    let notice = sim.last.as_ref().unwrap().notices.iter().find(|n| n.kind == NoticeKind::Promoted).unwrap().clone();
    assert!(
        notice.message.starts_with("podinfo.test promoted revision rev2 (ghcr.io/stefanprodan/podinfo:6.0.1) after "),
        "{}",
        notice.message
    );
}
