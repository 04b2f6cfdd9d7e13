//! The checks a spec needs beyond what the API server's schema can express: duration and cron
//! syntax, increasing `stepWeights`, a reachable `maxWeight`, references that must exist,
//! unsupported Flagger providers. Pure: the caller passes what it knows of the cluster.
//!
//! These checks repeat the schema's CEL rules too, so a spec is judged the same whether or not
//! the server enforced them (an old CRD, a sandbox without CEL).

mod analysis;
mod canary;
mod names;
mod others;

pub use others::{validate_alert_provider, validate_metric_template};

use crate::{MetricTemplateSpec, canary::Canary};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// How serious a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Fledge cannot act on the spec until it is fixed.
    Error,
    /// Fledge acts, but ignores or reinterprets something the user wrote.
    Warning,
}

/// One thing wrong with a spec: the field and a sentence a person can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// JSON path of the field, for example `spec.analysis.stepWeights`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
    /// Whether Fledge can go on.
    pub severity: Severity,
}

impl Problem {
    /// A problem that stops Fledge from acting on the spec.
    pub fn error(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), severity: Severity::Error }
    }

    /// A problem Fledge works around.
    pub fn warning(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), severity: Severity::Warning }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Whether any of the problems stops Fledge.
pub fn has_errors(problems: &[Problem]) -> bool {
    problems.iter().any(|p| p.severity == Severity::Error)
}

/// What the caller knows of the objects a Canary may reference, keyed by (namespace, name).
/// References are checked only against a catalog that was given.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// MetricTemplates that exist.
    pub metric_templates: BTreeMap<(String, String), MetricTemplateSpec>,
    /// AlertProviders that exist.
    pub alert_providers: BTreeSet<(String, String)>,
}

impl Catalog {
    /// Adds a MetricTemplate.
    pub fn add_metric_template(&mut self, namespace: &str, name: &str, spec: MetricTemplateSpec) {
        self.metric_templates.insert((namespace.to_owned(), name.to_owned()), spec);
    }

    /// Adds an AlertProvider.
    pub fn add_alert_provider(&mut self, namespace: &str, name: &str) {
        self.alert_providers.insert((namespace.to_owned(), name.to_owned()));
    }
}

/// The MetricTemplates and AlertProviders `canary` takes from another namespace, each an error
/// on its `namespace` field saying `why` they are refused (a controller that forbids them).
pub fn cross_namespace_references(canary: &Canary, why: &str) -> Vec<Problem> {
    let own = canary.metadata.namespace.as_deref().unwrap_or("default");
    let analysis = &canary.spec.analysis;
    let templates = analysis.metrics.iter().flatten().enumerate().filter_map(|(i, m)| {
        let r = m.template_ref.as_ref()?;
        Some((format!("spec.analysis.metrics[{i}].templateRef.namespace"), r.namespace_or(own)))
    });
    let providers =
        analysis.alerts.iter().flatten().enumerate().map(|(i, a)| {
            (format!("spec.analysis.alerts[{i}].providerRef.namespace"), a.provider_ref.namespace_or(own))
        });
    templates
        .chain(providers)
        .filter(|(_, namespace)| *namespace != own)
        .map(|(field, namespace)| {
            Problem::error(field, format!("{why}; {namespace:?} is not the Canary's namespace {own:?}"))
        })
        .collect()
}

/// Every problem of a Canary at once, errors first. With a catalog, references to
/// MetricTemplates and AlertProviders are checked against it.
pub fn validate_canary(canary: &Canary, catalog: Option<&Catalog>) -> Vec<Problem> {
    let namespace = canary.metadata.namespace.as_deref().unwrap_or("default");
    let mut problems = Vec::new();
    canary::check_spec(&canary.spec, &mut problems);
    analysis::check_analysis(&canary.spec, namespace, catalog, &mut problems);
    problems.sort_by_key(|p| p.severity);
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_to_other_namespaces_are_named_by_field() {
        let canary: Canary = serde_json::from_value(serde_json::json!({
            "apiVersion": "fledge.dev/v1beta1", "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": {
                    "stepWeight": 10,
                    "metrics": [
                        {"name": "local", "thresholdRange": {"max": 1}, "templateRef": {"name": "a"}},
                        {"name": "same", "thresholdRange": {"max": 1}, "templateRef": {"name": "b", "namespace": "test"}},
                        {"name": "shared", "thresholdRange": {"max": 1}, "templateRef": {"name": "c", "namespace": "istio-system"}},
                        {"name": "request-success-rate", "thresholdRange": {"min": 99}},
                    ],
                    "alerts": [
                        {"name": "team", "providerRef": {"name": "slack"}},
                        {"name": "on-call", "providerRef": {"name": "pager", "namespace": "ops"}},
                    ],
                },
            },
        }))
        .unwrap();
        let found: Vec<String> =
            cross_namespace_references(&canary, "refused").iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "spec.analysis.metrics[2].templateRef.namespace: refused; \"istio-system\" is not the Canary's namespace \"test\"",
                "spec.analysis.alerts[1].providerRef.namespace: refused; \"ops\" is not the Canary's namespace \"test\"",
            ]
        );
        assert!(cross_namespace_references(&canary, "refused").iter().all(|p| p.severity == Severity::Error));
    }
}
