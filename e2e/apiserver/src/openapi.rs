//! `/openapi/v3`: the OpenAPI documents kubectl reads before it writes. kubectl checks there
//! that the server validates fields itself (the `fieldValidation` parameter of each kind's
//! PATCH) and reads custom resources' schemas; without them it refuses to apply.

use super::errors::ApiError;
use super::registry::{Registry, ResourceType};
use serde_json::{Map, Value, json};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") }
}

/// Serves `/openapi/v3` and `/openapi/v3/<api|apis/group>/<version>`.
pub fn serve(registry: &Registry, path: &str) -> Result<Value, ApiError> {
    let rest = path.strip_prefix("/openapi/v3").ok_or_else(ApiError::no_route)?.trim_matches('/');
    if rest.is_empty() {
        let mut paths = Map::new();
        for (group, versions) in registry.groups() {
            for version in versions {
                let gv = gv_path(&group, &version);
                // The hash lets clients cache; the registry version changes it when kinds change.
                let hash = hash_of(
                    &registry
                        .all()
                        .into_iter()
                        .filter(|t| t.group == group && t.version == version)
                        .collect::<Vec<_>>(),
                );
                paths.insert(gv.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={hash}")}));
            }
        }
        return Ok(json!({"paths": paths}));
    }
    let types: Vec<ResourceType> =
        registry.all().into_iter().filter(|t| gv_path(&t.group, &t.version) == rest).collect();
    if types.is_empty() {
        return Err(ApiError::no_route());
    }
    Ok(document(&types))
}

fn hash_of(types: &[ResourceType]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for t in types {
        t.kind.hash(&mut hasher);
        t.plural.hash(&mut hasher);
        t.schema.as_ref().map(Value::to_string).hash(&mut hasher);
    }
    format!("{:016X}", hasher.finish())
}

fn schema_name(t: &ResourceType) -> String {
    let group =
        if t.group.is_empty() { "core".to_owned() } else { t.group.split('.').rev().collect::<Vec<_>>().join(".") };
    format!("{group}.{}.{}", t.version, t.kind)
}

fn document(types: &[ResourceType]) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for t in types {
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let base = format!("/{}", gv_path(&t.group, &t.version));
        let item = if t.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{base}/{}/{{name}}", t.plural)
        };
        let param =
            |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
        let patch = json!({
            "operationId": format!("patch{}", t.kind),
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": [param("dryRun"), param("fieldManager"), param("fieldValidation"), param("force")],
            "responses": {"200": {"description": "OK"}},
        });
        paths.insert(item, json!({"patch": patch}));
        let mut schema =
            t.schema.clone().unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
        schema["x-kubernetes-group-version-kind"] = json!([gvk]);
        schemas.insert(schema_name(t), schema);
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}
