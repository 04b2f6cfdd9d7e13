//! The kinds of rollout run: weighted steps, iterations, mirroring, A/B tests, session affinity, and a change of kind during a run.

use super::*;

#[test]
fn a_good_release_walks_the_weights_and_is_promoted() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing);
    assert_eq!(sim.target, TargetScale::Up);
    assert_eq!(sim.status.last_applied_spec.as_deref(), Some("rev2"));
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev1"));
    assert_eq!(sim.asked, vec![Stage::ConfirmRollout]);
    assert!(sim.events.iter().any(|(_, m)| m == "New revision detected! Scaling up podinfo.test"));

    // A watch event a second later changes nothing: steps wait for the interval.
    sim.after(1);
    assert_eq!(sim.status.canary_weight, Some(0));
    assert!(sim.asked.is_empty());

    // The first step is not judged: the canary has had no traffic yet.
    sim.after(9);
    assert_eq!(sim.asked, vec![Stage::ConfirmTrafficIncrease], "no pre-rollout hooks, and no checks at weight 0");
    assert_eq!(sim.status.canary_weight, Some(10));
    assert_eq!(sim.status.analysis_start_time, Some(Time(at(11))));
    for expected in [20, 30, 40, 50] {
        sim.after(10);
        assert_eq!(sim.status.canary_weight, Some(expected));
        assert_eq!(sim.asked, vec![Stage::Analysis, Stage::ConfirmTrafficIncrease]);
    }
    sim.after(10);
    assert_eq!(sim.asked, vec![Stage::Analysis, Stage::ConfirmPromotion]);
    assert_eq!(sim.status.phase, Phase::Promoting);
    assert!(!sim.last.as_ref().unwrap().promote_primary, "the primary gets the revision only once the status says so");
    assert_eq!(sim.observed.primary_revision.as_deref(), Some("rev1"));
    sim.after(0);
    assert!(sim.last.as_ref().unwrap().promote_primary, "the status said Promoting: now it is copied");
    assert_eq!(sim.status.canary_weight, Some(50), "traffic stays until the primary is ready");

    // The primary rolls out the new revision.
    sim.observed.primary = Some(unready("1 of 2 updated replicas are available"));
    sim.after(2);
    assert_eq!(sim.status.phase, Phase::Promoting);
    assert_eq!(sim.status.canary_weight, Some(50));
    sim.observed.primary = Some(ready());
    sim.after(2);
    assert_eq!(sim.status.phase, Phase::Finalising);
    assert_eq!(sim.status.canary_weight, Some(0));
    assert_eq!(sim.target, TargetScale::Up, "the canary's pods stay while traffic drains from them");
    sim.after(5);
    assert_eq!(sim.status.phase, Phase::Finalising);
    sim.after(5);
    assert_eq!(sim.target, TargetScale::Zero);
    assert_eq!(sim.status.phase, Phase::Succeeded);
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev2"));
    assert_eq!(sim.promoted().status, ConditionStatus::True);
    assert_eq!(sim.weights, vec![0, 10, 20, 30, 40, 50, 0]);
    assert!(sim.notices.contains(&NoticeKind::Started));
    assert!(sim.notices.contains(&NoticeKind::Promoted));
    assert_eq!(sim.events.last().unwrap().1, "Promotion completed! Scaling down podinfo.test");

    // Nothing more happens.
    let status = sim.status.clone();
    sim.after(60);
    assert_eq!(sim.status, status);
}

#[test]
fn step_weights_are_followed_and_promotion_can_step_back() {
    let s = spec("analysisExtra: {stepWeights: [5, 25, 60], stepWeightPromotion: 30}");
    let mut sim = Sim::initialized(s);
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Promoting], 10);
    sim.observed.primary = Some(ready());
    sim.after(1);
    assert_eq!(sim.status.canary_weight, Some(60), "the first promotion step waits for its interval");
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(30));
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(0));
    assert_eq!(sim.status.phase, Phase::Finalising);
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Succeeded);
    assert_eq!(sim.weights, vec![0, 5, 25, 60, 30, 0]);
}

