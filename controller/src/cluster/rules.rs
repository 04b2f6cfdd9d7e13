//! What the flags of `fledge controller` decide for every Canary (Flagger's `-selector-labels`,
//! `-include-label-prefix`, `-enable-config-tracking`, `-no-cross-namespace-refs`): which label
//! of a target names its app, which of its labels are copied, whether ConfigMaps and Secrets
//! are tracked, and whether references may cross namespaces. Reaches the reconcile through its
//! `Context`. No I/O.

use std::collections::BTreeMap;

/// The controller-wide rules, each with the default of a controller started without flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Which label of the target's selector names its app (`--selector-labels`).
    pub selector_labels: SelectorLabels,
    /// Which labels of the target, its autoscaler and its configs are copied to the primary's
    /// (`--include-label-prefix`).
    pub copied_labels: LabelPrefixes,
    /// Whether the ConfigMaps and Secrets the target uses are tracked and copied for the
    /// primary (`--enable-config-tracking`).
    pub config_tracking: bool,
    /// Whether a Canary may use a MetricTemplate or AlertProvider of another namespace
    /// (`--no-cross-namespace-refs` turns it off).
    pub cross_namespace_refs: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            selector_labels: SelectorLabels::default(),
            copied_labels: LabelPrefixes::All,
            config_tracking: true,
            cross_namespace_refs: true,
        }
    }
}

/// Label keys that may name a target's app, in order of preference; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorLabels(Vec<String>);

impl Default for SelectorLabels {
    /// Flagger's: `app`, `name`, `app.kubernetes.io/name`.
    fn default() -> Self {
        Self(["app", "name", "app.kubernetes.io/name"].map(str::to_owned).to_vec())
    }
}

impl SelectorLabels {
    /// A comma-separated list of label keys, as `--selector-labels` takes it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let keys: Vec<String> = text.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect();
        if keys.is_empty() {
            return Err("give at least one label key, for example app,name,app.kubernetes.io/name".to_owned());
        }
        for key in &keys {
            label_key(key)?;
        }
        Ok(Self(keys))
    }

    /// The keys, in order of preference.
    pub fn keys(&self) -> &[String] {
        &self.0
    }
}

impl std::fmt::Display for SelectorLabels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// Which labels are copied from an object to the one Fledge derives from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelPrefixes {
    /// Every label (`*`).
    All,
    /// The labels whose key starts with one of these prefixes; none when empty.
    Only(Vec<String>),
}

impl LabelPrefixes {
    /// A comma-separated list of prefixes, as `--include-label-prefix` takes it: `*` is every
    /// label, an empty list none.
    pub fn parse(text: &str) -> Self {
        let prefixes: Vec<String> =
            text.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect();
        if prefixes.iter().any(|p| p == "*") { Self::All } else { Self::Only(prefixes) }
    }

    /// The labels of `labels` that are copied.
    pub fn filter(&self, labels: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
        let labels = labels.into_iter().flatten();
        match self {
            Self::All => labels.map(|(k, v)| (k.clone(), v.clone())).collect(),
            Self::Only(prefixes) => labels
                .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p.as_str())))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// characters of letters, digits, `-`, `_` and `.`, beginning and ending with a letter or digit.
fn label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let bad = |why: &str| Err(format!("{key:?} is not a label key: {why}"));
    if let Some(prefix) = prefix {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if prefix.is_empty() || prefix.len() > 253 || !prefix.split('.').all(label_ok) {
            return bad("its prefix must be a DNS subdomain such as app.kubernetes.io");
        }
    }
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if name.is_empty()
        || name.len() > 63
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || !edge(name.chars().next())
        || !edge(name.chars().last())
    {
        return bad(
            "its name must be 1-63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_labels_are_a_comma_list_of_label_keys() {
        assert_eq!(SelectorLabels::default().to_string(), "app, name, app.kubernetes.io/name");
        let parsed = SelectorLabels::parse(" service , app.kubernetes.io/instance,").unwrap();
        assert_eq!(parsed.keys(), ["service", "app.kubernetes.io/instance"]);
        assert_eq!(
            SelectorLabels::parse(" , ").unwrap_err(),
            "give at least one label key, for example app,name,app.kubernetes.io/name"
        );
        assert!(SelectorLabels::parse("app,my app").unwrap_err().starts_with("\"my app\" is not a label key"));
        assert!(SelectorLabels::parse("Example.com/app").unwrap_err().contains("prefix must be a DNS subdomain"));
        assert!(SelectorLabels::parse("-app").is_err());
        assert!(SelectorLabels::parse("app.kubernetes.io/").is_err());
    }

    #[test]
    fn label_prefixes_choose_what_is_copied() {
        let labels: BTreeMap<String, String> =
            [("app", "podinfo"), ("team", "web"), ("team-lead", "ann"), ("helm.sh/chart", "podinfo-6")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into();
        assert_eq!(LabelPrefixes::parse("*").filter(Some(&labels)), labels);
        assert_eq!(LabelPrefixes::parse("team,*"), LabelPrefixes::All);
        let teams = LabelPrefixes::parse("team, helm.sh/");
        let kept: Vec<_> = teams.filter(Some(&labels)).into_keys().collect();
        assert_eq!(kept, ["helm.sh/chart", "team", "team-lead"]);
        assert!(LabelPrefixes::parse("").filter(Some(&labels)).is_empty(), "Flagger's default: none");
        assert!(LabelPrefixes::All.filter(None).is_empty());
    }
}
