//! The life of an object: create (names, uid, generation), update (optimistic concurrency,
//! spec and status written separately, generation bumped on spec changes), delete
//! (finalizers, deletionTimestamp, garbage collection of dependents).

use super::errors::ApiError;
use super::registry::ResourceType;
use super::store::{Key, Store};
use rand::Rng;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The time now, as Kubernetes writes it (RFC 3339, seconds).
pub fn now_rfc3339() -> String {
    crate::time::rfc3339(std::time::SystemTime::now())
}

/// The store key of a named object of a type.
pub fn key(rt: &ResourceType, namespace: Option<&str>, name: &str) -> Key {
    Key {
        group: rt.storage_group(),
        resource: rt.plural.clone(),
        namespace: if rt.namespaced { namespace.unwrap_or_default().to_owned() } else { String::new() },
        name: name.to_owned(),
    }
}

fn meta(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    object["metadata"].as_object_mut().expect("metadata was just made an object")
}

/// The object's `metadata.name`.
pub fn name_of(object: &Value) -> Option<&str> {
    object.pointer("/metadata/name").and_then(Value::as_str)
}

fn random_suffix(len: usize) -> String {
    // The alphabet Kubernetes uses for generated names: no vowels, no look-alikes.
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// Checks a DNS-1123 subdomain, the rule for most object names.
fn check_name(rt: &ResourceType, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok {
        return Ok(());
    }
    let message = format!(
        "{} \"{name}\" is invalid: metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        rt.kind
    );
    let cause = json!({"reason": "FieldValueInvalid", "message": message.split(": ").skip(2).collect::<Vec<_>>().join(": "), "field": "metadata.name"});
    Err(ApiError::invalid(&rt.qualified_kind(), name, message, vec![cause]))
}

/// Fills in what the server owns on a new object: apiVersion, kind, name (from
/// generateName), namespace, uid, creationTimestamp, generation. Drops `status` of types with
/// a status subresource, as the server resets it on create.
pub fn prepare_create(rt: &ResourceType, namespace: Option<&str>, mut object: Value) -> Result<Value, ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request("the body of the request is not a JSON object"));
    }
    if let Some(kind) = object.get("kind").and_then(Value::as_str)
        && kind != rt.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind of the body ({kind}) does not match the URL ({})",
            rt.kind
        )));
    }
    object["apiVersion"] = json!(rt.api_version());
    object["kind"] = json!(rt.kind);
    let now = now_rfc3339();
    let m = meta(&mut object);
    if m.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
        match m.get("generateName").and_then(Value::as_str) {
            Some(prefix) if !prefix.is_empty() => {
                let name = format!("{prefix}{}", random_suffix(5));
                m.insert("name".into(), json!(name));
            }
            _ => {
                let message = format!(
                    "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                    rt.kind
                );
                let cause = json!({"reason": "FieldValueRequired", "message": "Required value: name or generateName is required", "field": "metadata.name"});
                return Err(ApiError::invalid(&rt.qualified_kind(), "", message, vec![cause]));
            }
        }
    }
    if rt.namespaced {
        let path_ns = namespace.unwrap_or("default");
        match m.get("namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() && ns != path_ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                m.insert("namespace".into(), json!(path_ns));
            }
        }
    } else {
        m.remove("namespace");
    }
    m.insert("uid".into(), json!(uuid()));
    m.insert("creationTimestamp".into(), json!(now));
    m.insert("generation".into(), json!(1));
    m.remove("resourceVersion");
    m.remove("deletionTimestamp");
    m.remove("deletionGracePeriodSeconds");
    m.remove("selfLink");
    let name = m.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    check_name(rt, &name)?;
    if rt.status
        && rt.kind != "Pod"
        && let Some(obj) = object.as_object_mut()
    {
        obj.remove("status");
    }
    fold_string_data(rt, &mut object);
    Ok(object)
}

/// A Secret's `stringData` is write-only: its keys are encoded into `data` (over keys of the
/// same name there) and the field is not stored, as kube-apiserver does.
fn fold_string_data(rt: &ResourceType, object: &mut Value) {
    use base64::Engine;
    if !(rt.group.is_empty() && rt.kind == "Secret") {
        return;
    }
    let Some(Value::Object(strings)) = object.as_object_mut().and_then(|o| o.remove("stringData")) else { return };
    if !object["data"].is_object() {
        object["data"] = json!({});
    }
    for (key, value) in strings {
        let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
        object["data"][key] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
}

/// A random version-4 UUID.
pub fn uuid() -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// What part of an object a write may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The main resource: everything but `status` (for types with a status subresource).
    Main,
    /// The status subresource: only `status`.
    Status,
}

