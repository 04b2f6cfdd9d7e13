//! Every phase transition of the lifecycle, driven through `decide` with a simulated clock and
//! simulated check results, the way the reconciler drives it.

use super::*;
use crate::NoticeKind;
use fledge_crds::canary::{CanaryStatus, CheckKind, CheckResult, ConditionStatus, Phase, Verdict};
use fledge_crds::{ANNOTATION_ABORT, ANNOTATION_PROMOTE, ANNOTATION_RETRY};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

fn spec(extra: &str) -> CanarySpec {
    let yaml = format!(
        "targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}\n\
         service: {{port: 9898}}\n\
         progressDeadlineSeconds: 60\n\
         analysis: {{interval: 10s, threshold: 2, maxWeight: 50, stepWeight: 10}}\n{extra}"
    );
    let mut value: serde_json::Value = serde_norway::from_str(&yaml).unwrap();
    // Later keys (the extra) merge into analysis when given as `analysis.x: v` lines.
    if let Some(extra) = value.as_object_mut().and_then(|o| o.remove("analysisExtra")) {
        for (k, v) in extra.as_object().unwrap() {
            value["analysis"][k] = v.clone();
        }
    }
    serde_json::from_value(value).unwrap()
}

fn ready() -> Workload {
    Workload { ready: true, deadline_exceeded: false, message: String::new() }
}

fn unready(message: &str) -> Workload {
    Workload { ready: false, deadline_exceeded: false, message: message.into() }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

type Answer = Box<dyn Fn(Stage) -> Vec<CheckResult>>;

/// A canary and its world, stepped through `decide` as the reconciler does.
struct Sim {
    spec: CanarySpec,
    status: CanaryStatus,
    observed: Observed,
    manual: Manual,
    now: i64,
    answer: Answer,
    /// Stages asked for, in order, in the last reconcile.
    asked: Vec<Stage>,
    /// Every event so far: (reason, message).
    events: Vec<(&'static str, String)>,
    notices: Vec<NoticeKind>,
    /// Weights written to the routes, in order, without repeats.
    weights: Vec<i32>,
    target: TargetScale,
    promoted_primary: bool,
    removed: Vec<&'static str>,
    last: Option<Decision>,
}

fn pass() -> Answer {
    Box::new(|_| Vec::new())
}

fn fail_at(stage: Stage) -> Answer {
    Box::new(move |s| {
        if s == stage { vec![result("load-test", Verdict::Fail, "500 Internal Server Error")] } else { Vec::new() }
    })
}

fn result(name: &str, verdict: Verdict, message: &str) -> CheckResult {
    CheckResult {
        name: name.into(),
        kind: CheckKind::Webhook,
        verdict,
        value: None,
        message: Some(message.into()),
        time: None,
    }
}

impl Sim {
    fn new(spec: CanarySpec) -> Self {
        Self {
            spec,
            status: CanaryStatus::default(),
            observed: Observed { revision: "rev1".into(), canary: ready(), ..Observed::default() },
            manual: Manual::default(),
            now: 0,
            answer: pass(),
            asked: Vec::new(),
            events: Vec::new(),
            notices: Vec::new(),
            weights: Vec::new(),
            target: TargetScale::Keep,
            promoted_primary: false,
            removed: Vec::new(),
            last: None,
        }
    }

    /// A canary initialized with rev1 on the primary.
    fn initialized(spec: CanarySpec) -> Self {
        let mut sim = Self::new(spec);
        sim.reconcile();
        sim.observed.primary = Some(ready());
        sim.observed.primary_revision = Some("rev1".into());
        sim.reconcile();
        assert_eq!(sim.status.phase, Phase::Initialized);
        sim
    }

    fn decide_once(&mut self) -> Decision {
        let mut results = BTreeMap::new();
        self.asked.clear();
        loop {
            let input = Input {
                name: "podinfo",
                namespace: "test",
                generation: Some(1),
                spec: &self.spec,
                status: &self.status,
                manual: self.manual,
                observed: &self.observed,
                results: &results,
                now: at(self.now),
            };
            let decision = decide(&input);
            match decision.needs {
                Some(stage) => {
                    assert!(!results.contains_key(&stage), "asked twice for {stage}");
                    self.asked.push(stage);
                    results.insert(stage, (self.answer)(stage));
                }
                None => return decision,
            }
        }
    }

    /// One reconcile: decide and act on the decision, as the controller does.
    fn reconcile(&mut self) -> &Decision {
        let d = self.decide_once();
        if self.weights.last() != Some(&d.canary_weight) {
            self.weights.push(d.canary_weight);
        }
        if d.promote_primary {
            self.promoted_primary = true;
            self.observed.primary_revision = Some(self.observed.revision.clone());
        }
        if d.target != TargetScale::Keep {
            self.target = d.target;
        }
        for a in &d.remove_annotations {
            self.removed.push(a);
            match *a {
                ANNOTATION_PROMOTE => self.manual.promote = false,
                ANNOTATION_ABORT => self.manual.abort = false,
                ANNOTATION_RETRY => self.manual.retry = false,
                _ => {}
            }
        }
        self.events.extend(d.events.iter().map(|e| (e.reason, e.message.clone())));
        self.notices.extend(d.notices.iter().map(|n| n.kind));
        self.status = d.status.clone();
        self.last = Some(d);
        self.last.as_ref().unwrap()
    }

    /// Move the clock and reconcile.
    fn after(&mut self, seconds: i64) -> &Decision {
        self.now += seconds;
        self.reconcile()
    }

    fn release(&mut self, revision: &str) {
        self.observed.revision = revision.into();
    }

    fn reasons(&self) -> Vec<&'static str> {
        self.events.iter().map(|(r, _)| *r).collect()
    }

    fn promoted(&self) -> &fledge_crds::canary::CanaryCondition {
        self.status.conditions.as_ref().unwrap().iter().find(|c| c.r#type == "Promoted").unwrap()
    }

    /// Step intervals until the phase is one of `phases`, at most `limit` times.
    fn run_until(&mut self, phases: &[Phase], limit: usize) {
        for _ in 0..limit {
            if phases.contains(&self.status.phase) {
                return;
            }
            self.after(10);
        }
        panic!("still {:?} after {limit} intervals; events {:?}", self.status.phase, self.events);
    }
}

// ---- initialization ----

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

// ---- a weighted rollout ----

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

// ---- mirroring ----

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

// ---- failures ----

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
fn a_primary_that_breaks_after_promotion_never_receives_the_traffic() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Promoting], 10);
    sim.observed.primary = Some(unready("0 of 2 updated replicas are available"));
    for _ in 0..40 {
        sim.after(2);
    }
    assert_eq!(sim.status.phase, Phase::Promoting);
    assert_eq!(sim.status.canary_weight, Some(50), "the canary keeps serving its share");
    assert_eq!(*sim.weights.last().unwrap(), 50);
    assert_eq!(sim.target, TargetScale::Up, "the canary is not scaled down");
    assert_eq!(sim.reasons().iter().filter(|r| **r == "PrimaryNotReady").count(), 1);
    // Abort is refused: the primary already runs the new revision.
    sim.manual.abort = true;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Promoting);
    assert_eq!(sim.removed, vec![ANNOTATION_ABORT]);
    assert!(sim.events.last().unwrap().1.contains("promotion of podinfo.test has started"));
    // Once fixed, promotion finishes.
    sim.observed.primary = Some(ready());
    sim.after(2);
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Succeeded);
}

