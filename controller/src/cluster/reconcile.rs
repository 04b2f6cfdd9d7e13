//! One reconcile of a Canary: observe, decide (asking for check stages as the decision
//! needs them), act, report. Does I/O.

use crate::checks::{CheckContext, Checks};
use crate::cluster::act;
use crate::cluster::observe::{self, Observation, World};
use crate::cluster::revert;
use crate::cluster::rules::Rules;
use crate::delivery::Notifier;
use crate::delivery::events::Publisher;
use crate::error::Error;
use crate::process::telemetry::Metrics;
use fledge_core::{
    self, Decision, Deletion, EventType, Input, Manual, Objects, Observed, Stage, TargetScale, spec_valid,
};
use fledge_crds::canary::{Canary, CanaryStatus, CheckKind, Phase};
use fledge_crds::validate::{Severity, cross_namespace_references, validate_canary};
use fledge_crds::{ANNOTATION_ABORT, ANNOTATION_PROMOTE, ANNOTATION_RETRY};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a reference to another namespace is refused under `--no-cross-namespace-refs`.
const CROSS_NAMESPACE_REFUSED: &str = "cross-namespace references are disabled (--no-cross-namespace-refs)";
/// How long to wait before looking again at a spec that is wrong (a change comes as an event).
const SPEC_RETRY: Duration = Duration::from_secs(300);

/// What every reconcile shares.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Publishes events on Canaries.
    pub events: Publisher,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
    /// Runs the check stages.
    pub checks: Arc<dyn Checks>,
    /// Tells people.
    pub notifier: Arc<dyn Notifier>,
    /// The Canaries the controller watches, for the per-namespace count.
    pub store: Option<Store<Canary>>,
    /// What the controller's flags decide for every Canary.
    pub rules: Rules,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

/// Reconcile one Canary.
pub async fn reconcile(canary: Arc<Canary>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let name = canary.name_any();
    let namespace = canary.namespace().unwrap_or_default();
    let span = tracing::info_span!("reconcile", canary = %name, namespace = %namespace);
    let result = tracing::Instrument::instrument(reconcile_latest(&canary, &ctx), span).await;
    let seconds = started.elapsed().as_secs_f64();
    ctx.metrics.observe_reconcile_duration(seconds);
    if canary.status.as_ref().is_some_and(|s| s.phase.is_active()) {
        ctx.metrics.observe_analysis_duration(&namespace, &name, seconds);
    }
    match &result {
        Ok(_) => ctx.metrics.inc_reconcile("ok"),
        Err(e) => {
            ctx.metrics.inc_reconcile("error");
            ctx.metrics.inc_reconcile_error(e.category());
        }
    }
    if let Some(store) = &ctx.store {
        let count = store.state().iter().filter(|c| c.namespace().as_deref() == Some(namespace.as_str())).count();
        ctx.metrics.set_canary_total(&namespace, i64::try_from(count).unwrap_or(i64::MAX));
    }
    result
}

/// After a failed reconcile: spec problems were reported and wait for a change; anything
/// else is retried soon.
pub fn error_policy(canary: Arc<Canary>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(canary = %canary.name_any(), error = %error, category = error.category(), "reconcile failed");
    match error {
        e if e.needs_user() => Action::requeue(SPEC_RETRY),
        _ => Action::requeue(Duration::from_secs(5)),
    }
}

async fn reconcile_latest(cached: &Canary, ctx: &Context) -> Result<Action, Error> {
    // The watch cache can lag behind our own last status write (a change to an owned object
    // may trigger the next reconcile first); deciding from a stale status would repeat a step.
    // One read from the API server gives the status as last written.
    let api: Api<Canary> = Api::namespaced(ctx.client.clone(), &cached.namespace().unwrap_or_default());
    let Some(fresh) = api.get_opt(&cached.name_any()).await.map_err(|e| Error::observe("the Canary", e))? else {
        return Ok(Action::await_change());
    };
    let now = clock();
    let deletion = revert::deletion(&fresh);
    let canary = match deletion {
        Deletion::No => revert::keep_finalizer(&ctx.client, &fresh).await?.unwrap_or(fresh),
        // A Canary on its way out is reverted as it is, whatever its spec now says.
        Deletion::LetGo | Deletion::Revert => fresh,
    };
    let canary = &canary;

    let mut status = canary.status.clone().unwrap_or_default();
    if deletion == Deletion::No {
        let (errors, warnings) = spec_problems(canary, &ctx.rules);
        if !errors.is_empty() {
            return spec_problem(canary, ctx, status, errors.join("; "), now).await;
        }
        spec_valid::accepted(&mut status, &warnings, now);
    }
    let observation = observe::observe(&ctx.client, canary, &ctx.rules).await?;
    let decision = decide_with_checks(canary, ctx, &status, observation.observed(), deletion, now).await;
    act_on(canary, ctx, &observation, &decision, now).await?;
    match &observation.observed().target_unavailable {
        // Said in the status and an event; waits for a change, as a spec problem does.
        Some(why) if deletion == Deletion::No => Err(Error::TargetUnavailable(why.clone())),
        _ => Ok(Action::requeue(decision.requeue_after)),
    }
}

