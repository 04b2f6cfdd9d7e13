//! The object store behind the API server: objects as JSON under one global resourceVersion,
//! a bounded history of changes for watches (older versions answer 410 Gone), and pod logs.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;
use tokio::sync::broadcast;

/// Where an object lives: its group and plural (all versions share storage), namespace
/// (empty for cluster-scoped kinds) and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// API group, empty for the core group.
    pub group: String,
    /// Plural resource name, for example `deployments`.
    pub resource: String,
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Object name.
    pub name: String,
}

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// The name in a watch stream.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as watchers receive it.
#[derive(Clone, Debug)]
pub struct Change {
    /// The resourceVersion the change produced.
    pub rv: u64,
    /// What happened.
    pub kind: EventType,
    /// Where.
    pub key: Key,
    /// The object after the change (before, for a deletion, with the deletion's version).
    pub object: Arc<Value>,
    /// The object before the change, None for a creation; watches with a selector need it to
    /// tell an object leaving the selection (DELETED) from one changing within it.
    pub prev: Option<Arc<Value>>,
}

/// How many changes the store remembers for watches that resume from a resourceVersion.
pub const HISTORY: usize = 20_000;
/// Lines of log kept per container.
const LOG_LINES: usize = 50_000;

#[derive(Default)]
struct Inner {
    rv: u64,
    objects: BTreeMap<Key, Arc<Value>>,
    history: VecDeque<Change>,
    /// Changes at or below this version are forgotten.
    compacted: u64,
    logs: HashMap<(String, String, String), VecDeque<(SystemTime, String)>>,
}

/// The shared store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
    changes: broadcast::Sender<Change>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("rv", &self.lock().rv).finish()
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// A consistent read of the store together with a subscription to every later change.
#[derive(Debug)]
pub struct Subscription {
    /// The objects of the resource at `rv`, when the subscriber asked for the current state.
    pub items: Vec<Arc<Value>>,
    /// Changes after the requested version that the store still remembered (none when the
    /// current state was asked for).
    pub backlog: Vec<Change>,
    /// Every change after `rv`.
    pub receiver: broadcast::Receiver<Change>,
    /// The store's version when the subscription started.
    pub rv: u64,
}

impl Store {
    /// An empty store at resourceVersion 1.
    pub fn new() -> Self {
        let (changes, _) = broadcast::channel(65_536);
        Self { inner: Arc::new(Mutex::new(Inner { rv: 1, ..Default::default() })), changes }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.lock().rv
    }

    /// One object.
    pub fn get(&self, key: &Key) -> Option<Arc<Value>> {
        self.lock().objects.get(key).cloned()
    }

    /// Every object of a resource (in one namespace, or all when `namespace` is None), with
    /// the store's version at the time of the read.
    pub fn list(&self, group: &str, resource: &str, namespace: Option<&str>) -> (Vec<Arc<Value>>, u64) {
        let inner = self.lock();
        let items = inner
            .objects
            .iter()
            .filter(|(k, _)| k.group == group && k.resource == resource && namespace.is_none_or(|ns| k.namespace == ns))
            .map(|(_, v)| v.clone())
            .collect();
        (items, inner.rv)
    }