// ---- revisions in flight ----

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

// ---- gates ----

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

fn hooks(yaml: &str) -> CanarySpec {
    spec(&format!("analysisExtra: {{webhooks: [{yaml}]}}"))
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

// ---- A/B testing ----

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

// ---- session affinity ----

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

// ---- manual control ----

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

// ---- switches ----

#[test]
fn suspend_holds_everything_and_says_so() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.spec.suspend = Some(true);
    sim.manual.promote = true;
    let d = sim.after(10).clone();
    assert!(!d.ensure_objects);
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
    assert!(d.ensure_objects, "the routes are written although suspended");
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

// ---- time and restarts ----

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

#[test]
fn a_new_revision_before_the_primary_took_the_analysed_one_restarts_the_analysis() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Promoting], 10);
    // The copy to the primary did not happen (an API error), and rev3 arrives.
    sim.observed.primary_revision = Some("rev1".into());
    sim.release("rev3");
    let d = sim.after(1).clone();
    assert!(!d.promote_primary, "rev3 was never analysed: it must not reach the primary");
    assert_eq!(sim.status.phase, Phase::Progressing);
    assert_eq!(sim.status.last_applied_spec.as_deref(), Some("rev3"));
    assert_eq!(sim.status.canary_weight, Some(0));
    assert_eq!(sim.reasons().last(), Some(&"RevisionRestarted"));
}

