//! Schema helpers for fields whose shape the API server must not constrain.

use schemars::{Schema, SchemaGenerator, json_schema};

/// An object whose fields are someone else's API (for example Istio's `TrafficPolicy`):
/// the API server keeps every field as given, and Istio validates it when Fledge writes it.
pub(crate) fn open_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// A list of open objects.
pub(crate) fn open_object_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        },
    })
}

/// Drops the `default` schemars derives from `#[serde(default)]`: a default in the schema is
/// applied by the API server to every stored object, which Fledge leaves to its code.
pub(crate) fn no_default(schema: &mut Schema) {
    schema.remove("default");
}
