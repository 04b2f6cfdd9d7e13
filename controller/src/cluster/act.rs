//! Carrying out a decision: server-side apply of the objects Fledge owns (skipped when the live
//! object already carries what would be written), scaling the target, removing annotations and
//! writing the status. Does I/O (writes).

use crate::cluster::objects::{self, FIELD_MANAGER, Names, Unmanaged};
use crate::cluster::observe::{ANNOTATION_REVISION, World};
use crate::cluster::rules::Rules;
use crate::cluster::takeover::{self, Takeover};
use crate::error::Error;
use fledge_core::TargetScale;
use fledge_crds::canary::{Canary, CanaryStatus};
use fledge_crds::istio::{DestinationRule, VirtualService};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fmt::Debug;

/// The annotation holding a hash of what Fledge last applied to an object, so a reconcile
/// that would write the same thing writes nothing.
pub const ANNOTATION_APPLIED: &str = "fledge.dev/applied";

fn digest(value: &impl Serialize) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    let hash = Sha256::digest(text.as_bytes());
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Server-side apply `desired`, without the label and annotation keys that are `unmanaged`,
/// unless the live object carries the same applied hash and `current` says the live object is
/// still as wanted. Returns whether it wrote.
pub async fn apply<K>(
    client: &Client,
    desired: K,
    unmanaged: &Unmanaged,
    current: impl Fn(&K) -> bool,
) -> Result<bool, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Serialize + DeserializeOwned + Debug,
{
    let live = read(client, &desired.namespace().unwrap_or_default(), &desired.name_any()).await?;
    apply_over(client, desired, live.as_ref(), unmanaged, current).await
}

/// The live object of that kind and name, if any.
pub async fn read<K>(client: &Client, namespace: &str, name: &str) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    api.get_opt(name).await.map_err(|e| Error::observe(format!("{} {namespace}/{name}", K::kind(&())), e))
}

/// [`apply`] over a `live` object already read.
pub async fn apply_over<K>(
    client: &Client,
    mut desired: K,
    live: Option<&K>,
    unmanaged: &Unmanaged,
    current: impl Fn(&K) -> bool,
) -> Result<bool, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Serialize + DeserializeOwned + Debug,
{
    let namespace = desired.namespace().unwrap_or_default();
    let name = desired.name_any();
    let what = format!("{} {namespace}/{name}", K::kind(&()));
    let api: Api<K> = Api::namespaced(client.clone(), &namespace);
    // Here, where every write passes, so no object Fledge writes can carry someone else's key.
    unmanaged.strip(desired.meta_mut());
    let hash = digest(&desired);
    if let Some(live) = live
        && live.annotations().get(ANNOTATION_APPLIED) == Some(&hash)
        && current(live)
    {
        return Ok(false);
    }
    if let Some(live) = live {
        unmanaged.keep_owned(desired.meta_mut(), live.meta(), FIELD_MANAGER);
    }
    desired.annotations_mut().insert(ANNOTATION_APPLIED.to_owned(), hash);
    api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&desired))
        .await
        .map_err(|e| Error::act(what, e))?;
    tracing::debug!(object = %name, kind = K::kind(&()).as_ref(), "applied");
    Ok(true)
}

fn always<K>(_: &K) -> bool {
    true
}

