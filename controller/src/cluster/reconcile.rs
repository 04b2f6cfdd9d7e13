//! One reconcile of a Canary: observe, decide (asking for check stages as the decision
//! needs them), act, report. Does I/O.

use crate::checks::{CheckContext, Checks};
use crate::cluster::act;
use crate::cluster::observe::{self, World};
use crate::cluster::revert;
use crate::cluster::rules::Rules;
use crate::delivery::Notifier;
use crate::delivery::events::Publisher;
use crate::error::Error;
use crate::process::telemetry::Metrics;
use fledge_core::{self, Decision, EventType, Input, Manual, conditions};
use fledge_core::{Notice, NoticeKind, Stage};
use fledge_crds::canary::{Canary, CanaryStatus, CheckKind, ConditionStatus, Phase};
use fledge_crds::validate::{Severity, cross_namespace_references, validate_canary};
use fledge_crds::{ANNOTATION_ABORT, ANNOTATION_PROMOTE, ANNOTATION_RETRY};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::{Api, Client, Resource, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The condition that reports problems in the spec.
pub const SPEC_VALID: &str = "SpecValid";
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
    let canary = &fresh;
    if canary.meta().deletion_timestamp.is_some() {
        return revert::finalize(canary, ctx).await;
    }
    let with_finalizer = revert::keep_finalizer(&ctx.client, canary).await?;
    let canary = with_finalizer.as_ref().unwrap_or(canary);

    let mut status = canary.status.clone().unwrap_or_default();
    let mut problems = validate_canary(canary, None);
    if !ctx.rules.cross_namespace_refs {
        problems.extend(cross_namespace_references(canary, CROSS_NAMESPACE_REFUSED));
    }
    let errors: Vec<String> = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect();
    if !errors.is_empty() {
        return spec_problem(canary, ctx, status, errors.join("; ")).await;
    }
    let warnings: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect();
    if warnings.is_empty() {
        conditions::clear(&mut status, SPEC_VALID);
    } else {
        let now = Timestamp::now();
        conditions::set(&mut status, SPEC_VALID, ConditionStatus::True, "Warnings", &warnings.join("; "), now);
    }

    let world = match observe::observe(&ctx.client, canary, &ctx.rules).await {
        Ok(world) => world,
        Err(Error::TargetUnavailable(message)) => {
            if status.phase.is_active() {
                status = target_gone(canary, ctx, status, &message).await?;
                let ended = Canary { status: Some(status.clone()), ..canary.clone() };
                let result = spec_problem(canary, ctx, status, message).await;
                post_rollout(&ended, ctx).await;
                return result;
            }
            return spec_problem(canary, ctx, status, message).await;
        }
        Err(e) => return Err(e),
    };
    let decision = decide_with_checks(canary, ctx, &status, &world).await;
    act_on(canary, ctx, &world, &decision).await?;
    Ok(Action::requeue(decision.requeue_after))
}

/// Decide, running each check stage the decision asks for, until it asks for nothing more.
async fn decide_with_checks(canary: &Canary, ctx: &Context, status: &CanaryStatus, world: &World) -> Decision {
    // Whole seconds, as the status stores times: the end of this step's check window and the
    // `lastStepTime` the next window starts from are then the same instant, so no access-log
    // line is counted twice.
    let now = Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now());
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
            observed: &world.observed,
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

async fn act_on(canary: &Canary, ctx: &Context, world: &World, d: &Decision) -> Result<(), Error> {
    let client = &ctx.client;
    if d.ensure_objects {
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
        act::scale_target(client, world, d.target).await?;
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
        post_rollout(decided, ctx).await;
    }
    act::remove_annotations(client, canary, &d.remove_annotations).await?;
    report(canary, ctx, d);
    Ok(())
}

/// The post-rollout hooks of a run that ended (the status already says how): called once,
/// their failures published as Warning events and otherwise ignored, as in Flagger.
async fn post_rollout(canary: &Canary, ctx: &Context) {
    let now = Timestamp::now();
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
) -> Result<Action, Error> {
    let said = conditions::get(&status, SPEC_VALID).is_some_and(|c| c.message.as_deref() == Some(message.as_str()));
    conditions::set(&mut status, SPEC_VALID, ConditionStatus::False, "InvalidSpec", &message, Timestamp::now());
    status.observed_generation = canary.metadata.generation;
    if !said {
        publish(ctx, canary, EventType::Warning, "InvalidSpec", &message).await;
    }
    act::write_status(&ctx.client, canary, &status).await?;
    Err(Error::InvalidSpec(message))
}

/// The target vanished (or became unusable) while traffic was on it: send everything to the
/// primary at once rather than to a Service without pods, and say so. The run is Failed.
async fn target_gone(
    canary: &Canary,
    ctx: &Context,
    mut status: CanaryStatus,
    why: &str,
) -> Result<CanaryStatus, Error> {
    let vs = crate::cluster::objects::virtual_service(canary, 0)?;
    let unmanaged = crate::cluster::objects::Unmanaged::of(canary);
    act::apply::<fledge_crds::istio::VirtualService>(&ctx.client, vs, &unmanaged, |_| true).await?;
    let id = format!("{}.{}", canary.name_any(), canary.namespace().unwrap_or_default());
    let message = format!("Rolling back {id}: all traffic to the primary, the canary cannot serve ({why})");
    let now = Timestamp::now();
    status.phase = Phase::Failed;
    status.canary_weight = Some(0);
    status.failed_checks = Some(0);
    status.last_transition_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
    conditions::set(&mut status, conditions::PROMOTED, ConditionStatus::False, "TargetUnavailable", &message, now);
    let ended = Canary { status: Some(status.clone()), ..canary.clone() };
    publish(ctx, &ended, EventType::Warning, "RolledBack", &message).await;
    let facts = vec![("Phase".to_owned(), Phase::Failed.as_str().to_owned())];
    ctx.notifier.notify(&ended, &Notice { kind: NoticeKind::Failed, message, facts }).await;
    ctx.metrics.inc_failure(&canary.namespace().unwrap_or_default(), &canary.name_any());
    Ok(status)
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