#[test]
fn a_new_revision_during_the_primary_rollout_gets_no_traffic_and_waits_its_turn() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Promoting], 10);
    sim.observed.primary = Some(unready("1 of 2 updated replicas are available"));
    sim.after(1);
    assert_eq!(sim.observed.primary_revision.as_deref(), Some("rev2"));
    sim.release("rev3");
    let d = sim.after(1).clone();
    assert_eq!(d.canary_weight, 0, "the canary now runs rev3, which nobody analysed");
    assert!(!d.promote_primary);
    assert_eq!(sim.status.phase, Phase::Promoting);
    // The primary finishes rolling out rev2: rev2 is promoted, then rev3 gets its own run.
    sim.observed.primary = Some(ready());
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Succeeded);
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev2"));
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing);
    assert_eq!(sim.status.last_applied_spec.as_deref(), Some("rev3"));
}

#[test]
fn a_fix_released_while_the_primary_is_stuck_is_analysed() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Promoting], 10);
    sim.observed.primary = Some(unready("0 of 2 updated replicas are available"));
    sim.after(61);
    assert_eq!(sim.status.phase, Phase::Promoting);
    sim.release("rev3");
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing, "{:?}", sim.events);
    assert_eq!(sim.status.last_applied_spec.as_deref(), Some("rev3"));
    assert_eq!(sim.status.canary_weight, Some(0));
}

fn no_data(name: &str) -> Answer {
    let name = name.to_owned();
    Box::new(move |s| {
        if s == Stage::Analysis {
            vec![CheckResult {
                name: name.clone(),
                kind: CheckKind::Metric,
                verdict: Verdict::NoData,
                value: None,
                message: Some("no data: the query returned no series".into()),
                time: None,
            }]
        } else {
            Vec::new()
        }
    })
}

#[test]
fn too_little_data_holds_the_weight_and_the_evidence_accumulates_until_it_is_judged() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(10));
    let step = sim.status.last_step_time.clone();
    sim.answer = no_data("request-success-rate");
    for waited in [10, 20, 30] {
        sim.after(10);
        assert_eq!(sim.status.canary_weight, Some(10), "the step waits");
        assert_eq!(sim.status.phase, Phase::Progressing);
        assert_eq!(sim.status.failed_checks, Some(0), "too little data is never a failed check");
        assert_eq!(sim.status.no_data_since, step, "the window reaches back to the start of the step");
        let message = format!(
            "Waiting for data for podinfo.test at weight 10 ({waited}s of 60s): metric request-success-rate: no \
             data: the query returned no series"
        );
        assert_eq!(sim.promoted().message.as_deref(), Some(message.as_str()), "the condition says how long");
    }
    let said: Vec<_> = sim.events.iter().filter(|(r, _)| *r == "NoData").collect();
    assert_eq!(said.len(), 1, "the event is said when the wait starts: {:?}", sim.events);
    assert!(said[0].1.starts_with("Waiting for data for podinfo.test at weight 10 (10s of 60s): "));
    // Enough data at last: the step is judged and the run goes on.
    sim.answer = pass();
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(20));
    assert_eq!(sim.status.no_data_since, None);
    assert_eq!(sim.status.failed_checks, Some(0));
}

#[test]
fn a_canary_without_traffic_for_its_whole_progress_deadline_is_rolled_back_and_told_why() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.answer = no_data("request-success-rate");
    sim.run_until(&[Phase::Failed], 8);
    assert_eq!(sim.now, 71, "60s of no data after the first step at 11s");
    assert_eq!(sim.promoted().reason, "NoData");
    assert_eq!(
        sim.promoted().message.as_deref(),
        Some(
            "Rolling back podinfo.test: too little data to judge the canary at weight 10 for 60s, its progress \
             deadline (metric request-success-rate: no data: the query returned no series)"
        )
    );
    assert_eq!(sim.status.canary_weight, Some(0));
    assert!(sim.reasons().contains(&"RolledBack"));
}

#[test]
fn no_data_then_a_failure_counts_only_the_failure() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.answer = no_data("request-success-rate");
    sim.after(10);
    sim.after(10);
    sim.answer = fail_at(Stage::Analysis);
    sim.after(10);
    assert_eq!((sim.status.failed_checks, sim.status.no_data_since.as_ref()), (Some(1), None));
    assert_eq!(sim.status.phase, Phase::Progressing, "one failed check of a threshold of 2");
}

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

// ---- decisions a person watching would call wrong (issue 14) ----

