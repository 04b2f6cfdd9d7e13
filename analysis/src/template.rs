//! Rendering a metric query: `{{ name }}`, `{{ namespace }}`, `{{ target }}`, `{{ service }}`,
//! `{{ interval }}` and `{{ variables.<key> }}`, as Flagger's templates write them. The names
//! put into the query are checked to be Kubernetes names and the interval a Prometheus
//! duration, so a spec cannot put query text into a query through them. Pure.

use fledge_crds::schedule::parse_prom_duration;
use std::collections::BTreeMap;

/// What a placeholder can stand for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vars {
    name: String,
    namespace: String,
    target: String,
    service: String,
    interval: String,
    variables: BTreeMap<String, String>,
}

/// Why a query could not be rendered.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// A placeholder with no value.
    #[error("the query uses {{{{ {0} }}}}, which has no value (templateVariables has no key {1:?})")]
    MissingVariable(String, String),
    /// A placeholder Fledge does not know.
    #[error("the query uses {{{{ {0} }}}}; known are name, namespace, target, service, interval and variables.<key>")]
    Unknown(String),
    /// `{{` without `}}`.
    #[error("the query has an unclosed {{{{ at byte {0}")]
    Unclosed(usize),
    /// A value that is not what its placeholder promises.
    #[error("{0}: {1:?} is not a valid {2}")]
    Invalid(&'static str, String, &'static str),
}

/// Whether `text` is a DNS-1123 label or subdomain, as Kubernetes object names are.
pub(crate) fn is_kubernetes_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

impl Vars {
    /// Values for a canary's query, each checked.
    pub fn new(
        name: &str,
        namespace: &str,
        target: &str,
        service: &str,
        interval: &str,
        variables: BTreeMap<String, String>,
    ) -> Result<Self, RenderError> {
        for (field, value) in [("name", name), ("namespace", namespace), ("target", target), ("service", service)] {
            if !is_kubernetes_name(value) {
                return Err(RenderError::Invalid(field, value.to_owned(), "Kubernetes name"));
            }
        }
        if parse_prom_duration(interval).is_err() {
            return Err(RenderError::Invalid("interval", interval.to_owned(), "Prometheus duration"));
        }
        Ok(Self {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            target: target.to_owned(),
            service: service.to_owned(),
            interval: interval.to_owned(),
            variables,
        })
    }

    fn lookup(&self, key: &str) -> Result<&str, RenderError> {
        match key {
            "name" => Ok(&self.name),
            "namespace" => Ok(&self.namespace),
            "target" => Ok(&self.target),
            "service" => Ok(&self.service),
            "interval" => Ok(&self.interval),
            _ => match key.strip_prefix("variables.") {
                Some(var) => self
                    .variables
                    .get(var)
                    .map(String::as_str)
                    .ok_or_else(|| RenderError::MissingVariable(key.to_owned(), var.to_owned())),
                None => Err(RenderError::Unknown(key.to_owned())),
            },
        }
    }
}

/// The query with every placeholder replaced. Go template's leading dot (`{{ .name }}`) is
/// accepted too, as some Flagger templates write it.
pub fn render(query: &str, vars: &Vars) -> Result<String, RenderError> {
    fill(query, |key| vars.lookup(key.strip_prefix('.').unwrap_or(key)), RenderError::Unclosed)
}

/// `text` with each `{{ key }}` replaced by `value(key)` (the key trimmed), or the first error:
/// `value`'s, or `unclosed(byte)` for a `{{` at that byte without its `}}`. Metric queries and
/// Loki selectors are filled in this one way.
pub(crate) fn fill<'v, E>(
    text: &str,
    mut value: impl FnMut(&str) -> Result<&'v str, E>,
    unclosed: impl FnOnce(usize) -> E,
) -> Result<String, E> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { return Err(unclosed(text.len() - rest.len() + start)) };
        out.push_str(value(after[..end].trim())?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let variables = [("ingress".to_owned(), "public".to_owned())].into();
        Vars::new("podinfo", "test", "podinfo", "podinfo", "1m", variables).unwrap()
    }

    #[test]
    fn every_placeholder_is_replaced() {
        let q = "rate(x{ns=\"{{ namespace }}\",w=~\"{{target}}\",svc=\"{{ service }}\",i=\"{{ variables.ingress }}\"}[{{ interval }}]) # {{ .name }}";
        assert_eq!(
            render(q, &vars()).unwrap(),
            "rate(x{ns=\"test\",w=~\"podinfo\",svc=\"podinfo\",i=\"public\"}[1m]) # podinfo"
        );
    }

    #[test]
    fn a_missing_variable_names_its_key() {
        let e = render("x{a=\"{{ variables.region }}\"}", &vars()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the query uses {{ variables.region }}, which has no value (templateVariables has no key \"region\")"
        );
        assert!(matches!(render("{{ pod }}", &vars()), Err(RenderError::Unknown(k)) if k == "pod"));
        assert_eq!(render("x{{ name", &vars()), Err(RenderError::Unclosed(1)));
    }

    #[test]
    fn names_cannot_carry_query_text() {
        let e =
            Vars::new("podinfo", "test\"} or vector(1) #", "podinfo", "podinfo", "1m", BTreeMap::new()).unwrap_err();
        assert_eq!(e.to_string(), "namespace: \"test\\\"} or vector(1) #\" is not a valid Kubernetes name");
        assert!(Vars::new("podinfo", "test", "podinfo", "podinfo", "1m]) or vector(1", BTreeMap::new()).is_err());
        assert!(Vars::new("podinfo", "test", "podinfo", "podinfo", "1h30m", BTreeMap::new()).is_ok());
        // The durations the validator accepts for `interval`, no others.
        assert!(Vars::new("podinfo", "test", "podinfo", "podinfo", "30m1h", BTreeMap::new()).is_err());
    }
}
