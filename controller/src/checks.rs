//! The seam through which the lifecycle runs its checks (metrics, access logs, webhooks,
//! gates) and tells people what happened (notifications). The lifecycle decides *when* a
//! stage runs; implementations of these traits decide *what* runs. Does I/O (implementations).

use fledge_crds::canary::{Canary, CanaryStatus, CheckKind, CheckResult, Verdict};
pub use fledge_webhooks::Severity;
use futures::future::BoxFuture;
use k8s_openapi::jiff::Timestamp;
use std::fmt;
use std::sync::Arc;

/// When in a rollout a set of checks runs, in Flagger's order of an analysis interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Before a new revision is scaled up (confirm-rollout gates). Not passing: phase Waiting.
    ConfirmRollout,
    /// Once, when the analysis of a run starts (pre-rollout hooks). Not passing: a failed check.
    PreRollout,
    /// Every analysis interval (rollout hooks, metrics, access logs). Not passing: a failed check.
    Analysis,
    /// Before each weight increase (confirm-traffic-increase gates). Not passing: hold.
    ConfirmTrafficIncrease,
    /// Before promotion (confirm-promotion gates). Not passing: phase WaitingPromotion.
    ConfirmPromotion,
    /// Each interval while a revision is progressing or waiting (rollback hooks). Passing (a
    /// 2xx answer) rolls back; anything else lets the rollout go on.
    Rollback,
    /// Once a run has ended, Succeeded or Failed (post-rollout hooks). Only logged.
    PostRollout,
}

impl Stage {
    /// The name used in logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfirmRollout => "confirm-rollout",
            Self::PreRollout => "pre-rollout",
            Self::Analysis => "analysis",
            Self::ConfirmTrafficIncrease => "confirm-traffic-increase",
            Self::ConfirmPromotion => "confirm-promotion",
            Self::Rollback => "rollback",
            Self::PostRollout => "post-rollout",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a check implementation may look at.
#[derive(Debug)]
pub struct CheckContext<'a> {
    /// The Canary, with the status as it was before this reconcile.
    pub canary: &'a Canary,
    /// The time of this reconcile.
    pub now: Timestamp,
    /// The start of the window to judge: when the previous analysis step ran, or, while the
    /// checks have too little data, when the evidence started to accumulate.
    pub since: Option<Timestamp>,
    /// Set while the evidence accumulates (the last interval had too little data): since
    /// when. Metric checks then widen their range (`{{ interval }}`) back to this time.
    pub accumulating_since: Option<Timestamp>,
}

impl<'a> CheckContext<'a> {
    /// The context of a check run on `canary` at `now`, its window taken from `status` (the
    /// status the decision was made from).
    pub fn of(canary: &'a Canary, status: &CanaryStatus, now: Timestamp) -> Self {
        let accumulating_since = status.no_data_since.as_ref().map(|t| t.0);
        let since = accumulating_since.or_else(|| status.last_step_time.as_ref().map(|t| t.0));
        Self { canary, now, since, accumulating_since }
    }
}

/// Runs the checks of one stage. An empty answer means there is nothing to check: the stage
/// passes. Implementations never fail: a check that cannot run is a result with
/// [`Verdict::Error`] and a message that says why.
pub trait Checks: Send + Sync {
    /// Run every check of `stage` for this canary.
    fn run<'a>(&'a self, stage: Stage, ctx: &'a CheckContext<'a>) -> BoxFuture<'a, Vec<CheckResult>>;
}

/// A stage with nothing configured yet: analysis and webhooks plug in here.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoChecks;

impl Checks for NoChecks {
    fn run<'a>(&'a self, _stage: Stage, _ctx: &'a CheckContext<'a>) -> BoxFuture<'a, Vec<CheckResult>> {
        Box::pin(async { Vec::new() })
    }
}

/// Several kinds of checks run as one: each stage's results are all of theirs, in order.
pub struct AllChecks(pub Vec<Arc<dyn Checks>>);

impl fmt::Debug for AllChecks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AllChecks").field(&self.0.len()).finish()
    }
}

impl Checks for AllChecks {
    fn run<'a>(&'a self, stage: Stage, ctx: &'a CheckContext<'a>) -> BoxFuture<'a, Vec<CheckResult>> {
        Box::pin(async move {
            let mut results = Vec::new();
            for checks in &self.0 {
                results.extend(checks.run(stage, ctx).await);
            }
            results
        })
    }
}