/// The time of this reconcile, read once: everything decided, checked and written in it is
/// at this instant. Whole seconds, as the status stores times: the end of a step's check
/// window and the `lastStepTime` the next window starts from are then the same instant, so no
/// access-log line is counted twice.
fn clock() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// The problems of the spec under the controller's rules, as `field: message`: the errors
/// (Fledge cannot act on it) and, when there are none, the warnings.
fn spec_problems(canary: &Canary, rules: &Rules) -> (Vec<String>, Vec<String>) {
    let mut problems = validate_canary(canary, None);
    if !rules.cross_namespace_refs {
        problems.extend(cross_namespace_references(canary, CROSS_NAMESPACE_REFUSED));
    }
    let said = |p: &fledge_crds::validate::Problem| p.to_string();
    let errors: Vec<String> = problems.iter().filter(|p| p.severity == Severity::Error).map(said).collect();
    let warnings = if errors.is_empty() { problems.iter().map(said).collect() } else { Vec::new() };
    (errors, warnings)
}

/// Decide, running each check stage the decision asks for, until it asks for nothing more.
async fn decide_with_checks(
    canary: &Canary,
    ctx: &Context,
    status: &CanaryStatus,
    observed: &Observed,
    deletion: Deletion,
    now: Timestamp,
) -> Decision {
    let annotations = canary.annotations();
    let flag = |key: &str| annotations.get(key).is_some_and(|v| v == "true");
    let manual =
        Manual { promote: flag(ANNOTATION_PROMOTE), abort: flag(ANNOTATION_ABORT), retry: flag(ANNOTATION_RETRY) };
    let name = canary.name_any();
    let namespace = canary.namespace().unwrap_or_default();
    let mut results = BTreeMap::new();
    loop {
        let input = Input {
            name: &name,
            namespace: &namespace,
            generation: canary.metadata.generation,
            spec: &canary.spec,
            status,
            manual,
            deletion,
            observed,
            results: &results,
            now,
        };
        let decision = fledge_core::decide(&input);
        let Some(stage) = decision.needs else { return decision };
        let check_ctx = CheckContext::of(canary, status, now);
        let found = ctx.checks.check(stage, &check_ctx).await;
        tracing::debug!(stage = %stage, results = found.len(), "ran checks");
        results.insert(stage, found);
    }
}

/// Carry out a decision: the objects and the target's scale, then what is said (events before
/// the status, what leaves the cluster after it), the annotations acted on and the finalizer.
async fn act_on(
    canary: &Canary,
    ctx: &Context,
    observation: &Observation,
    d: &Decision,
    now: Timestamp,
) -> Result<(), Error> {
    let client = &ctx.client;
    write_objects(canary, ctx, observation, d).await?;
    if d.target != TargetScale::Keep {
        act::scale_target(client, usable(observation)?, d.target).await?;
    }
    // Events, notices and post-rollout hooks describe the Canary as decided: the phase it is
    // now in and the revision it now runs.
    let decided = (!d.events.is_empty() || !d.notices.is_empty() || d.post_rollout)
        .then(|| Canary { status: Some(d.status.clone()), ..canary.clone() });
    let decided = decided.as_ref().unwrap_or(canary);
    // The Kubernetes events are the record of what was done to the objects, so they are
    // written before the status (a test or a person who sees the phase finds its event).
    for event in &d.events {
        ctx.events.record(decided, event.type_, event.reason, &event.message).await;
    }
    // The status next: an annotation removed before a failed status write would be an abort
    // or promote acted on and then forgotten. It is written on the condition that the Canary
    // is unchanged; a conflict means this decision is made again, so what leaves the cluster
    // (event webhooks, notifications, post-rollout hooks) waits for the write to succeed and
    // is sent once.
    act::write_status(client, canary, &d.status).await?;
    for event in &d.events {
        ctx.events.forward(decided, event.type_, &event.message);
    }
    for notice in &d.notices {
        ctx.notifier.notify(decided, notice).await;
    }
    if d.post_rollout {
        post_rollout(decided, ctx, now).await;
    }
    act::remove_annotations(client, canary, &d.remove_annotations).await?;
    if d.release_finalizer {
        revert::release(client, canary).await?;
    }
    report(canary, ctx, d);
    Ok(())
}