    /// Every object of every resource, for controllers that look at the whole cluster.
    pub fn snapshot(&self) -> Vec<(Key, Arc<Value>)> {
        self.lock().objects.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Writes an object through `write`, which sees the current object (or None) and returns
    /// the new one or an error. The new object gets the next resourceVersion. Returns the
    /// stored object.
    pub fn write<E>(
        &self,
        key: &Key,
        write: impl FnOnce(Option<&Value>, u64) -> Result<Option<Value>, E>,
    ) -> Result<Option<Arc<Value>>, E> {
        let mut inner = self.lock();
        let current = inner.objects.get(key).cloned();
        let next_rv = inner.rv + 1;
        let Some(mut new) = write(current.as_deref(), next_rv)? else {
            return Ok(current);
        };
        if current.as_deref().is_some_and(|c| same_content(c, &new)) {
            // Nothing changed: a no-op write keeps its resourceVersion and managed fields, as in
            // Kubernetes.
            return Ok(current);
        }
        inner.rv = next_rv;
        set_rv(&mut new, next_rv);
        let new = Arc::new(new);
        inner.objects.insert(key.clone(), new.clone());
        let kind = if current.is_some() { EventType::Modified } else { EventType::Added };
        self.record(&mut inner, Change { rv: next_rv, kind, key: key.clone(), object: new.clone(), prev: current });
        Ok(Some(new))
    }

    /// Deletes under one lock: `decide` sees the current object and returns the object to
    /// write instead (a deletion that waits, marked) or None to remove it now. Returns the
    /// stored or removed object and whether it was removed.
    pub fn delete_with(
        &self,
        key: &Key,
        decide: impl FnOnce(&Value, u64) -> Option<Value>,
    ) -> Option<(Arc<Value>, bool)> {
        let mut inner = self.lock();
        let current = inner.objects.get(key).cloned()?;
        let next_rv = inner.rv + 1;
        match decide(&current, next_rv) {
            Some(mut marked) => {
                if same_content(&current, &marked) {
                    return Some((current, false));
                }
                inner.rv = next_rv;
                set_rv(&mut marked, next_rv);
                let marked = Arc::new(marked);
                inner.objects.insert(key.clone(), marked.clone());
                let change = Change {
                    rv: next_rv,
                    kind: EventType::Modified,
                    key: key.clone(),
                    object: marked.clone(),
                    prev: Some(current),
                };
                self.record(&mut inner, change);
                Some((marked, false))
            }
            None => {
                inner.objects.remove(key);
                inner.rv = next_rv;
                let mut gone = (*current).clone();
                set_rv(&mut gone, next_rv);
                let gone = Arc::new(gone);
                let change = Change {
                    rv: next_rv,
                    kind: EventType::Deleted,
                    key: key.clone(),
                    object: gone.clone(),
                    prev: Some(current),
                };
                self.record(&mut inner, change);
                Some((gone, true))
            }
        }
    }

    /// Removes an object; the deletion gets its own resourceVersion.
    pub fn remove(&self, key: &Key) -> Option<Arc<Value>> {
        let mut inner = self.lock();
        let old = inner.objects.remove(key)?;
        inner.rv += 1;
        let rv = inner.rv;
        let mut gone = (*old).clone();
        set_rv(&mut gone, rv);
        let gone = Arc::new(gone);
        self.record(
            &mut inner,
            Change { rv, kind: EventType::Deleted, key: key.clone(), object: gone.clone(), prev: Some(old) },
        );
        Some(gone)
    }

    fn record(&self, inner: &mut Inner, change: Change) {
        inner.history.push_back(change.clone());
        while inner.history.len() > HISTORY {
            if let Some(old) = inner.history.pop_front() {
                inner.compacted = old.rv;
            }
        }
        // Nobody listening is fine.
        let _ = self.changes.send(change);
    }

    /// Subscribes to changes after `since`, or, with `since` None, to the current objects of
    /// `(group, resource)` (in `namespace`, or all) and every change after them, read under one
    /// lock. Fails with the oldest version still known when `since` is older than the history
    /// (the caller answers 410 Gone).
    pub fn subscribe(
        &self,
        since: Option<u64>,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> Result<Subscription, u64> {
        let inner = self.lock();
        let receiver = self.changes.subscribe();
        let Some(since) = since else {
            let items = inner
                .objects
                .iter()
                .filter(|(k, _)| {
                    k.group == group && k.resource == resource && namespace.is_none_or(|ns| k.namespace == ns)
                })
                .map(|(_, v)| v.clone())
                .collect();
            return Ok(Subscription { items, backlog: Vec::new(), receiver, rv: inner.rv });
        };
        if since < inner.compacted {
            return Err(inner.compacted + 1);
        }
        let backlog = inner.history.iter().filter(|c| c.rv > since).cloned().collect();
        Ok(Subscription { items: Vec::new(), backlog, receiver, rv: inner.rv })
    }

    /// Forgets every change up to the current version, so older watches get 410 Gone.
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.history.clear();
        inner.compacted = inner.rv;
    }

    /// Appends lines to a container's log.
    pub fn append_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        lines: impl IntoIterator<Item = (SystemTime, String)>,
    ) {
        let mut inner = self.lock();
        let log = inner.logs.entry((namespace.to_owned(), pod.to_owned(), container.to_owned())).or_default();
        for line in lines {
            log.push_back(line);
            if log.len() > LOG_LINES {
                log.pop_front();
            }
        }
    }

    /// A container's log lines written at or after `since`, the last `tail` of them.
    pub fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        since: Option<SystemTime>,
        tail: Option<usize>,
    ) -> Vec<(SystemTime, String)> {
        let inner = self.lock();
        let Some(log) = inner.logs.get(&(namespace.to_owned(), pod.to_owned(), container.to_owned())) else {
            return Vec::new();
        };
        let mut lines: Vec<_> = log.iter().filter(|(t, _)| since.is_none_or(|s| *t >= s)).cloned().collect();
        if let Some(tail) = tail {
            lines.drain(..lines.len().saturating_sub(tail));
        }
        lines
    }

    /// Every container that has a log, as (namespace, pod, container), sorted.
    pub fn log_keys(&self) -> Vec<(String, String, String)> {
        let mut keys: Vec<_> = self.lock().logs.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Keeps only the logs of pods for which `alive(namespace, pod)` holds.
    pub fn retain_logs(&self, alive: impl Fn(&str, &str) -> bool) {
        self.lock().logs.retain(|(ns, pod, _), _| alive(ns, pod));
    }

    /// Drops the logs of a pod that is gone.
    pub fn drop_logs(&self, namespace: &str, pod: &str) {
        self.lock().logs.retain(|(ns, p, _), _| !(ns == namespace && p == pod));
    }
}

/// Equal apart from the times in managed fields (which move on every write); a change of
/// ownership alone is a change.
fn same_content(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(entries) = v.pointer_mut("/metadata/managedFields").and_then(Value::as_array_mut) {
            for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
                entry.remove("time");
            }
        }
        v
    };
    strip(a) == strip(b)
}

fn set_rv(object: &mut Value, rv: u64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".to_owned(), Value::String(rv.to_string()));
    }
}
