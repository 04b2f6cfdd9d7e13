//! `revertOnDeletion`: a finalizer on the Canary so that, when it is deleted, the target is
//! scaled back up and the apex Service and VirtualService send traffic to it again before the
//! objects Fledge owns are garbage-collected. Does I/O.

use crate::cluster::act;
use crate::cluster::objects::{self, Names};
use crate::cluster::observe;
use crate::cluster::reconcile::{Context, publish};
use crate::cluster::takeover;
use crate::cluster::workload;
use crate::error::Error;
use fledge_core::{EventType, conditions};
use fledge_crds::canary::{Canary, ConditionStatus, Phase};
use fledge_crds::istio::VirtualService;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use std::time::Duration;

/// The finalizer Fledge puts on Canaries with `revertOnDeletion: true`.
pub const FINALIZER: &str = "fledge.dev/revert";

/// Add the finalizer when the spec asks for a revert, remove it when it no longer does. The
/// JSON patch tests the list it replaces, so a concurrent change to it is never lost (and a
/// status write in between does not conflict, as a resourceVersion precondition would).
/// Returns the Canary as written when it changed it.
pub async fn keep_finalizer(client: &Client, canary: &Canary) -> Result<Option<Canary>, Error> {
    let want = canary.spec.revert_on_deletion == Some(true);
    let has = canary.finalizers().iter().any(|f| f == FINALIZER);
    if want == has {
        return Ok(None);
    }
    let mut finalizers: Vec<String> = canary.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    if want {
        finalizers.push(FINALIZER.to_owned());
    }
    set_finalizers(client, canary, finalizers).await.map(Some)
}

async fn set_finalizers(client: &Client, canary: &Canary, finalizers: Vec<String>) -> Result<Canary, Error> {
    let api: Api<Canary> = Api::namespaced(client.clone(), &canary.namespace().unwrap_or_default());
    let ops = match &canary.metadata.finalizers {
        Some(old) => json!([
            {"op": "test", "path": "/metadata/finalizers", "value": old},
            {"op": "replace", "path": "/metadata/finalizers", "value": finalizers},
        ]),
        None => json!([{"op": "add", "path": "/metadata/finalizers", "value": finalizers}]),
    };
    let patch: json_patch::Patch = serde_json::from_value(ops).map_err(|e| Error::Internal(e.to_string()))?;
    api.patch(&canary.name_any(), &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .map_err(|e| Error::act("the Canary's finalizers", e))
}

/// The Canary is being deleted: revert, then let it go.
pub async fn finalize(canary: &Canary, ctx: &Context) -> Result<Action, Error> {
    if !canary.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let client = &ctx.client;
    let now = Timestamp::now();
    let mut status = canary.status.clone().unwrap_or_default();
    let id = format!("{}.{}", canary.name_any(), canary.namespace().unwrap_or_default());
    if status.phase != Phase::Terminating {
        status.phase = Phase::Terminating;
        status.last_transition_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
        publish(ctx, canary, EventType::Normal, "Terminating", &format!("Reverting {id}: scaling up the target")).await;
    }
    let message = conditions::promoted_message(Phase::Terminating);
    conditions::set(&mut status, conditions::PROMOTED, ConditionStatus::Unknown, "Terminating", message, now);
    // Later writes go on from the Canary as written (its status writes carry its resourceVersion).
    let written = act::write_status(client, canary, &status).await?;
    let canary = written.as_ref().unwrap_or(canary);

    let world = match observe::observe(client, canary, &ctx.rules).await {
        Ok(world) => world,
        // Nothing to give the traffic back to: let the Canary go.
        Err(Error::TargetUnavailable(message)) => {
            publish(ctx, canary, EventType::Warning, "RevertSkipped", &message).await;
            return release(client, canary).await;
        }
        Err(e) => return Err(e),
    };
    act::scale_target(client, &world, fledge_core::TargetScale::Up).await?;
    let target = workload::state(&world.target, canary.spec.analysis.canary_ready_threshold);
    let since = status.last_transition_time.as_ref().map_or(now, |t| t.0);
    let waited =
        Duration::from_millis(u64::try_from((now.as_millisecond() - since.as_millisecond()).max(0)).unwrap_or(0));
    let deadline = Duration::from_secs(u64::try_from(canary.spec.progress_deadline_seconds()).unwrap_or(600));
    if !target.ready && waited < deadline {
        tracing::info!(canary = %id, why = %target.message, "waiting for the target before reverting the routes");
        return Ok(Action::requeue(Duration::from_secs(2)));
    }
    if !target.ready {
        let message = format!(
            "Reverting {id} although the target is not ready after {}s: {}",
            deadline.as_secs(),
            target.message
        );
        publish(ctx, canary, EventType::Warning, "RevertDeadlineExceeded", &message).await;
    }
    restore_routes(client, canary, &world).await?;
    status.phase = Phase::Terminated;
    status.last_transition_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
    let message = conditions::promoted_message(Phase::Terminated);
    conditions::set(&mut status, conditions::PROMOTED, ConditionStatus::Unknown, "Terminated", message, now);
    act::write_status(client, canary, &status).await?;
    publish(ctx, canary, EventType::Normal, "Terminated", &format!("Reverted {id}: traffic goes to the target")).await;
    release(client, canary).await
}

/// The apex Service selects the target's pods and no longer belongs to the Canary (so it
/// survives it); the VirtualService sends everything to the apex until it is collected.
async fn restore_routes(client: &Client, canary: &Canary, world: &observe::World) -> Result<(), Error> {
    let names = Names::of(canary);
    let unmanaged = objects::Unmanaged::of(canary);
    let services = objects::services(canary, &world.selector, &world.target)?;
    if let Some(mut apex) = services.into_iter().find(|s| s.metadata.name.as_deref() == Some(names.apex.as_str())) {
        apex.metadata.owner_references = None;
        if let Some(spec) = apex.spec.as_mut() {
            spec.selector = Some([(world.selector.0.clone(), world.selector.1.clone())].into());
        }
        act::apply::<Service>(client, apex, &unmanaged, |_| true).await?;
    }
    // A VirtualService that existed before the Canary goes back to what it was.
    if let Some(live) = &world.virtual_service
        && takeover::restore(client, live, &unmanaged).await?
    {
        return Ok(());
    }
    let mut vs = objects::virtual_service(canary, 0)?;
    for route in &mut vs.spec.http {
        route.route.retain(|d| d.destination.host == names.primary_service);
        for d in &mut route.route {
            d.destination.host = names.apex.clone();
            d.weight = Some(100);
        }
    }
    for route in &mut vs.spec.tcp {
        route.route.retain(|d| d.destination.host == names.primary_service);
        for d in &mut route.route {
            d.destination.host = names.apex.clone();
            d.weight = Some(100);
        }
    }
    act::apply::<VirtualService>(client, vs, &unmanaged, |_| true).await?;
    Ok(())
}

async fn release(client: &Client, canary: &Canary) -> Result<Action, Error> {
    let finalizers: Vec<String> = canary.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    set_finalizers(client, canary, finalizers).await?;
    Ok(Action::await_change())
}