/// The Services, DestinationRules, VirtualService (at `canary_weight`) and primary autoscaler;
/// without `route_apex`, not the apex Service and the VirtualService, which send users' traffic.
/// Returns what writing the VirtualService took over or put back, for events.
pub async fn ensure_routing(
    client: &Client,
    canary: &Canary,
    world: &World,
    routing: &objects::Routing,
    route_apex: bool,
    rules: &Rules,
) -> Result<Takeover, Error> {
    let canary_weight = routing.canary_weight;
    let names = Names::of(canary);
    let unmanaged = Unmanaged::of(canary);
    for service in objects::services(canary, &world.selector, &world.target)? {
        if route_apex || service.metadata.name.as_deref() != Some(names.apex.as_str()) {
            apply::<Service>(client, service, &unmanaged, always).await?;
        }
    }
    for rule in objects::destination_rules(canary)? {
        apply::<DestinationRule>(client, rule, &unmanaged, always).await?;
    }
    let mut found = Takeover::default();
    if route_apex {
        let want = Some((100 - canary_weight, canary_weight));
        // Read now, not from the reconcile's snapshot, so an edit made meanwhile is reported.
        let live: Option<VirtualService> = read(client, &canary.namespace().unwrap_or_default(), &names.apex).await?;
        found = takeover::inspect(canary, live.as_ref(), canary_weight);
        if let Some(why) = &found.blocked {
            return Err(Error::Foreign(why.clone()));
        }
        let mut vs = objects::virtual_service_routed(canary, routing)?;
        if let Some(original) = &found.original {
            vs.annotations_mut().insert(takeover::ANNOTATION_ORIGINAL.to_owned(), original.clone());
        }
        vs.annotations_mut()
            .insert(takeover::ANNOTATION_WEIGHTS.to_owned(), takeover::weights_annotation(canary_weight));
        // Someone else moving the weights is put right even when our last write was the same.
        apply_over(client, vs, live.as_ref(), &unmanaged, |live| objects::route_weights(live, &names) == want).await?;
    }
    if let Some(hpa) = &world.target_hpa {
        apply::<HorizontalPodAutoscaler>(
            client,
            objects::primary_hpa(canary, hpa, &rules.copied_labels),
            &unmanaged,
            always,
        )
        .await?;
    }
    Ok(found)
}

/// Every request to the primary, when the target cannot serve: only the VirtualService is
/// written, the one object Fledge builds without the target.
pub async fn route_all_to_primary(client: &Client, canary: &Canary) -> Result<(), Error> {
    let vs = objects::virtual_service(canary, 0)?;
    apply::<VirtualService>(client, vs, &Unmanaged::of(canary), always).await?;
    Ok(())
}

/// Copy the target (and the configs it uses) into the primary, marked with the revision.
pub async fn promote_primary(client: &Client, canary: &Canary, world: &World, rules: &Rules) -> Result<(), Error> {
    let unmanaged = Unmanaged::of(canary);
    for cm in &world.config_maps {
        apply::<ConfigMap>(client, objects::primary_config_map(canary, cm, &rules.copied_labels), &unmanaged, always)
            .await?;
    }
    for secret in &world.secrets {
        apply::<Secret>(client, objects::primary_secret(canary, secret, &rules.copied_labels), &unmanaged, always)
            .await?;
    }
    let replicas = primary_replicas(world);
    let mut primary = objects::primary_deployment(canary, &world.target, &world.tracked, replicas, rules)?;
    primary.annotations_mut().insert(ANNOTATION_REVISION.to_owned(), world.observed.revision.clone());
    // In the pod template too: a revision that changed only a ConfigMap or Secret leaves the
    // template as it was (it names `<config>-primary` either way), and without this the
    // primary's pods would never restart to read the new content.
    if let Some(template) = primary.spec.as_mut().map(|s| &mut s.template) {
        let metadata = template.metadata.get_or_insert_with(Default::default);
        metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(ANNOTATION_REVISION.to_owned(), world.observed.revision.clone());
    }
    apply::<Deployment>(client, primary, &unmanaged, always).await?;
    Ok(())
}

/// The primary keeps its replicas (an autoscaler may own them); a new primary starts with
/// the target's.
fn primary_replicas(world: &World) -> i32 {
    let of = |d: &Deployment| d.spec.as_ref().and_then(|s| s.replicas);
    match world.primary.as_ref().and_then(of) {
        Some(n) if n > 0 => n,
        _ => of(&world.target).filter(|n| *n > 0).or_else(|| hpa_min(world)).unwrap_or(1),
    }
}

fn hpa_min(world: &World) -> Option<i32> {
    world.target_hpa.as_ref().and_then(|h| h.spec.as_ref()).and_then(|s| s.min_replicas)
}