/// Whether every result of a stage lets the rollout go on.
pub fn all_pass(results: &[CheckResult]) -> bool {
    results.iter().all(|r| r.verdict == Verdict::Pass)
}

/// The first result that did not pass, for messages.
pub fn first_failure(results: &[CheckResult]) -> Option<&CheckResult> {
    results.iter().find(|r| r.verdict != Verdict::Pass)
}

/// Every result that failed or could not run, described and joined: what a Halted event
/// quotes, so two failing metrics are both named.
pub fn describe_failures(results: &[CheckResult]) -> String {
    let failed: Vec<String> =
        results.iter().filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error)).map(describe).collect();
    if failed.is_empty() { first_failure(results).map(describe).unwrap_or_default() } else { failed.join("; ") }
}

/// A sentence about a result that did not pass: `request-success-rate: 91.3 (min 99)`.
pub fn describe(result: &CheckResult) -> String {
    let kind = match result.kind {
        CheckKind::Readiness => "readiness",
        CheckKind::Metric => "metric",
        CheckKind::AccessLog => "access log",
        CheckKind::Webhook => "webhook",
    };
    match (&result.message, result.value) {
        (Some(message), _) => format!("{kind} {}: {message}", result.name),
        (None, Some(value)) => format!("{kind} {}: {:?} with value {value}", result.name, result.verdict),
        (None, None) => format!("{kind} {}: {:?}", result.name, result.verdict),
    }
}

/// Something people should be told about (the notification hook point).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// What happened.
    pub kind: NoticeKind,
    /// A sentence for people.
    pub message: String,
    /// Facts shown beside the message (revision, image, failed checks, duration), in order.
    pub facts: Vec<(String, String)>,
}

/// The kinds of notice, with the severity Flagger's alert filtering uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// A new revision started its analysis.
    Started,
    /// A rollout waits for a gate or a person.
    Waiting,
    /// The new revision is now the primary.
    Promoted,
    /// The new revision was rolled back.
    Failed,
    /// Someone acted by annotation (promote, abort, retry).
    Manual,
    /// Something needs attention but nothing changed (a deadline passed while holding).
    Warning,
}

impl NoticeKind {
    /// Flagger's alert severity of this kind of notice.
    pub fn severity(self) -> Severity {
        match self {
            Self::Started | Self::Promoted | Self::Manual => Severity::Info,
            Self::Waiting | Self::Warning => Severity::Warn,
            Self::Failed => Severity::Error,
        }
    }

    /// A headline about the canary `id` (`podinfo.test`).
    pub fn title(self, id: &str) -> String {
        match self {
            Self::Started => format!("{id}: new revision"),
            Self::Waiting => format!("{id} is waiting for approval"),
            Self::Promoted => format!("{id} promoted"),
            Self::Failed => format!("{id} rolled back"),
            Self::Manual => format!("{id}: manual action"),
            Self::Warning => format!("{id} needs attention"),
        }
    }
}

/// Tells people. Implementations must not fail the reconcile: they log their own errors.
pub trait Notifier: Send + Sync {
    /// Send one notice about a canary.
    fn notify<'a>(&'a self, canary: &'a Canary, notice: &'a Notice) -> BoxFuture<'a, ()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, verdict: Verdict, message: &str) -> CheckResult {
        CheckResult {
            name: name.into(),
            kind: CheckKind::Metric,
            verdict,
            value: None,
            message: Some(message.into()),
            time: None,
        }
    }

    #[test]
    fn every_failed_check_is_named() {
        let results = [
            result("request-success-rate", Verdict::Fail, "request-success-rate 90 is below the minimum 99"),
            result("latency", Verdict::Pass, "latency 40 (maximum 500)"),
            result("errors", Verdict::Error, "query \"x\" to http://p:9090: connection refused"),
        ];
        assert_eq!(
            describe_failures(&results),
            "metric request-success-rate: request-success-rate 90 is below the minimum 99; \
             metric errors: query \"x\" to http://p:9090: connection refused"
        );
        let waiting = [result("latency", Verdict::NoData, "no data: empty result")];
        assert_eq!(describe_failures(&waiting), "metric latency: no data: empty result");
    }
}
