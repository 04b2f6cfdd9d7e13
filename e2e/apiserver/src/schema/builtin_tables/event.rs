//! Events (core/v1 and events.k8s.io/v1): last seen, object, source and message as `printEvent` shows them.

use super::*;

/// The columns of `printEvent`; the server always sends the wide ones.
pub(super) fn columns() -> Vec<Col> {
    vec![
        ("Last Seen", "string", 0, "The time at which the most recent occurrence of this event was recorded."),
        ("Type", "string", 0, "Type of this event (Normal, Warning), new types could be added in the future"),
        (
            "Reason",
            "string",
            0,
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
        ),
        ("Object", "string", 0, "The object that this event is about."),
        (
            "Subobject",
            "string",
            1,
            "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.",
        ),
        ("Source", "string", 1, "The component reporting this event. Should be a short machine understandable string."),
        ("Message", "string", 0, "A human-readable description of the status of this operation."),
        (
            "First Seen",
            "string",
            1,
            "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
        ),
        ("Count", "string", 1, "The number of times this event has occurred."),
        ("Name", "string", 1, NAME_DESCRIPTION),
    ]
}

/// The first of several fields present (core/v1 names first, then events.k8s.io/v1 ones).
fn first_of<'a>(e: &'a Value, pointers: &[&str]) -> Option<&'a Value> {
    pointers.iter().filter_map(|p| e.pointer(p)).find(|v| !v.is_null() && v.as_str() != Some(""))
}

/// `printEvent`: the cells of one Event.
pub(super) fn row(e: &Value, now: i64) -> (Vec<Value>, Vec<Value>) {
    let first = match first_of(e, &["/firstTimestamp", "/deprecatedFirstTimestamp"]) {
        Some(t) => timefmt::since(Some(t), now),
        None => timefmt::since(e.get("eventTime"), now),
    };
    let mut last = match first_of(e, &["/lastTimestamp", "/deprecatedLastTimestamp"]) {
        Some(t) => timefmt::since(Some(t), now),
        None => first.clone(),
    };
    let mut count = first_of(e, &["/count", "/deprecatedCount"]).and_then(Value::as_i64).unwrap_or(0);
    if let Some(series) = e.get("series").filter(|s| s.is_object()) {
        last = timefmt::since(series.get("lastObservedTime"), now);
        count = int(series, "/count");
    } else if count == 0 {
        // Singleton events of the new API have no count.
        count = 1;
    }
    let involved = first_of(e, &["/involvedObject", "/regarding"]).cloned().unwrap_or(Value::Null);
    let kind = text(&involved, "/kind").to_lowercase();
    let target = match text(&involved, "/name") {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let component = first_of(
        e,
        &["/source/component", "/deprecatedSource/component", "/reportingComponent", "/reportingController"],
    )
    .and_then(Value::as_str)
    .unwrap_or("");
    let instance = first_of(e, &["/source/host", "/deprecatedSource/host", "/reportingInstance"])
        .and_then(Value::as_str)
        .unwrap_or("");
    let source = if instance.is_empty() { component.to_string() } else { format!("{component}, {instance}") };
    let message = first_of(e, &["/message", "/note"]).and_then(Value::as_str).unwrap_or("").trim().to_string();
    let cells = vec![
        json!(last),
        json!(text(e, "/type")),
        json!(text(e, "/reason")),
        json!(target),
        json!(text(&involved, "/fieldPath")),
        json!(source),
        json!(message),
        json!(first),
        json!(count),
        json!(table::name_of(e)),
    ];
    (cells, Vec::new())
}
