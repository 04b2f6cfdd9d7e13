//! Every phase transition of the lifecycle, driven through `decide` with a simulated clock and
//! simulated check results, the way the reconciler drives it.

mod analysis;
mod ending;
mod gates;
mod initialization;
mod manual;
mod no_data;
mod promotion;
mod restarts;
mod revisions;
mod strategy;
mod switches;
mod windows;

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
    deletion: Deletion,
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
    /// The finalizer was released.
    released: bool,
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
            deletion: Deletion::No,
            now: 0,
            answer: pass(),
            asked: Vec::new(),
            events: Vec::new(),
            notices: Vec::new(),
            weights: Vec::new(),
            target: TargetScale::Keep,
            promoted_primary: false,
            removed: Vec::new(),
            released: false,
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
                deletion: self.deletion,
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
        self.released |= d.release_finalizer;
        self.events.extend(d.events.iter().map(|e| (e.reason, e.message.clone())));
        self.notices.extend(d.notices.iter().map(|n| n.kind));
        self.status = d.status.clone();
        self.last = Some(d);
        self.last.as_ref().unwrap()
    }

    /// One reconcile whose actions are taken but whose status write fails (a conflict with an
    /// annotation written meanwhile, or a crash): the status stays as it was.
    fn reconcile_losing_the_status(&mut self) {
        let status = self.status.clone();
        self.reconcile();
        self.status = status;
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

/// The test spec with these webhooks.
fn hooks(yaml: &str) -> CanarySpec {
    spec(&format!("analysisExtra: {{webhooks: [{yaml}]}}"))
}

/// Checks that answer the analysis with no data from the metric `name`.
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
