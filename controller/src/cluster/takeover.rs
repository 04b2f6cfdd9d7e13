//! The apex VirtualService when it is not only Fledge's: one that existed before the Canary is
//! taken over with its original kept (so `revertOnDeletion` can restore it), and weights moved
//! by someone else mid-rollout are reported as they are put back. Pure, except [`restore`].

use crate::cluster::objects::{FIELD_MANAGER, Names, Unmanaged, route_weights};
use crate::error::Error;
use fledge_crds::canary::Canary;
use fledge_crds::istio::VirtualService;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The annotation keeping, as JSON, the spec, labels and annotations a VirtualService had
/// before Fledge took it over.
pub const ANNOTATION_ORIGINAL: &str = "fledge.dev/original";

/// The annotation recording the weights Fledge last wrote, `<primary>/<canary>`: weights that
/// differ from it were written by someone else, whatever the status says (a status write that
/// failed after the route was written is not someone else).
pub const ANNOTATION_WEIGHTS: &str = "fledge.dev/weights";

/// Beyond this many bytes the original keeps only its spec (annotations are limited to
/// 256 KiB in all, and a big original would make every write of the VirtualService fail).
const ORIGINAL_MAX_BYTES: usize = 64 * 1024;

/// Annotations that are Fledge's own or kubectl's bookkeeping, never part of an original.
const NOT_ORIGINAL: [&str; 4] = [
    ANNOTATION_ORIGINAL,
    ANNOTATION_WEIGHTS,
    crate::cluster::act::ANNOTATION_APPLIED,
    "kubectl.kubernetes.io/last-applied-configuration",
];

/// Whether `canary` controls `object` (an owner reference with its uid).
fn owned_by(canary: &Canary, object: &impl Resource) -> bool {
    let uid = canary.meta().uid.as_deref();
    uid.is_some() && object.owner_references().iter().any(|o| Some(o.uid.as_str()) == uid)
}

/// What the live VirtualService tells about the one about to be written.
#[derive(Debug, Default, PartialEq)]
pub struct Takeover {
    /// The original to keep on the written object ([`ANNOTATION_ORIGINAL`]).
    pub original: Option<String>,
    /// A sentence for an event when this write takes over someone else's VirtualService.
    pub taken: Option<String>,
    /// A sentence for an event when someone else moved the weights since Fledge's last write.
    pub drift: Option<String>,
    /// Why the VirtualService cannot be taken over: another controller owns it.
    pub blocked: Option<String>,
}

/// The `<primary>/<canary>` of [`ANNOTATION_WEIGHTS`].
pub fn weights_annotation(canary_weight: i32) -> String {
    format!("{}/{canary_weight}", 100 - canary_weight)
}

fn parse_weights(text: &str) -> Option<(i32, i32)> {
    let (primary, canary) = text.split_once('/')?;
    Some((primary.trim().parse().ok()?, canary.trim().parse().ok()?))
}

