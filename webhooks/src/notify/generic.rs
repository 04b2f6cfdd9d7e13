//! The generic body: the message as plain JSON for receivers of one's own. Pure.
//!
//! `{"name","namespace","phase","severity","title","message","fields","timestamp"}`: `phase`
//! is Flagger's name, `severity` `info`/`warn`/`error`, `fields` an object (keys in sorted
//! order; a repeated key keeps its last value) and `timestamp` RFC 3339 in UTC. Nothing is cut:
//! a receiver of one's own has no small limits.

use super::Message;
use serde_json::{Map, Value, json};

pub(super) fn body(message: &Message) -> Value {
    let fields: Map<String, Value> =
        message.fields.iter().map(|(key, value)| (key.clone(), Value::from(value.as_str()))).collect();
    json!({
        "name": message.name,
        "namespace": message.namespace,
        "phase": message.phase,
        "severity": message.severity.as_str(),
        "title": message.title,
        "message": message.text,
        "fields": fields,
        "timestamp": message.timestamp(),
    })
}
