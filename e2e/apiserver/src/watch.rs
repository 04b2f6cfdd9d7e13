//! Watches: a stream of JSON lines `{"type": ..., "object": ...}` from a resourceVersion, with
//! the initial state when asked, bookmarks, and 410 Gone when the version is too old.

use super::errors::ApiError;
use super::registry::ResourceType;
use super::request::{FieldSelector, LabelSelector};
use super::store::{Change, EventType, Store};
use bytes::Bytes;
use futures::Stream;
use serde_json::{Value, json};
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
    /// Send each object as a one-row Table (`kubectl get -w` asks with `as=Table`).
    pub table: Option<super::schema::IncludeObject>,
}

/// How often a watch with bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn served_as(rt: &ResourceType, object: &Value, table: Option<super::schema::IncludeObject>) -> Value {
    let object = super::convert::to_version(rt, object.clone());
    match table {
        None => object,
        Some(include) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            super::tables::table_for(rt, &[object], now, include)
        }
    }
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": meta})
}

/// Starts a watch. A version too old comes back as Err (the caller sends it in-stream, as
/// the real server does).
pub fn start(
    store: &Store,
    mut stopped: tokio::sync::watch::Receiver<u64>,
    req: WatchRequest,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + use<>, ApiError> {
    // Without a version (or 0) the watch starts from the current state, sent as ADDED events;
    // sendInitialEvents asks for the same, then a bookmark saying the initial state is complete.
    let initial = req.resource_version.is_none_or(|rv| rv == 0) || req.send_initial_events;
    let since = if initial { None } else { req.resource_version };
    let group = req.rt.storage_group();
    let subscription = store.subscribe(since, &group, &req.rt.plural, req.namespace.as_deref()).map_err(|oldest| {
        ApiError::expired(format!("too old resource version: {} ({oldest})", since.unwrap_or_default()))
    })?;
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    tokio::spawn(async move {
        let rt = req.rt.clone();
        let selected = |object: &Value| {
            req.labels.matches(object.pointer("/metadata/labels").and_then(Value::as_object))
                && req.fields.matches(object)
        };
        let ours = |change: &Change| {
            change.key.group == group
                && change.key.resource == rt.plural
                && req.namespace.as_deref().is_none_or(|ns| change.key.namespace == ns)
        };
        let mut last_rv = since.unwrap_or(subscription.rv);
        for object in subscription.items.iter().filter(|o| selected(o)) {
            if tx.send(line("ADDED", &served_as(&rt, object, req.table))).await.is_err() {
                return;
            }
        }
        if req.send_initial_events && tx.send(line("BOOKMARK", &bookmark(&rt, subscription.rv, true))).await.is_err() {
            return;
        }
        let mut receiver = subscription.receiver;
        let mut pending: std::collections::VecDeque<Change> = subscription.backlog.into();
        let deadline = tokio::time::Instant::now() + req.timeout.min(Duration::from_secs(24 * 3600));
        let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
        ticker.tick().await;
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
            if change.rv <= last_rv {
                // Already part of the state the watcher has.
                continue;
            }
            last_rv = change.rv;
            if !ours(&change) {
                continue;
            }
            // As the watch cache does: an object entering the selection is ADDED, one leaving
            // it is DELETED (with its new version), changes within it keep their type.
            let was = change.prev.as_deref().is_some_and(&selected);
            let is = change.kind != EventType::Deleted && selected(&change.object);
            let kind = match (was, is) {
                (false, true) => "ADDED",
                (true, true) => "MODIFIED",
                (true, false) => "DELETED",
                (false, false) => continue,
            };
            if tx.send(line(kind, &served_as(&rt, &change.object, req.table))).await.is_err() {
                return;
            }
        }
    });
    Ok(futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok))
}
