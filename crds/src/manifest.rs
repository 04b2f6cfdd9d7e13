//! Reading fledge.dev objects from YAML as a user wrote them: every problem named by its field,
//! including wrong types, missing required fields and unknown fields (which `kubectl apply`
//! rejects with its default strict field validation). Pure.

use crate::validate::{Catalog, Problem, validate_alert_provider, validate_canary, validate_metric_template};
use crate::{API_VERSION, AlertProvider, Canary, MetricTemplate};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt;

/// A document of a manifest, typed when it is a fledge.dev kind.
#[derive(Clone, Debug)]
pub enum Object {
    /// A `Canary`.
    Canary(Box<Canary>),
    /// A `MetricTemplate`.
    MetricTemplate(Box<MetricTemplate>),
    /// An `AlertProvider`.
    AlertProvider(Box<AlertProvider>),
    /// Any other kind (a Secret, a Deployment), not interpreted.
    Other {
        /// `apiVersion` of the document.
        api_version: String,
        /// `kind` of the document.
        kind: String,
    },
}

/// One document of a YAML stream.
#[derive(Clone, Debug)]
pub struct Document {
    /// How problems name it: `Canary test/podinfo`, or `document 3` when it has no kind.
    pub label: String,
    /// The typed object, or why it could not be typed.
    pub object: Result<Object, Vec<Problem>>,
}

/// Parses every document of a YAML stream. Empty documents are skipped; a document that is
/// not a fledge.dev object of a known kind comes back as [`Object::Other`].
pub fn parse_documents(yaml: &str) -> Vec<Document> {
    let mut out = Vec::new();
    for (index, document) in serde_norway::Deserializer::from_str(yaml).enumerate() {
        let value = match Value::deserialize(document) {
            Ok(Value::Null) => continue,
            Ok(value) => value,
            Err(e) => {
                let problem = Problem::error("(document)", format!("not valid YAML: {e}"));
                out.push(Document { label: format!("document {}", index + 1), object: Err(vec![problem]) });
                // The YAML parser cannot resume after a syntax error.
                break;
            }
        };
        let label = match (
            value.get("kind").and_then(Value::as_str),
            value.pointer("/metadata/name").and_then(Value::as_str),
        ) {
            (Some(kind), Some(name)) => {
                let namespace = value.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
                format!("{kind} {namespace}/{name}")
            }
            (Some(kind), None) => format!("{kind} (document {})", index + 1),
            _ => format!("document {}", index + 1),
        };
        out.push(Document { label, object: parse_object(value) });
    }
    out
}

/// Types one object, given as JSON.
pub fn parse_object(value: Value) -> Result<Object, Vec<Problem>> {
    let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_owned();
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
    let fledge_kind = matches!(kind.as_str(), "Canary" | "MetricTemplate" | "AlertProvider");
    if fledge_kind && api_version.starts_with("flagger.app/") {
        return Err(vec![Problem::error(
            "apiVersion",
            format!(
                "{api_version} is Flagger's API; change it to {API_VERSION} and the rest of the manifest can stay as it is"
            ),
        )]);
    }
    if api_version != API_VERSION || !fledge_kind {
        return Ok(Object::Other { api_version, kind });
    }
    if value.pointer("/metadata/name").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(vec![Problem::error("metadata.name", "required")]);
    }
    Ok(match kind.as_str() {
        "Canary" => Object::Canary(Box::new(typed(value)?)),
        "MetricTemplate" => Object::MetricTemplate(Box::new(typed(value)?)),
        _ => Object::AlertProvider(Box::new(typed(value)?)),
    })
}

/// Deserializes with the path of the first wrong field and every unknown field.
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, Vec<Problem>> {
    let mut unknown = Vec::new();
    let mut track = serde_path_to_error::Track::new();
    let result = {
        let tracked = serde_path_to_error::Deserializer::new(value, &mut track);
        let mut on_unknown = |path: serde_ignored::Path<'_>| unknown.push(ignored_path(&path));
        T::deserialize(serde_ignored::Deserializer::new(tracked, &mut on_unknown))
    };
    // The derived root types read apiVersion and kind in their own way, which serde_ignored
    // reports as ignored; they were checked before.
    let mut problems: Vec<Problem> = unknown
        .into_iter()
        .filter(|field| field != "apiVersion" && field != "kind")
        .map(|field| Problem::error(field, "unknown field"))
        .collect();
    match result {
        Ok(typed) if problems.is_empty() => Ok(typed),
        Ok(_) => Err(problems),
        Err(e) => {
            problems.insert(0, type_problem(&track.path().to_string(), &e.to_string()));
            Err(problems)
        }
    }
}

/// A serde error as a field and a sentence: `missing field `x`` at `spec` becomes `spec.x: required`.
fn type_problem(path: &str, message: &str) -> Problem {
    let path = if path == "." { "" } else { path };
    if let Some(name) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        let field = if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
        return Problem::error(field, "required");
    }
    // serde's words for a list given where an object belongs are about its internals.
    let message = match message.split_once(", expected struct ") {
        Some((got, _)) if got.starts_with("invalid length") || got == "invalid type: sequence" => {
            "must be an object (field: value, ...), not a list".to_owned()
        }
        _ => message.to_owned(),
    };
    Problem::error(if path.is_empty() { "(object)" } else { path }, message)
}

/// `spec.analysis.metrics[0].foo` from serde_ignored's path.
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => match ignored_path(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}

/// A problem of one object of a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The object: `Canary test/podinfo`, or `document 2` when it could not be typed.
    pub object: String,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problem.severity {
            crate::Severity::Error => write!(f, "{}: {}", self.object, self.problem),
            crate::Severity::Warning => write!(f, "{}: warning: {}", self.object, self.problem),
        }
    }
}

/// Parses a manifest and validates every fledge.dev object in it, checking references against
/// `catalog` plus the MetricTemplates and AlertProviders of the manifest itself.
pub fn check_manifest(yaml: &str, catalog: Option<&Catalog>) -> Vec<Finding> {
    let documents = parse_documents(yaml);
    let mut known = catalog.cloned().unwrap_or_default();
    add_to_catalog(&mut known, &documents);
    let mut out = Vec::new();
    for Document { label, object } in documents {
        let problems = match object {
            Err(problems) => problems,
            Ok(Object::Canary(c)) => validate_canary(&c, Some(&known)),
            Ok(Object::MetricTemplate(t)) => validate_metric_template(&t.spec),
            Ok(Object::AlertProvider(p)) => validate_alert_provider(&p.spec),
            Ok(Object::Other { .. }) => continue,
        };
        out.extend(problems.into_iter().map(|problem| Finding { object: label.clone(), problem }));
    }
    out
}

/// The MetricTemplates and AlertProviders of a manifest that parse.
pub fn catalog_of(yaml: &str) -> Catalog {
    let mut catalog = Catalog::default();
    add_to_catalog(&mut catalog, &parse_documents(yaml));
    catalog
}

fn add_to_catalog(catalog: &mut Catalog, documents: &[Document]) {
    for object in documents.iter().filter_map(|d| d.object.as_ref().ok()) {
        match object {
            Object::MetricTemplate(t) => {
                catalog.add_metric_template(namespace(&t.metadata), &name(&t.metadata), t.spec.clone())
            }
            Object::AlertProvider(p) => catalog.add_alert_provider(namespace(&p.metadata), &name(&p.metadata)),
            _ => {}
        }
    }
}

fn namespace(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

fn name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}