#[test]
fn next_weight_follows_step_weight_and_step_weights() {
    assert_eq!(flow::next_weight(&spec(""), 0), 10);
    assert_eq!(flow::next_weight(&spec(""), 45), 50);
    let s = spec("analysisExtra: {stepWeights: [1, 10, 40], maxWeight: null}");
    assert_eq!(flow::next_weight(&s, 0), 1);
    assert_eq!(flow::next_weight(&s, 1), 10);
    assert_eq!(flow::next_weight(&s, 10), 40);
    assert_eq!(flow::next_weight(&s, 40), 40);
}

#[test]
fn iterations_count_instead_of_weights() {
    let mut sim = Sim::initialized(spec("analysisExtra: {iterations: 3, stepWeight: null}"));
    sim.release("rev2");
    sim.after(1);
    // The first interval starts the iterations unjudged: the canary has had no traffic yet.
    sim.after(10);
    assert!(sim.asked.is_empty(), "{:?}", sim.asked);
    assert_eq!(sim.status.iterations, Some(0));
    assert_eq!(sim.events.last().unwrap().1, "Starting canary analysis for podinfo.test: 3 iterations");
    for done in [1, 2] {
        sim.after(10);
        assert_eq!(sim.asked, vec![Stage::Analysis]);
        assert_eq!(sim.status.iterations, Some(done));
        assert_eq!(sim.status.phase, Phase::Progressing);
    }
    sim.after(10);
    assert_eq!(sim.asked, vec![Stage::Analysis, Stage::ConfirmPromotion], "three judged iterations");
    assert_eq!(sim.weights, vec![0, 100], "blue/green: users stay on the primary, then all switch at once");
    assert!(sim.events.iter().any(|(_, m)| m == "Routing all traffic of podinfo.test to the canary"));
    // As in Flagger, one more interval is judged with every user on the new version before the
    // primary takes it.
    assert_eq!((sim.status.phase, sim.status.iterations), (Phase::Progressing, Some(3)));
    sim.after(10);
    assert_eq!(sim.asked, vec![Stage::Analysis], "no gate asked twice");
    assert_eq!(sim.status.phase, Phase::Promoting);
    sim.run_until(&[Phase::Succeeded], 10);
    assert_eq!(sim.weights, vec![0, 100, 0], "and back to the primary once it runs the new version");
}

#[test]
fn a_mirrored_blue_green_copies_requests_for_all_its_iterations_then_switches() {
    let mut sim =
        Sim::initialized(spec("analysisExtra: {iterations: 2, stepWeight: null, mirror: true, mirrorWeight: 50}"));
    sim.release("rev2");
    sim.after(1);
    assert!(!sim.last.as_ref().unwrap().mirror, "nothing is copied before the analysis starts");
    sim.after(10);
    assert!(sim.last.as_ref().unwrap().mirror);
    assert!(sim.asked.is_empty(), "the first check is on the copies, an interval later: {:?}", sim.asked);
    assert!(sim.events.iter().any(|(_, m)| m == "Mirroring 50% of podinfo.test's requests to the canary"));
    sim.after(10);
    assert_eq!(sim.asked, vec![Stage::Analysis]);
    assert_eq!((sim.status.iterations, sim.status.mirrored), (Some(1), Some(true)));
    assert_eq!(sim.status.canary_weight, Some(0), "users stay on the primary");
    sim.after(10);
    let d = sim.last.clone().unwrap();
    assert_eq!(sim.status.phase, Phase::Progressing, "judged one more interval at full traffic");
    assert_eq!((d.canary_weight, d.mirror), (100, false), "all users switch to the checked version");
    assert_eq!(sim.status.iterations, Some(2), "never past the spec's count");
    sim.after(10);
    assert_eq!((sim.asked.as_slice(), sim.status.phase), ([Stage::Analysis].as_slice(), Phase::Promoting));
    sim.run_until(&[Phase::Succeeded], 10);
    assert_eq!(sim.weights, vec![0, 100, 0]);
}