/// The object an update produces from the current one and the body sent, or why it is
/// refused. Keeps what the server owns, checks the resourceVersion, keeps the other part,
/// bumps the generation when the spec changed.
pub fn merge_update(rt: &ResourceType, current: &Value, mut new: Value, part: Part) -> Result<Value, ApiError> {
    let name = name_of(current).unwrap_or_default().to_owned();
    if !new.is_object() {
        return Err(ApiError::bad_request("the body of the request is not a JSON object"));
    }
    if let Some(sent) = name_of(&new)
        && sent != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({sent}) does not match the name on the URL ({name})"
        )));
    }
    let current_rv = current.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or_default();
    match new.pointer("/metadata/resourceVersion").and_then(Value::as_str) {
        Some(rv) if !rv.is_empty() && rv != current_rv => {
            return Err(ApiError::conflict(&rt.qualified_resource(), &name));
        }
        _ => {}
    }
    new["apiVersion"] = current["apiVersion"].clone();
    new["kind"] = current["kind"].clone();
    let current_meta = current["metadata"].as_object().cloned().unwrap_or_default();
    {
        let m = meta(&mut new);
        for owned in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            match current_meta.get(owned) {
                Some(v) => m.insert(owned.into(), v.clone()),
                None => m.remove(owned),
            };
        }
    }
    if rt.status {
        match part {
            Part::Main => {
                // The main resource never writes status.
                set_or_remove(&mut new, "status", current.get("status"));
            }
            Part::Status => {
                // The status subresource writes only status (and nothing of metadata but what
                // the server keeps anyway).
                let status = new.get("status").cloned();
                let mut kept = current.clone();
                set_or_remove(&mut kept, "status", status.as_ref());
                if let Some(mf) = new.pointer("/metadata/managedFields").cloned() {
                    meta(&mut kept).insert("managedFields".into(), mf);
                }
                new = kept;
            }
        }
    }
    fold_string_data(rt, &mut new);
    if spec_of(&new) != spec_of(current) {
        let generation = current.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
        meta(&mut new).insert("generation".into(), json!(generation + 1));
    }
    Ok(new)
}

fn set_or_remove(object: &mut Value, field: &str, value: Option<&Value>) {
    if let Some(obj) = object.as_object_mut() {
        match value {
            Some(v) => obj.insert(field.to_owned(), v.clone()),
            None => obj.remove(field),
        };
    }
}

/// Everything but metadata and status: what `generation` counts changes of.
fn spec_of(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(obj) = copy.as_object_mut() {
        obj.remove("metadata");
        obj.remove("status");
        obj.remove("apiVersion");
        obj.remove("kind");
    }
    copy
}

/// Whether an object waits on finalizers.
pub fn has_finalizers(object: &Value) -> bool {
    object.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty())
}

/// How dependents of a deleted object are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the owner now, dependents after (the default).
    Background,
    /// Delete dependents first.
    Foreground,
    /// Keep dependents, removing their owner reference.
    Orphan,
}

/// The finalizer the garbage collector puts on an owner deleted in the foreground.
pub const FOREGROUND: &str = "foregroundDeletion";

/// Deletes an object as Kubernetes does: with finalizers it only gets a deletionTimestamp;
/// without, it is removed and its dependents are garbage collected. Foreground deletion holds
/// the owner (finalizer `foregroundDeletion`) until its dependents are gone. Returns the
/// object as it was last stored.
pub fn delete(store: &Store, key: &Key, propagation: Propagation) -> Option<Arc<Value>> {
    let current = store.get(key)?;
    let foreground = propagation == Propagation::Foreground && has_dependents(store, &current);
    let now = now_rfc3339();
    // Whether to mark or remove is decided under the store's lock, so a finalizer added
    // concurrently is never skipped.
    let (last, removed) = store.delete_with(key, |cur, _| {
        if !has_finalizers(cur) && !foreground {
            return None;
        }
        let mut next = cur.clone();
        let generation = cur.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
        let m = meta(&mut next);
        if !m.contains_key("deletionTimestamp") {
            // Kubernetes bumps the generation when deletion starts, so controllers that
            // filter on generation see it.
            m.insert("deletionTimestamp".into(), json!(now));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
            m.insert("generation".into(), json!(generation + 1));
        }
        if foreground {
            let finalizers = m.entry("finalizers").or_insert_with(|| json!([]));
            if let Some(list) = finalizers.as_array_mut()
                && !list.iter().any(|f| f == FOREGROUND)
            {
                list.push(json!(FOREGROUND));
            }
        }
        Some(next)
    })?;
    if removed {
        collect_dependents(store, &last, propagation);
    } else if foreground {
        collect_dependents(store, &current, Propagation::Foreground);
    }
    Some(last)
}

