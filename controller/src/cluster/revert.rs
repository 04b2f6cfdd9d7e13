//! `revertOnDeletion`: a finalizer on the Canary so that, when it is deleted, the target is
//! scaled back up and the apex Service and VirtualService send traffic to it again before the
//! objects Fledge owns are garbage-collected. The core decides when ([`Deletion`]); this keeps
//! the finalizer, gives the routes back and releases it. Does I/O.

use crate::cluster::act;
use crate::cluster::objects::{self, Names};
use crate::cluster::observe;
use crate::cluster::takeover;
use crate::error::Error;
use fledge_core::Deletion;
use fledge_crds::canary::Canary;
use fledge_crds::istio::VirtualService;
use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, ReplaceOperation, TestOperation};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::Value;

/// The finalizer Fledge puts on Canaries with `revertOnDeletion: true`.
pub const FINALIZER: &str = "fledge.dev/revert";

/// Whether the Canary is being deleted, and whether Fledge's finalizer holds it.
pub fn deletion(canary: &Canary) -> Deletion {
    match (canary.meta().deletion_timestamp.is_some(), has_finalizer(canary)) {
        (false, _) => Deletion::No,
        (true, false) => Deletion::LetGo,
        (true, true) => Deletion::Revert,
    }
}

fn has_finalizer(canary: &Canary) -> bool {
    canary.finalizers().iter().any(|f| f == FINALIZER)
}

/// Add the finalizer when the spec asks for a revert, remove it when it no longer does. The
/// JSON patch tests the list it replaces, so a concurrent change to it is never lost (and a
/// status write in between does not conflict, as a resourceVersion precondition would).
/// Returns the Canary as written when it changed it.
pub async fn keep_finalizer(client: &Client, canary: &Canary) -> Result<Option<Canary>, Error> {
    let want = canary.spec.revert_on_deletion == Some(true);
    if want == has_finalizer(canary) {
        return Ok(None);
    }
    let mut finalizers: Vec<String> = canary.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    if want {
        finalizers.push(FINALIZER.to_owned());
    }
    set_finalizers(client, canary, finalizers).await.map(Some)
}

/// Remove the finalizer: the Canary may go.
pub async fn release(client: &Client, canary: &Canary) -> Result<(), Error> {
    let finalizers: Vec<String> = canary.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    set_finalizers(client, canary, finalizers).await.map(drop)
}

async fn set_finalizers(client: &Client, canary: &Canary, finalizers: Vec<String>) -> Result<Canary, Error> {
    let api: Api<Canary> = Api::namespaced(client.clone(), &canary.namespace().unwrap_or_default());
    let patch = finalizers_patch(canary.metadata.finalizers.as_deref(), finalizers);
    api.patch(&canary.name_any(), &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
        .map_err(|e| Error::act("the Canary's finalizers", e))
}

/// The JSON patch that sets the finalizers to `new`, on the condition that they are still
/// `old`.
fn finalizers_patch(old: Option<&[String]>, new: Vec<String>) -> json_patch::Patch {
    let path = PointerBuf::from_tokens(["metadata", "finalizers"]);
    let value = Value::from(new);
    json_patch::Patch(match old {
        Some(old) => vec![
            PatchOperation::Test(TestOperation { path: path.clone(), value: Value::from(old.to_vec()) }),
            PatchOperation::Replace(ReplaceOperation { path, value }),
        ],
        None => vec![PatchOperation::Add(AddOperation { path, value })],
    })
}

/// The apex Service selects the target's pods and no longer belongs to the Canary (so it
/// survives it); the VirtualService sends everything to the apex until it is collected.
pub async fn restore_routes(client: &Client, canary: &Canary, world: &observe::World) -> Result<(), Error> {
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

#[cfg(test)]
mod tests {
    use super::finalizers_patch;
    use serde_json::json;

    #[test]
    fn the_finalizers_are_replaced_only_if_unchanged_or_added_when_there_are_none() {
        let old = ["team.example/hold".to_owned()];
        let new = vec!["team.example/hold".to_owned(), "fledge.dev/revert".to_owned()];
        let patch = serde_json::to_value(finalizers_patch(Some(&old), new.clone())).unwrap();
        assert_eq!(
            patch,
            json!([
                {"op": "test", "path": "/metadata/finalizers", "value": ["team.example/hold"]},
                {"op": "replace", "path": "/metadata/finalizers", "value": new},
            ])
        );
        let patch = serde_json::to_value(finalizers_patch(None, vec!["fledge.dev/revert".to_owned()])).unwrap();
        assert_eq!(patch, json!([{"op": "add", "path": "/metadata/finalizers", "value": ["fledge.dev/revert"]}]));
    }
}
