//! Checks of the MetricTemplate and AlertProvider kinds, and of query placeholders.

use super::{Problem, names};
use crate::alert_provider::AlertProviderSpec;
use crate::metric_template::{MetricProviderType, MetricTemplateSpec};

/// Placeholders a query may use, besides `variables.<key>`.
pub const QUERY_PLACEHOLDERS: &[&str] = &["name", "namespace", "target", "service", "interval"];

/// The placeholders of a query (`{{ namespace }}` gives `namespace`), in order of appearance,
/// or the text of an unclosed one. Go template's leading dot (`{{ .namespace }}`) is dropped,
/// as the controller's rendering accepts it.
fn placeholders(query: &str) -> Result<Vec<&str>, String> {
    let mut found = Vec::new();
    let mut rest = query;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!("a placeholder opened with {{{{ is never closed: {:?}", &rest[start..]));
        };
        let key = after[..end].trim();
        found.push(key.strip_prefix('.').unwrap_or(key));
        rest = &after[end + 2..];
    }
    Ok(found)
}

/// The keys a query takes from `templateVariables` (`{{ variables.reporter }}` gives `reporter`).
pub(super) fn template_variables(query: &str) -> Vec<String> {
    placeholders(query)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.strip_prefix("variables."))
        .map(str::to_owned)
        .collect()
}

/// Problems with a query's placeholders, as sentences.
pub(super) fn check_query(query: &str) -> Vec<String> {
    let found = match placeholders(query) {
        Ok(found) => found,
        Err(e) => return vec![e],
    };
    found
        .into_iter()
        .filter(|p| !QUERY_PLACEHOLDERS.contains(p) && p.strip_prefix("variables.").is_none_or(str::is_empty))
        .map(|p| {
            format!(
                "unknown placeholder {{{{ {p} }}}}; known: {}, variables.<key>",
                QUERY_PLACEHOLDERS.iter().map(|k| format!("{{{{ {k} }}}}")).collect::<Vec<_>>().join(", ")
            )
        })
        .collect()
}

/// Every problem of a MetricTemplate spec.
pub fn validate_metric_template(spec: &MetricTemplateSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    if spec.provider.r#type != MetricProviderType::Prometheus {
        out.push(Problem::error(
            "spec.provider.type",
            format!("Fledge queries Prometheus only; {} is not supported", spec.provider.r#type.as_str()),
        ));
    }
    if let Some(Err(e)) = spec.provider.address.as_deref().map(names::http_url) {
        out.push(Problem::error("spec.provider.address", e));
    }
    if spec.query.trim().is_empty() {
        out.push(Problem::error("spec.query", "required: the query to run"));
    }
    for problem in check_query(&spec.query) {
        out.push(Problem::error("spec.query", problem));
    }
    out
}

/// Every problem of an AlertProvider spec.
pub fn validate_alert_provider(spec: &AlertProviderSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    if spec.address.is_none() && spec.secret_ref.is_none() {
        out.push(Problem::error("spec", "set address or secretRef (a Secret with the key address)"));
    }
    if let Some(Err(e)) = spec.address.as_deref().map(names::http_url) {
        out.push(Problem::error("spec.address", e));
    }
    if let Some(Err(e)) = spec.proxy.as_deref().map(names::http_url) {
        out.push(Problem::error("spec.proxy", e));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_and_checked() {
        let q = "sum(rate(x{ns=\"{{ namespace }}\",r=\"{{variables.reporter}}\"}[{{ interval }}]))";
        assert_eq!(template_variables(q), ["reporter"]);
        assert!(check_query(q).is_empty());
        assert_eq!(
            check_query("x{{ ingress }}"),
            [
                "unknown placeholder {{ ingress }}; known: {{ name }}, {{ namespace }}, {{ target }}, {{ service }}, {{ interval }}, variables.<key>"
            ]
        );
        assert_eq!(check_query("x{{ target"), ["a placeholder opened with {{ is never closed: \"{{ target\""]);
        // Go template's leading dot, which the rendering accepts too.
        let dotted = "x{ns=\"{{ .namespace }}\",r=\"{{ .variables.reporter }}\"}";
        assert!(check_query(dotted).is_empty());
        assert_eq!(template_variables(dotted), ["reporter"]);
    }
}