/// Scale the target as decided; nothing is written when it already has that many replicas.
pub async fn scale_target(client: &Client, world: &World, scale: TargetScale) -> Result<(), Error> {
    let current = world.target.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let want = match scale {
        TargetScale::Keep => return Ok(()),
        TargetScale::Zero => 0,
        TargetScale::Up if current > 0 => return Ok(()),
        TargetScale::Up => world
            .primary
            .as_ref()
            .and_then(|p| p.spec.as_ref())
            .and_then(|s| s.replicas)
            .filter(|n| *n > 0)
            .or_else(|| hpa_min(world))
            .unwrap_or(1),
    };
    if current == want {
        return Ok(());
    }
    let namespace = world.target.namespace().unwrap_or_default();
    let name = world.target.name_any();
    let api: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PatchParams::default() };
    api.patch_scale(&name, &params, &Patch::Merge(json!({"spec": {"replicas": want}})))
        .await
        .map_err(|e| Error::act(format!("the scale of Deployment {namespace}/{name}"), e))?;
    tracing::info!(deployment = %name, replicas = want, "scaled the target");
    Ok(())
}

/// Remove annotations from the Canary (those acted on or refused).
pub async fn remove_annotations(client: &Client, canary: &Canary, keys: &[&str]) -> Result<(), Error> {
    if keys.is_empty() {
        return Ok(());
    }
    let annotations: serde_json::Map<String, Value> = keys.iter().map(|k| ((*k).to_owned(), Value::Null)).collect();
    let api: Api<Canary> = Api::namespaced(client.clone(), &canary.namespace().unwrap_or_default());
    api.patch(
        &canary.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": annotations}})),
    )
    .await
    .map_err(|e| Error::act("the Canary's annotations", e))?;
    Ok(())
}

/// Write the status when it differs from the live one: a JSON merge patch of the status
/// subresource, with the fields that went away set to null, on the condition that the Canary
/// is still the one read (its resourceVersion): a replica that lost the leadership mid-reconcile
/// gets a conflict instead of overwriting the new leader's step. Returns the Canary as written.
pub async fn write_status(client: &Client, canary: &Canary, status: &CanaryStatus) -> Result<Option<Canary>, Error> {
    let live = canary.status.clone().unwrap_or_default();
    if &live == status {
        return Ok(None);
    }
    let old = serde_json::to_value(&live).unwrap_or_else(|_| json!({}));
    let new = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
    let patch = json!({
        "metadata": {"resourceVersion": canary.resource_version()},
        "status": merge_patch(&old, &new),
    });
    let api: Api<Canary> = Api::namespaced(client.clone(), &canary.namespace().unwrap_or_default());
    let written = api
        .patch_status(&canary.name_any(), &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(Error::Status)?;
    Ok(Some(written))
}

/// The JSON merge patch (RFC 7386) that turns `old` into `new`: members that went away are
/// null, at every depth (a removed `trackedConfigs` entry must go too). Arrays are replaced.
pub fn merge_patch(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = serde_json::Map::new();
            for (key, value) in new {
                match old.get(key) {
                    Some(before) if before == value => {}
                    Some(before) => drop(patch.insert(key.clone(), merge_patch(before, value))),
                    None => drop(patch.insert(key.clone(), value.clone())),
                }
            }
            for key in old.keys().filter(|k| !new.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            Value::Object(patch)
        }
        _ => new.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::merge_patch;
    use serde_json::json;

    #[test]
    fn a_merge_patch_removes_what_went_away_at_every_depth() {
        let old =
            json!({"phase": "Progressing", "trackedConfigs": {"configmap/a": "1", "secret/b": "2"}, "iterations": 0});
        let new = json!({"phase": "Failed", "trackedConfigs": {"configmap/a": "1"}});
        let patch = merge_patch(&old, &new);
        assert_eq!(patch, json!({"phase": "Failed", "trackedConfigs": {"secret/b": null}, "iterations": null}));
        let mut applied = old.clone();
        json_patch::merge(&mut applied, &patch);
        assert_eq!(applied, new);
    }
}
