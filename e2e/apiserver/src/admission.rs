//! Admission of a write: a custom resource gets its schema's defaults, loses (or is refused
//! for) unknown fields as `fieldValidation` asks, and is checked against its CRD version's
//! schema and CEL rules, with the errors and messages of kube-apiserver.

use super::errors::ApiError;
use super::registry::ResourceType;
use super::schema;
use serde_json::Value;

/// Defaults, prunes and validates `object`; returns warnings for the response.
pub fn admit(
    rt: &ResourceType,
    name: &str,
    old: Option<&Value>,
    object: &mut Value,
    field_validation: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    let Some(schema) = rt.schema.as_ref().filter(|_| rt.custom) else { return Ok(Vec::new()) };
    schema::apply_defaults(schema, object);
    let unknown = schema::prune(schema, object);
    let mut warnings = Vec::new();
    if !unknown.is_empty() {
        // Without the parameter the server warns, as since Kubernetes 1.27.
        match field_validation.unwrap_or("Warn") {
            "Strict" => {
                return Err(ApiError::bad_request(format!(
                    "{kind} in version \"{version}\" cannot be handled as a {kind}: {}",
                    schema::strict_decoding_message(&unknown),
                    kind = rt.kind,
                    version = rt.version,
                )));
            }
            "Ignore" => {}
            _ => warnings.extend(unknown.iter().map(|u| schema::unknown_field_warning(u))),
        }
    }
    let errors = schema::validate_all(schema, object, old);
    if !errors.is_empty() {
        let kind = rt.qualified_kind();
        return Err(ApiError::invalid(
            &kind,
            name,
            schema::invalid_message(&kind, name, &errors),
            schema::to_status_causes(&errors),
        ));
    }
    Ok(warnings)
}