/// Finishes a deletion that waited: drops `foregroundDeletion` once the dependents are gone,
/// and removes the object once no finalizer is left.
pub fn finish_deletion_if_due(store: &Store, key: &Key) {
    let Some(current) = store.get(key) else { return };
    if current.pointer("/metadata/deletionTimestamp").is_none() {
        return;
    }
    let dependents = has_dependents(store, &current);
    let result = store.delete_with(key, |cur, _| {
        if cur.pointer("/metadata/deletionTimestamp").is_none() {
            return Some(cur.clone());
        }
        let mut next = cur.clone();
        if !dependents && let Some(list) = next.pointer_mut("/metadata/finalizers").and_then(Value::as_array_mut) {
            list.retain(|f| f != FOREGROUND);
        }
        if has_finalizers(&next) { Some(next) } else { None }
    });
    if let Some((gone, true)) = result {
        collect_dependents(store, &gone, Propagation::Background);
    }
}

fn uid_of(object: &Value) -> Option<&str> {
    object.pointer("/metadata/uid").and_then(Value::as_str)
}

fn owned_by(object: &Value, uid: &str) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| refs.iter().any(|r| r["uid"].as_str() == Some(uid)))
}

fn has_dependents(store: &Store, owner: &Value) -> bool {
    let Some(uid) = uid_of(owner) else { return false };
    store.snapshot().iter().any(|(_, o)| owned_by(o, uid))
}

/// Garbage collection: dependents of a deleted owner are deleted (or orphaned).
fn collect_dependents(store: &Store, owner: &Value, propagation: Propagation) {
    let Some(uid) = uid_of(owner).map(str::to_owned) else { return };
    for (key, object) in store.snapshot() {
        if !owned_by(&object, &uid) {
            continue;
        }
        if propagation == Propagation::Orphan {
            let _ = store.write::<()>(&key, |cur, _| {
                let Some(cur) = cur else { return Ok(None) };
                let mut next = cur.clone();
                if let Some(refs) = next.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
                    refs.retain(|r| r["uid"].as_str() != Some(uid.as_str()));
                }
                Ok(Some(next))
            });
            continue;
        }
        // A dependent with other owners that still exist stays.
        let other_owners_alive = object
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|r| r["uid"].as_str() != Some(uid.as_str()))
            .any(|r| {
                let ns = &key.namespace;
                store
                    .snapshot()
                    .iter()
                    .any(|(k, o)| uid_of(o) == r["uid"].as_str() && (k.namespace == *ns || k.namespace.is_empty()))
            });
        if other_owners_alive {
            continue;
        }
        delete(store, &key, propagation);
    }
}

/// The garbage collector's pass: objects marked for deletion whose finalizers and
/// (foreground) dependents are gone are removed.
pub fn sweep(store: &Store) {
    let snapshot = store.snapshot();
    let pods: std::collections::HashSet<(&str, &str)> = snapshot
        .iter()
        .filter(|(k, _)| k.group.is_empty() && k.resource == "pods")
        .map(|(k, _)| (k.namespace.as_str(), k.name.as_str()))
        .collect();
    store.retain_logs(|ns, pod| pods.contains(&(ns, pod)));
    for (key, object) in &snapshot {
        if object.pointer("/metadata/deletionTimestamp").is_none() {
            continue;
        }
        if key.group.is_empty() && key.resource == "namespaces" {
            // A terminating namespace goes once nothing is left in it.
            if !snapshot.iter().any(|(k, _)| k.namespace == key.name) {
                store.remove(key);
            }
            continue;
        }
        finish_deletion_if_due(store, key);
    }
}

/// Starts deleting a namespace: it turns Terminating and its content is deleted; the
/// collector removes it once it is empty. Returns it as marked.
pub fn terminate_namespace(store: &Store, key: &Key) -> Option<Arc<Value>> {
    let now = now_rfc3339();
    let marked = store
        .write::<()>(key, |cur, _| {
            let Some(cur) = cur else { return Ok(None) };
            let mut next = cur.clone();
            let m = meta(&mut next);
            if !m.contains_key("deletionTimestamp") {
                m.insert("deletionTimestamp".into(), json!(now));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
            }
            next["status"] = json!({"phase": "Terminating"});
            Ok(Some(next))
        })
        .ok()
        .flatten()?;
    for (other, _) in store.snapshot() {
        if other.namespace == key.name {
            delete(store, &other, Propagation::Background);
        }
    }
    Some(marked)
}
