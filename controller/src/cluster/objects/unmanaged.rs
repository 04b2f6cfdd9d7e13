//! `spec.service.unmanagedMetadata`: label and annotation keys of Fledge's objects that belong
//! to someone else. Fledge never puts them in what it applies (whether they come from
//! `spec.service.apex`, the target or a taken-over original), so server-side apply leaves
//! whatever others wrote under them. No I/O.

use fledge_crds::canary::Canary;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};
use std::collections::{BTreeMap, BTreeSet};

/// Keys under this prefix are Fledge's own bookkeeping (`fledge.dev/applied`, `/weights`,
/// `/original`, `/revision`): listing one as unmanaged is ignored, or Fledge would lose track.
pub const RESERVED_PREFIX: &str = "fledge.dev/";

/// The keys of one Canary's `spec.service.unmanagedMetadata` that Fledge honours.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unmanaged {
    /// Label keys.
    pub labels: BTreeSet<String>,
    /// Annotation keys.
    pub annotations: BTreeSet<String>,
}

impl Unmanaged {
    /// The keys listed on `canary`, without empty ones and Fledge's own ([`RESERVED_PREFIX`]).
    pub fn of(canary: &Canary) -> Self {
        let listed = canary.spec.service.as_ref().and_then(|s| s.unmanaged_metadata.as_ref());
        let keys = |list: Option<&Vec<String>>| -> BTreeSet<String> {
            list.into_iter()
                .flatten()
                .map(|k| k.trim())
                .filter(|k| !k.is_empty() && !k.starts_with(RESERVED_PREFIX))
                .map(str::to_owned)
                .collect()
        };
        Self {
            labels: keys(listed.and_then(|m| m.labels.as_ref())),
            annotations: keys(listed.and_then(|m| m.annotations.as_ref())),
        }
    }

    /// Removes the unmanaged keys from what Fledge is about to write.
    pub fn strip(&self, meta: &mut ObjectMeta) {
        remove(&mut meta.labels, &self.labels);
        remove(&mut meta.annotations, &self.annotations);
    }

    /// Puts into `desired` the live value of every unmanaged key that `manager`'s earlier
    /// applies still own on `live` (written before the key was listed). Left out of the apply,
    /// server-side apply would delete them; kept at their live value, they stay as they are
    /// until someone else writes them, after which they are theirs alone.
    pub fn keep_owned(&self, desired: &mut ObjectMeta, live: &ObjectMeta, manager: &str) {
        let owned = applied_by(live.managed_fields.as_deref().unwrap_or_default(), manager);
        keep(&owned, "f:labels", &self.labels, live.labels.as_ref(), &mut desired.labels);
        keep(&owned, "f:annotations", &self.annotations, live.annotations.as_ref(), &mut desired.annotations);
    }
}

/// Copies into `to` the live value (`from`) of each of `keys` that one of `owned` holds.
fn keep(
    owned: &[&serde_json::Value],
    field: &str,
    keys: &BTreeSet<String>,
    from: Option<&BTreeMap<String, String>>,
    to: &mut Option<BTreeMap<String, String>>,
) {
    for key in keys.iter().filter(|k| owns(owned, field, k)) {
        if let Some(value) = from.and_then(|m| m.get(key)) {
            to.get_or_insert_with(BTreeMap::new).insert(key.clone(), value.clone());
        }
    }
}

fn remove(map: &mut Option<BTreeMap<String, String>>, keys: &BTreeSet<String>) {
    if let Some(m) = map.as_mut() {
        m.retain(|k, _| !keys.contains(k));
        if m.is_empty() {
            *map = None;
        }
    }
}