/// Compare the live VirtualService with what Fledge last wrote to it ([`ANNOTATION_WEIGHTS`])
/// and what it writes now (`weight`).
pub fn inspect(canary: &Canary, live: Option<&VirtualService>, weight: i32) -> Takeover {
    let Some(live) = live else { return Takeover::default() };
    let names = Names::of(canary);
    let vs = format!("VirtualService {}/{}", live.namespace().unwrap_or_default(), live.name_any());
    let other = live.owner_references().iter().find(|o| o.controller == Some(true) && !owned_by_ref(canary, &o.uid));
    if let Some(other) = other {
        return Takeover {
            blocked: Some(format!(
                "{vs} is controlled by {} {}; remove that owner reference (or that object) so Fledge can take it over",
                other.kind, other.name
            )),
            ..Takeover::default()
        };
    }
    if !owned_by(canary, live) && !live.annotations().contains_key(ANNOTATION_ORIGINAL) {
        let labels = live.labels().clone();
        let annotations: BTreeMap<String, String> = live
            .annotations()
            .iter()
            .filter(|(k, _)| !NOT_ORIGINAL.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut original = json!({"spec": live.spec, "labels": labels, "annotations": annotations}).to_string();
        if original.len() > ORIGINAL_MAX_BYTES {
            original = json!({"spec": live.spec}).to_string();
        }
        return Takeover {
            original: Some(original),
            taken: Some(format!(
                "{vs} existed before the Canary: taken over, its original kept in the annotation {ANNOTATION_ORIGINAL}"
            )),
            ..Takeover::default()
        };
    }
    let original = live.annotations().get(ANNOTATION_ORIGINAL).cloned();
    let found = route_weights(live, &names);
    let written = live.annotations().get(ANNOTATION_WEIGHTS).and_then(|w| parse_weights(w));
    let drift = match (found, written) {
        (Some(found), Some(written)) if found != written && found != (100 - weight, weight) => Some(format!(
            "{vs} was changed by someone else to primary {}%, canary {}%; put back to primary {}%, canary {}%",
            found.0,
            found.1,
            100 - weight,
            weight
        )),
        _ => None,
    };
    Takeover { original, drift, ..Takeover::default() }
}

fn owned_by_ref(canary: &Canary, uid: &str) -> bool {
    canary.meta().uid.as_deref() == Some(uid)
}

/// `revertOnDeletion` of a VirtualService that was taken over: its original spec, labels and
/// annotations (but not the `unmanaged` keys, which are left as they are now), and no owner
/// reference, so it outlives the Canary as it was before. Returns whether there was an
/// original to restore.
pub async fn restore(client: &Client, live: &VirtualService, unmanaged: &Unmanaged) -> Result<bool, Error> {
    let Some(original) = live.annotations().get(ANNOTATION_ORIGINAL) else { return Ok(false) };
    let original: Value = serde_json::from_str(original)
        .map_err(|e| Error::Internal(format!("the annotation {ANNOTATION_ORIGINAL} is not JSON: {e}")))?;
    let namespace = live.namespace().unwrap_or_default();
    let name = live.name_any();
    let map = |key: &str| -> Option<BTreeMap<String, String>> {
        serde_json::from_value(original.get(key).cloned().unwrap_or(Value::Null))
            .ok()
            .filter(|m: &BTreeMap<_, _>| !m.is_empty())
    };
    let mut restored = VirtualService {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            labels: map("labels"),
            annotations: map("annotations"),
            ..ObjectMeta::default()
        },
        spec: serde_json::from_value(original.get("spec").cloned().unwrap_or(Value::Null)).map_err(|e| {
            Error::Internal(format!("the annotation {ANNOTATION_ORIGINAL} has no VirtualService spec: {e}"))
        })?,
    };
    unmanaged.strip(&mut restored.metadata);
    unmanaged.keep_owned(&mut restored.metadata, &live.metadata, FIELD_MANAGER);
    // Fledge's apply owns the fields it wrote, the owner reference and its annotations
    // included: applying the original without them removes them.
    let api: Api<VirtualService> = Api::namespaced(client.clone(), &namespace);
    api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&restored))
        .await
        .map_err(|e| Error::act(format!("VirtualService {namespace}/{name} (restoring its original)"), e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::virtual_service;

    fn canary() -> Canary {
        let mut canary: Canary = serde_json::from_value(json!({
            "apiVersion": "fledge.dev/v1beta1", "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test", "uid": "c-1"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": {"stepWeight": 10},
            },
        }))
        .unwrap();
        canary.metadata.uid = Some("c-1".into());
        canary
    }

    fn theirs() -> VirtualService {
        serde_json::from_value(json!({
            "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
            "metadata": {"name": "podinfo", "namespace": "test", "labels": {"team": "web"},
                "annotations": {"note": "hand-written", "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"hosts": ["podinfo"], "http": [{"route": [{"destination": {"host": "podinfo"}}]}]},
        }))
        .unwrap()
    }

    #[test]
    fn someone_elses_virtual_service_is_taken_over_with_its_original_kept() {
        let found = inspect(&canary(), Some(&theirs()), 0);
        let original: Value = serde_json::from_str(found.original.as_deref().unwrap()).unwrap();
        assert_eq!(original["spec"]["http"][0]["route"][0]["destination"]["host"], "podinfo");
        assert_eq!(original["labels"], json!({"team": "web"}));
        assert_eq!(original["annotations"], json!({"note": "hand-written"}), "bookkeeping is not the original");
        assert!(found.taken.unwrap().starts_with("VirtualService test/podinfo existed before the Canary"));
        assert_eq!(found.drift, None);
    }

    #[test]
    fn the_original_is_carried_on_and_moved_weights_are_reported() {
        let mut ours = virtual_service(&canary(), 10).unwrap();
        ours.annotations_mut().insert(ANNOTATION_ORIGINAL.into(), "{\"spec\":{}}".into());
        ours.annotations_mut().insert(ANNOTATION_WEIGHTS.into(), weights_annotation(10));
        let found = inspect(&canary(), Some(&ours), 20);
        assert_eq!(found.original.as_deref(), Some("{\"spec\":{}}"));
        assert_eq!((found.taken, found.drift), (None, None), "our own last write, about to move on");
        // Written by Fledge although the status write after it failed: not someone else.
        let found = inspect(&canary(), Some(&ours), 0);
        assert_eq!(found.drift, None);

        let mut moved = virtual_service(&canary(), 50).unwrap();
        moved.annotations_mut().insert(ANNOTATION_WEIGHTS.into(), weights_annotation(10));
        let found = inspect(&canary(), Some(&moved), 10);
        assert_eq!(
            found.drift.as_deref(),
            Some(
                "VirtualService test/podinfo was changed by someone else to primary 50%, canary 50%; \
                 put back to primary 90%, canary 10%"
            )
        );
        assert_eq!(found.original, None, "a VirtualService Fledge created has no original");
    }

    #[test]
    fn another_controllers_virtual_service_is_not_taken() {
        let mut flaggers = theirs();
        flaggers.metadata.owner_references =
            Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                api_version: "flagger.app/v1beta1".into(),
                kind: "Canary".into(),
                name: "podinfo".into(),
                uid: "f-1".into(),
                controller: Some(true),
                ..Default::default()
            }]);
        let found = inspect(&canary(), Some(&flaggers), 0);
        assert_eq!(
            found.blocked.as_deref(),
            Some(
                "VirtualService test/podinfo is controlled by Canary podinfo; remove that owner reference \
                 (or that object) so Fledge can take it over"
            )
        );
        assert_eq!(found.original, None);
    }
}