/// Write the objects the decision asks for.
async fn write_objects(canary: &Canary, ctx: &Context, observation: &Observation, d: &Decision) -> Result<(), Error> {
    let client = &ctx.client;
    match d.objects {
        Objects::Untouched => {}
        Objects::Routed => {
            let world = usable(observation)?;
            if d.promote_primary {
                act::promote_primary(client, canary, world, &ctx.rules).await?;
            }
            let routing = crate::cluster::objects::Routing::of(&d.status, d.canary_weight, d.mirror);
            let found = match act::ensure_routing(client, canary, world, &routing, d.route_apex, &ctx.rules).await {
                Ok(found) => found,
                // Someone else's VirtualService that cannot be taken: said, and nothing moves.
                Err(Error::Foreign(why)) => {
                    publish(ctx, canary, EventType::Warning, "RoutingBlocked", &why).await;
                    return Err(Error::Foreign(why));
                }
                Err(e) => return Err(e),
            };
            if let Some(message) = found.taken {
                publish(ctx, canary, EventType::Normal, "TookOver", &message).await;
            }
            if let Some(message) = found.drift {
                publish(ctx, canary, EventType::Warning, "RoutesRestored", &message).await;
            }
        }
        Objects::PrimaryOnly => act::route_all_to_primary(client, canary).await?,
        Objects::Reverted => revert::restore_routes(client, canary, usable(observation)?).await?,
    }
    Ok(())
}

/// The world of a usable target, which the decision needs to be carried out.
fn usable(observation: &Observation) -> Result<&World, Error> {
    observation.world().ok_or_else(|| Error::Internal("the decision needs the target, which cannot be used".to_owned()))
}

/// The post-rollout hooks of a run that ended (the status already says how): called once,
/// their failures published as Warning events and otherwise ignored, as in Flagger.
async fn post_rollout(canary: &Canary, ctx: &Context, now: Timestamp) {
    let check_ctx = CheckContext { canary, now, since: None, accumulating_since: None };
    let results = ctx.checks.check(Stage::PostRollout, &check_ctx).await;
    for result in results.iter().filter(|r| r.verdict != fledge_crds::canary::Verdict::Pass) {
        let id = format!("{}.{}", canary.name_any(), canary.namespace().unwrap_or_default());
        let why = result.message.as_deref().unwrap_or_default();
        let message = format!("Post-rollout hook {:?} of {id} failed: {why}", result.name);
        publish(ctx, canary, EventType::Warning, "PostRolloutFailed", &message).await;
    }
}

/// A spec Fledge cannot act on: the `SpecValid` condition and a Warning event (once per
/// distinct message), and nothing else moves.
async fn spec_problem(
    canary: &Canary,
    ctx: &Context,
    mut status: CanaryStatus,
    message: String,
    now: Timestamp,
) -> Result<Action, Error> {
    if let Some(event) = spec_valid::refused(&mut status, canary.metadata.generation, &message, now) {
        publish(ctx, canary, event.type_, event.reason, &event.message).await;
    }
    act::write_status(&ctx.client, canary, &status).await?;
    Err(Error::InvalidSpec(message))
}

/// Publish an event on the Canary; a failure is logged, never fatal.
pub async fn publish(ctx: &Context, canary: &Canary, type_: EventType, reason: &str, message: &str) {
    ctx.events.publish(canary, type_, reason, message).await;
}

fn report(canary: &Canary, ctx: &Context, d: &Decision) {
    let name = canary.name_any();
    let namespace = canary.namespace().unwrap_or_default();
    let before = canary.status.as_ref().map(|s| s.phase).unwrap_or_default();
    let phase = d.status.phase;
    let status = match phase {
        Phase::Initialized | Phase::Succeeded => 1,
        Phase::Failed => 2,
        _ => 0,
    };
    ctx.metrics.set_canary_status(&namespace, &name, status);
    let names = crate::cluster::objects::Names::of(canary);
    ctx.metrics.set_canary_weight(&namespace, &names.primary, i64::from(100 - d.canary_weight));
    ctx.metrics.set_canary_weight(&namespace, &names.target, i64::from(d.canary_weight));
    // The last value of each metric; NaN when its last check had none (no data, an error), so
    // an old value does not stand in for a check that could not measure.
    for check in d.status.checks.iter().flatten() {
        if matches!(check.kind, CheckKind::Metric | CheckKind::AccessLog) {
            ctx.metrics.set_metric_analysis(&namespace, &name, &check.name, check.value.unwrap_or(f64::NAN));
        }
    }
    if before != phase {
        match phase {
            Phase::Succeeded => ctx.metrics.inc_success(&namespace, &name),
            Phase::Failed => ctx.metrics.inc_failure(&namespace, &name),
            _ => {}
        }
    }
}
