//! The checks a decision asks for: the seam ([`Checks`]) through which the lifecycle runs a
//! stage, and its implementations: metrics from Prometheus, access logs (read from pods or
//! Loki), webhooks and gates, with the objects and credentials they read. The lifecycle
//! decides *when* a stage runs; these decide *what* runs. Does I/O (the implementations).

pub mod access_logs;
pub mod credentials;
pub mod lookup;
pub mod metrics;
pub mod pod_logs;
pub mod webhooks;

use fledge_core::Stage;
use fledge_crds::canary::{Canary, CanaryStatus, CheckResult};
use futures::future::BoxFuture;
use k8s_openapi::jiff::Timestamp;
use std::fmt;
use std::sync::Arc;

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
    fn check<'a>(&'a self, stage: Stage, ctx: &'a CheckContext<'a>) -> BoxFuture<'a, Vec<CheckResult>>;
}

/// A stage with nothing configured yet: analysis and webhooks plug in here.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoChecks;

impl Checks for NoChecks {
    fn check<'a>(&'a self, _stage: Stage, _ctx: &'a CheckContext<'a>) -> BoxFuture<'a, Vec<CheckResult>> {
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
    fn check<'a>(&'a self, stage: Stage, ctx: &'a CheckContext<'a>) -> BoxFuture<'a, Vec<CheckResult>> {
        Box::pin(async move {
            let mut results = Vec::new();
            for checks in &self.0 {
                results.extend(checks.check(stage, ctx).await);
            }
            results
        })
    }
}