/// The `fieldsV1` sets of `manager`'s apply entries (the main resource, not a subresource).
fn applied_by<'a>(entries: &'a [ManagedFieldsEntry], manager: &str) -> Vec<&'a serde_json::Value> {
    entries
        .iter()
        .filter(|e| e.manager.as_deref() == Some(manager) && e.operation.as_deref() == Some("Apply"))
        .filter(|e| e.subresource.as_deref().unwrap_or_default().is_empty())
        .filter_map(|e| e.fields_v1.as_ref().map(|f| &f.0))
        .collect()
}

/// Whether one of the sets holds `metadata.<field>.<key>` (`{"f:metadata": {"f:labels":
/// {"f:team": {}}}}`).
fn owns(sets: &[&serde_json::Value], field: &str, key: &str) -> bool {
    let entry = format!("f:{key}");
    sets.iter().any(|set| set.get("f:metadata").and_then(|m| m.get(field)).and_then(|f| f.get(&entry)).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::fixtures::mk_canary;
    use serde_json::json;

    fn listed() -> Unmanaged {
        Unmanaged::of(&mk_canary(
            "
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service:
    port: 9898
    unmanagedMetadata:
      labels: [team, '']
      annotations: [argocd.argoproj.io/tracking-id, fledge.dev/weights]
  analysis: {stepWeight: 10}
",
        ))
    }

    fn meta(value: serde_json::Value) -> ObjectMeta {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn listed_keys_except_empty_and_fledges_own() {
        let unmanaged = listed();
        assert_eq!(unmanaged.labels, BTreeSet::from(["team".to_owned()]));
        assert_eq!(unmanaged.annotations, BTreeSet::from(["argocd.argoproj.io/tracking-id".to_owned()]));
        assert_eq!(Unmanaged::of(&crate::cluster::objects::fixtures::podinfo_canary()), Unmanaged::default());
    }

    #[test]
    fn unmanaged_keys_are_never_written() {
        let mut desired = meta(json!({
            "name": "podinfo",
            "labels": {"team": "ours", "app": "podinfo"},
            "annotations": {"argocd.argoproj.io/tracking-id": "x", "fledge.dev/weights": "90/10"},
        }));
        listed().strip(&mut desired);
        assert_eq!(desired.labels, Some(BTreeMap::from([("app".to_owned(), "podinfo".to_owned())])));
        assert_eq!(desired.annotations, Some(BTreeMap::from([("fledge.dev/weights".to_owned(), "90/10".to_owned())])));

        let mut only_theirs = meta(json!({"name": "podinfo", "labels": {"team": "ours"}}));
        listed().strip(&mut only_theirs);
        assert_eq!(only_theirs.labels, None, "an empty map is not written (and not owned)");
    }

    #[test]
    fn keys_fledge_wrote_before_they_were_listed_keep_their_live_value() {
        let live = meta(json!({
            "name": "podinfo",
            "labels": {"team": "web", "app": "podinfo"},
            "annotations": {"argocd.argoproj.io/tracking-id": "t-1"},
            "managedFields": [
                {"manager": "fledge", "operation": "Apply", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}, "f:app": {}}}}},
                {"manager": "argocd", "operation": "Update", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:annotations": {"f:argocd.argoproj.io/tracking-id": {}}}}},
            ],
        }));
        let mut desired = meta(json!({"name": "podinfo", "labels": {"app": "podinfo"}}));
        listed().keep_owned(&mut desired, &live, "fledge");
        let labels = desired.labels.unwrap();
        assert_eq!(labels.get("team").map(String::as_str), Some("web"), "still Fledge's: kept as it is");
        assert_eq!(desired.annotations, None, "someone else's: left out, so left alone");

        // Once someone else wrote it, it is no longer Fledge's to keep.
        let mut taken = live.clone();
        taken.managed_fields.as_mut().unwrap()[0].fields_v1 =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1(
                json!({"f:metadata": {"f:labels": {"f:app": {}}}}),
            ));
        let mut desired = meta(json!({"name": "podinfo"}));
        listed().keep_owned(&mut desired, &taken, "fledge");
        assert_eq!(desired.labels, None);
    }
}