#[test]
fn a_mirrored_weighted_canary_takes_one_mirrored_step_before_its_first_weight() {
    let mut sim = Sim::initialized(spec("analysisExtra: {mirror: true}"));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert!(sim.last.as_ref().unwrap().mirror);
    assert_eq!(sim.status.canary_weight, Some(0));
    sim.after(10);
    let d = sim.last.clone().unwrap();
    assert_eq!((d.canary_weight, d.mirror), (10, false), "then weights, without copies");
    assert_eq!(sim.status.mirrored, None);
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(20));
    assert!(!sim.last.as_ref().unwrap().mirror, "the mirrored step is taken once");
}

#[test]
fn a_mirrored_run_promoted_by_hand_stops_the_copies() {
    let mut sim = Sim::initialized(spec("analysisExtra: {iterations: 5, stepWeight: null, mirror: true}"));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert!(sim.last.as_ref().unwrap().mirror);
    sim.manual.promote = true;
    let d = sim.after(1).clone();
    assert_eq!(sim.status.phase, Phase::Promoting);
    assert!(!d.mirror, "no copies to a canary about to be scaled down");
    sim.run_until(&[Phase::Succeeded], 10);
    assert!(!sim.last.as_ref().unwrap().mirror);
}

#[test]
fn a_mirrored_canary_failing_on_the_copies_rolls_back_without_users_ever_on_it() {
    let mut sim = Sim::initialized(spec("analysisExtra: {iterations: 5, stepWeight: null, mirror: true}"));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.answer = fail_at(Stage::Analysis);
    sim.run_until(&[Phase::Failed], 5);
    let d = sim.last.clone().unwrap();
    assert_eq!((d.canary_weight, d.mirror, sim.status.mirrored), (0, false, None));
    assert_eq!(sim.weights, vec![0], "no user request ever went to the canary");
}

#[test]
fn an_ab_test_sends_the_matching_requests_to_the_canary_for_its_iterations_then_promotes() {
    let extra = "analysisExtra: {iterations: 3, match: [{headers: {x-canary: {exact: insider}}}], \
                 webhooks: [{name: acceptance, type: pre-rollout, url: 'http://tester/'}]}";
    let mut sim = Sim::initialized(spec(extra));
    sim.answer =
        Box::new(|s| if s == Stage::PreRollout { vec![result("acceptance", Verdict::Pass, "200")] } else { vec![] });
    sim.release("rev2");
    sim.after(1);
    assert_eq!(sim.status.canary_weight, Some(0), "nothing moves before the analysis starts");
    sim.after(10);
    assert_eq!(sim.asked, vec![Stage::PreRollout], "the pre-rollout hooks first, no check at weight 0");
    assert_eq!(sim.status.canary_weight, Some(100), "the matching requests go to the canary");
    assert_eq!(sim.status.iterations, Some(0));
    for done in 1..=2 {
        sim.after(10);
        assert_eq!(sim.asked, vec![Stage::Analysis]);
        assert_eq!((sim.status.iterations, sim.status.canary_weight), (Some(done), Some(100)));
    }
    sim.after(10);
    assert_eq!(sim.asked, vec![Stage::Analysis, Stage::ConfirmPromotion]);
    assert_eq!(sim.status.phase, Phase::Promoting);
    sim.run_until(&[Phase::Succeeded], 10);
    assert_eq!(sim.weights, vec![0, 100, 0], "{:?}", sim.events);
}

#[test]
fn a_failing_ab_test_rolls_back_its_matching_requests_to_the_primary() {
    let extra = "analysisExtra: {iterations: 5, match: [{headers: {x-canary: {exact: insider}}}]}";
    let mut sim = Sim::initialized(spec(extra));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(100));
    sim.answer = fail_at(Stage::Analysis);
    sim.run_until(&[Phase::Failed], 5);
    assert_eq!(sim.status.canary_weight, Some(0));
    assert_eq!(sim.weights, vec![0, 100, 0]);
}