impl Sim {
    /// One reconcile whose actions are taken but whose status write fails (a conflict with an
    /// annotation written meanwhile, or a crash): the status stays as it was.
    fn reconcile_losing_the_status(&mut self) {
        let status = self.status.clone();
        self.reconcile();
        self.status = status;
    }
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
fn a_step_weight_promotion_slower_than_the_deadline_is_not_taken_for_a_stuck_primary() {
    // Five promotion steps of 30s: 150s, against a deadline of 60s.
    let mut sim = Sim::initialized(spec("analysisExtra: {interval: 30s, stepWeightPromotion: 10}"));
    sim.release("rev2");
    sim.after(1);
    for _ in 0..10 {
        if sim.status.phase == Phase::Promoting {
            break;
        }
        sim.after(30);
    }
    assert_eq!(sim.status.phase, Phase::Promoting);
    sim.observed.primary = Some(ready());
    sim.after(0);
    sim.after(1);
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev2"), "recorded once the primary runs it");
    for _ in 0..3 {
        sim.after(30);
    }
    assert_eq!(sim.status.canary_weight, Some(20));
    // The primary's autoscaler adds pods as traffic comes back: briefly not ready, 90s after
    // the promotion started.
    sim.observed.primary = Some(unready("2 of 3 updated replicas are available"));
    sim.after(5);
    assert!(!sim.reasons().contains(&"PrimaryNotReady"), "{:?}", sim.events);
    // And a new revision arrives meanwhile: the promotion of rev2 is not lost.
    sim.release("rev3");
    sim.after(5);
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev2"));
    sim.observed.primary = Some(ready());
    sim.run_until(&[Phase::Succeeded, Phase::Progressing], 10);
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev2"));
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
fn a_primary_given_a_revision_by_something_else_is_reported_once() {
    let mut sim = Sim::initialized(spec(""));
    sim.observed.primary_revision = Some("edited".into());
    sim.after(1);
    sim.after(1);
    let said: Vec<_> = sim.events.iter().filter(|(r, _)| *r == "PrimaryRevisionChanged").collect();
    assert_eq!(said.len(), 1, "{:?}", sim.events);
    assert_eq!(
        said[0].1,
        "Primary podinfo-primary.test has revision edited, but the status records rev1 as promoted; Fledge did not \
         give it that revision"
    );
    let condition = conditions::get(&sim.status, conditions::PRIMARY_REVISION).unwrap();
    assert_eq!((condition.status, condition.reason.as_str()), (ConditionStatus::False, "Unexpected"));
    sim.observed.primary_revision = Some("rev1".into());
    sim.after(1);
    assert!(conditions::get(&sim.status, conditions::PRIMARY_REVISION).is_none());
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
fn time_suspended_or_unready_does_not_count_against_a_step_waiting_for_data() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.answer = no_data("request-success-rate");
    sim.after(10);
    sim.after(10);
    // Suspended for an hour, then resumed: the wait starts again.
    sim.spec.suspend = Some(true);
    sim.after(3600);
    sim.spec.suspend = None;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing, "{:?}", sim.events);
    assert_eq!(sim.status.no_data_since, Some(Time(at(sim.now))));
    // Unready for 45s of the 60s deadline, then ready: the wait starts again too.
    sim.observed.canary = unready("1 of 2 updated replicas are available");
    sim.after(45);
    sim.observed.canary = ready();
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Progressing, "{:?}", sim.events);
    sim.run_until(&[Phase::Failed], 10);
    assert_eq!(sim.promoted().reason, "NoData");
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

#[test]
fn no_data_at_a_blue_green_s_full_traffic_says_so() {
    let mut sim = Sim::initialized(spec("analysisExtra: {iterations: 2, stepWeight: null}"));
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Progressing], 1);
    for _ in 0..3 {
        sim.after(10);
    }
    assert_eq!((sim.status.canary_weight, sim.status.iterations), (Some(100), Some(2)));
    sim.answer = no_data("request-success-rate");
    sim.after(10);
    let message = sim.promoted().message.clone().unwrap();
    assert!(message.starts_with("Waiting for data for podinfo.test at full traffic (10s of 60s)"), "{message}");
}

#[test]
fn a_fix_released_while_the_primary_is_stuck_is_not_reported_as_a_foreign_primary_revision() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Promoting], 10);
    sim.observed.primary = Some(unready("0 of 2 updated replicas are available"));
    sim.after(0);
    sim.after(61);
    sim.release("rev3");
    sim.after(2);
    assert_eq!(sim.status.phase, Phase::Progressing, "{:?}", sim.events);
    assert_eq!(sim.status.last_promoted_spec.as_deref(), Some("rev2"), "the primary has what Fledge gave it");
    assert!(!sim.reasons().contains(&"PrimaryRevisionChanged"), "{:?}", sim.events);
}
