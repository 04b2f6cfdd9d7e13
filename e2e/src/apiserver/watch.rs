//! Watches: a stream of JSON lines `{"type": ..., "object": ...}` from a resourceVersion, with
//! the initial state when asked, bookmarks, and 410 Gone when the version is too old.

use super::errors::ApiError;
use super::registry::ResourceType;
use super::request::{FieldSelector, LabelSelector};
use super::store::{Change, EventType, Store};
use bytes::Bytes;
use futures::Stream;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What a watch selects.
#[derive(Clone, Debug)]
pub struct WatchRequest {
    /// The type being watched, at the requested version.
    pub rt: ResourceType,
    /// Only this namespace, or all.
    pub namespace: Option<String>,
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
    /// The version to start after; None or 0 means "now, with the current state first".
    pub resource_version: Option<u64>,
    /// Send the current state as ADDED events first, ending with a bookmark
    /// (`sendInitialEvents=true`).
    pub send_initial_events: bool,
    /// Send bookmarks.
    pub bookmarks: bool,
    /// Close the stream after this long.
    pub timeout: Duration,
}

/// How often a watch with bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn served_as(rt: &ResourceType, object: &Value) -> Value {
    let mut object = object.clone();
    object["apiVersion"] = json!(rt.api_version());
    super::convert::to_version(rt, object)
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": meta})
}

/// Starts a watch. Errors before the stream starts (a version too old) come back as Err; the
/// caller may also send them in-stream as the real server does.
pub fn start(
    store: &Store,
    mut stopped: tokio::sync::watch::Receiver<u64>,
    req: WatchRequest,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + use<>, ApiError> {
    let from_now = req.resource_version.is_none_or(|rv| rv == 0);
    let since = if from_now { store.rv() } else { req.resource_version.unwrap_or_default() };
    let subscription = store
        .subscribe(since)
        .map_err(|oldest| ApiError::expired(format!("too old resource version: {since} ({oldest})")))?;
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let matches = {
        let req = req.clone();
        move |change: &Change| {
            change.key.group == req.rt.storage_group()
                && change.key.resource == req.rt.plural
                && req.namespace.as_deref().is_none_or(|ns| change.key.namespace == ns)
        }
    };
    let selected = {
        let req = req.clone();
        move |object: &Value| {
            req.labels.matches(object.pointer("/metadata/labels").and_then(Value::as_object))
                && req.fields.matches(object)
        }
    };
    let store = store.clone();
    tokio::spawn(async move {
        let rt = req.rt.clone();
        let mut last_rv = since;
        if from_now || req.send_initial_events {
            let (items, _) = store.list(&rt.storage_group(), &rt.plural, req.namespace.as_deref());
            for object in items.iter().filter(|o| selected(o)) {
                if tx.send(line("ADDED", &served_as(&rt, object))).await.is_err() {
                    return;
                }
            }
            if req.send_initial_events
                && tx.send(line("BOOKMARK", &bookmark(&rt, subscription.rv, true))).await.is_err()
            {
                return;
            }
        }
        let mut receiver = subscription.receiver;
        let mut pending: std::collections::VecDeque<Change> = subscription.backlog.into();
        let deadline = tokio::time::Instant::now() + req.timeout;
        let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
        ticker.tick().await;
        // Which objects the watcher has seen selected, so a label change that takes an object
        // out of the selector is sent as DELETED, as the real watch cache does. Known only when
        // the watch started from the current state.
        let mut visible: Option<std::collections::HashSet<(String, String)>> = None;
        if from_now || req.send_initial_events {
            let (items, _) = store.list(&rt.storage_group(), &rt.plural, req.namespace.as_deref());
            visible = Some(items.iter().filter(|o| selected(o)).map(|o| ident(o)).collect());
        }
        loop {
            let change = if let Some(c) = pending.pop_front() {
                c
            } else {
                tokio::select! {
                    received = receiver.recv() => match received {
                        Ok(c) => c,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            let status = ApiError::expired("the watch fell behind; relist").status();
                            let _ = tx.send(line("ERROR", &status)).await;
                            return;
                        }
                        Err(_) => return,
                    },
                    _ = ticker.tick(), if req.bookmarks => {
                        if tx.send(line("BOOKMARK", &bookmark(&rt, last_rv, false))).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    _ = tokio::time::sleep_until(deadline) => return,
                    _ = stopped.changed() => return,
                    _ = tx.closed() => return,
                }
            };
            last_rv = last_rv.max(change.rv);
            if !matches(&change) {
                continue;
            }
            let object: Arc<Value> = change.object.clone();
            let now_selected = selected(&object);
            let kind = match &mut visible {
                None => now_selected.then_some(change.kind.as_str()),
                Some(visible) => {
                    let id = ident(&object);
                    let was_visible = visible.contains(&id);
                    if now_selected && change.kind != EventType::Deleted {
                        visible.insert(id);
                    } else {
                        visible.remove(&id);
                    }
                    match (change.kind, was_visible, now_selected) {
                        (EventType::Deleted, true, _) => Some("DELETED"),
                        (EventType::Deleted, false, _) => None,
                        (_, false, true) => Some("ADDED"),
                        (_, true, true) => Some(change.kind.as_str()),
                        (_, true, false) => Some("DELETED"),
                        (_, false, false) => None,
                    }
                }
            };
            if let Some(kind) = kind
                && tx.send(line(kind, &served_as(&rt, &object))).await.is_err()
            {
                return;
            }
        }
    });
    Ok(futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok))
}

fn ident(object: &Value) -> (String, String) {
    let get = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or_default().to_owned();
    (get("/metadata/namespace"), get("/metadata/name"))
}