#[test]
fn each_run_has_its_own_affinity_cookie_expired_when_the_run_ends() {
    let extra = "analysisExtra: {sessionAffinity: {cookieName: flagger-cookie, primaryCookieName: primary-cookie}}";
    let mut sim = Sim::initialized(spec(extra));
    sim.release("rev2");
    sim.after(1);
    let cookie = sim.status.session_affinity_cookie.clone().expect("a cookie for the run");
    let token = cookie.strip_prefix("flagger-cookie=").expect(&cookie);
    assert_eq!(token.len(), 16, "{cookie}");
    assert_eq!(sim.status.primary_session_affinity_cookie, Some(format!("primary-cookie={token}")));
    sim.run_until(&[Phase::Succeeded], 20);
    assert_eq!(sim.status.session_affinity_cookie, None);
    assert_eq!(sim.status.primary_session_affinity_cookie, None);
    assert_eq!(sim.status.previous_session_affinity_cookie, Some(cookie.clone()), "expired on its next use");

    sim.release("rev3");
    sim.after(1);
    let next = sim.status.session_affinity_cookie.clone().unwrap();
    assert_ne!(next, cookie, "a new run, a new cookie");
    sim.answer = fail_at(Stage::Analysis);
    sim.run_until(&[Phase::Failed], 10);
    assert_eq!(sim.status.previous_session_affinity_cookie, Some(next));
}

#[test]
fn removing_the_ab_match_mid_run_restarts_the_run_at_weight_0_as_a_weighted_canary() {
    let ab = "analysisExtra: {iterations: 3, stepWeight: 10, maxWeight: 50, \
              match: [{headers: {x-canary: {exact: insider}}}]}";
    let mut sim = Sim::initialized(spec(ab));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(100), "all matching requests on the canary");
    assert_eq!(sim.status.strategy, Some(fledge_crds::canary::Strategy::AbTesting));
    // The match and the iterations are removed: a weighted canary now.
    sim.spec = spec("");
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Progressing);
    assert_eq!(sim.status.canary_weight, Some(0), "never 100% of all users on the canary");
    assert_eq!(
        sim.events.last().unwrap(),
        &(
            "StrategyChanged",
            "The analysis of podinfo.test changed from A/B testing to canary during the run; restarting the run \
             at weight 0"
                .to_owned()
        )
    );
    sim.run_until(&[Phase::Promoting], 10);
    assert_eq!(sim.weights, vec![0, 100, 0, 10, 20, 30, 40, 50], "then the weighted steps");
}

#[test]
fn turning_mirror_off_mid_run_stops_the_copies() {
    let mirrored = "analysisExtra: {iterations: 4, stepWeight: null, mirror: true}";
    let mut sim = Sim::initialized(spec(mirrored));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert!(sim.last.as_ref().unwrap().mirror);
    sim.spec = spec("analysisExtra: {iterations: 4, stepWeight: null}");
    sim.after(10);
    assert!(!sim.last.as_ref().unwrap().mirror, "no copies once mirror is off");
    assert_eq!(sim.status.mirrored, None);
    assert_eq!(sim.status.phase, Phase::Progressing, "the blue/green goes on");
}

#[test]
fn a_strategy_change_while_the_canary_is_not_ready_moves_no_user_to_it() {
    let ab = "analysisExtra: {iterations: 3, match: [{headers: {x-canary: {exact: insider}}}]}";
    let mut sim = Sim::initialized(spec(ab));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(100));
    sim.spec = spec("");
    sim.observed.canary = unready("1 of 2 updated replicas are available");
    let d = sim.after(1).clone();
    assert_eq!(d.canary_weight, 0, "a weighted route at 100 would send every user to the canary");
}

#[test]
fn mirror_turned_off_during_a_weighted_canary_s_mirrored_step_takes_the_first_weight() {
    let mut sim = Sim::initialized(spec("analysisExtra: {mirror: true}"));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert!(sim.last.as_ref().unwrap().mirror);
    sim.spec = spec("");
    sim.after(10);
    // No traffic reached the canary any more: its first step is taken, unjudged, at once.
    assert_eq!(sim.asked, vec![Stage::ConfirmTrafficIncrease], "{:?}", sim.events);
    assert_eq!(sim.status.canary_weight, Some(10), "{:?}", sim.events);
    assert!(!sim.last.as_ref().unwrap().mirror);
}
