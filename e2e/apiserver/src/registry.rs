//! The kinds the API server serves: the built-in ones, and every kind registered by a
//! CustomResourceDefinition, at each of its served versions.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// One served resource at one version.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    /// API group, empty for core.
    pub group: String,
    /// Version, for example `v1`.
    pub version: String,
    /// Kind, for example `Deployment`.
    pub kind: String,
    /// Plural, for example `deployments`.
    pub plural: String,
    /// Singular, for example `deployment`.
    pub singular: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Short names for kubectl.
    pub short_names: Vec<String>,
    /// Categories for kubectl (`all`).
    pub categories: Vec<String>,
    /// Whether `status` is a subresource (written separately from the rest).
    pub status: bool,
    /// The scale subresource: JSON paths of spec replicas, status replicas, selector.
    pub scale: Option<ScalePaths>,
    /// Whether pods' `log` subresource is served.
    pub log: bool,
    /// The openAPIV3Schema of a custom resource version.
    pub schema: Option<Value>,
    /// `additionalPrinterColumns` of a custom resource version.
    pub printer_columns: Vec<Value>,
    /// Whether this type comes from a CustomResourceDefinition.
    pub custom: bool,
}

/// Where the scale subresource reads and writes.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalePaths {
    /// `.spec.replicas`
    pub spec_replicas: String,
    /// `.status.replicas`
    pub status_replicas: String,
    /// `.status.selector`, if any.
    pub label_selector: Option<String>,
}

impl ResourceType {
    /// `apiVersion` of objects of this type.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// The group objects of this type are stored under: events.k8s.io Events are core Events
    /// served in another shape, as in Kubernetes.
    pub fn storage_group(&self) -> String {
        if self.group == "events.k8s.io" { String::new() } else { self.group.clone() }
    }

    /// `Kind.group` as the API server names a type in messages (`Canary.fledge.dev`).
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() { self.kind.clone() } else { format!("{}.{}", self.kind, self.group) }
    }

    /// `plural.group` as in a NotFound message (`deployments.apps`).
    pub fn qualified_resource(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    fn builtin(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            namespaced,
            short_names: Vec::new(),
            categories: Vec::new(),
            status: false,
            scale: None,
            log: false,
            schema: None,
            printer_columns: Vec::new(),
            custom: false,
        }
    }

    fn short(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|s| s.to_string()).collect();
        self
    }

    fn all(mut self) -> Self {
        self.categories = vec!["all".into()];
        self
    }

    fn with_status(mut self) -> Self {
        self.status = true;
        self
    }
}

fn builtins() -> Vec<ResourceType> {
    let scale = ScalePaths {
        spec_replicas: ".spec.replicas".into(),
        status_replicas: ".status.replicas".into(),
        label_selector: Some(".status.selector".into()),
    };
    vec![
        ResourceType::builtin("", "v1", "Namespace", "namespaces", false).short(&["ns"]).with_status(),
        ResourceType {
            log: true,
            ..ResourceType::builtin("", "v1", "Pod", "pods", true).short(&["po"]).all().with_status()
        },
        ResourceType::builtin("", "v1", "Service", "services", true).short(&["svc"]).all().with_status(),
        ResourceType::builtin("", "v1", "ConfigMap", "configmaps", true).short(&["cm"]),
        ResourceType::builtin("", "v1", "Secret", "secrets", true),
        ResourceType::builtin("", "v1", "Event", "events", true).short(&["ev"]),
        ResourceType::builtin("events.k8s.io", "v1", "Event", "events", true).short(&["ev"]),
        ResourceType {
            scale: Some(scale),
            ..ResourceType::builtin("apps", "v1", "Deployment", "deployments", true)
                .short(&["deploy"])
                .all()
                .with_status()
        },
        ResourceType::builtin("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true)
            .short(&["hpa"])
            .all()
            .with_status(),
        ResourceType::builtin("coordination.k8s.io", "v1", "Lease", "leases", true),
        ResourceType::builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        )
        .short(&["crd", "crds"])
        .with_status(),
    ]
}

/// (group, version, plural).
type TypeKey = (String, String, String);

/// The served types, shared between requests; CRDs add and remove types at run time.
#[derive(Clone, Debug)]
pub struct Registry {
    types: Arc<RwLock<BTreeMap<TypeKey, ResourceType>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// The built-in types.
    pub fn new() -> Self {
        let types =
            builtins().into_iter().map(|t| ((t.group.clone(), t.version.clone(), t.plural.clone()), t)).collect();
        Self { types: Arc::new(RwLock::new(types)) }
    }

    /// The type served at `/apis/<group>/<version>/<plural>`.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        let types = self.types.read().unwrap_or_else(|e| e.into_inner());
        types.get(&(group.to_owned(), version.to_owned(), plural.to_owned())).cloned()
    }

    /// The type of a kind at an apiVersion (`apps/v1`, `Deployment`).
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<ResourceType> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.all().into_iter().find(|t| t.group == group && t.version == version && t.kind == kind)
    }

    /// Every served type.
    pub fn all(&self) -> Vec<ResourceType> {
        self.types.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// Groups with their versions, core first, then by name; versions by Kubernetes'
    /// priority (GA before beta before alpha, higher numbers first), the preferred one first.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in self.all() {
            let versions = groups.entry(t.group.clone()).or_default();
            if !versions.contains(&t.version) {
                versions.push(t.version.clone());
            }
        }
        for versions in groups.values_mut() {
            versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        groups.into_iter().collect()
    }

    /// Serves (or stops serving) the versions of a CustomResourceDefinition as it is now.
    pub fn sync_crd(&self, crd: &Value, established: bool) {
        let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default().to_owned();
        let plural = crd.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut types = self.types.write().unwrap_or_else(|e| e.into_inner());
        types.retain(|(g, _, p), t| !(t.custom && *g == group && *p == plural));
        if !established {
            return;
        }
        let names = &crd["spec"]["names"];
        let strings = |v: &Value| -> Vec<String> {
            v.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
        };
        for version in crd.pointer("/spec/versions").and_then(Value::as_array).into_iter().flatten() {
            if version.get("served") != Some(&Value::Bool(true)) {
                continue;
            }
            let name = version["name"].as_str().unwrap_or_default().to_owned();
            let subresources = &version["subresources"];
            let scale = subresources.get("scale").map(|s| ScalePaths {
                spec_replicas: s["specReplicasPath"].as_str().unwrap_or(".spec.replicas").to_owned(),
                status_replicas: s["statusReplicasPath"].as_str().unwrap_or(".status.replicas").to_owned(),
                label_selector: s["labelSelectorPath"].as_str().map(str::to_owned),
            });
            let kind = names["kind"].as_str().unwrap_or_default().to_owned();
            let t = ResourceType {
                group: group.clone(),
                version: name.clone(),
                singular: names["singular"].as_str().map(str::to_owned).unwrap_or_else(|| kind.to_lowercase()),
                kind,
                plural: plural.clone(),
                namespaced: crd.pointer("/spec/scope").and_then(Value::as_str) == Some("Namespaced"),
                short_names: strings(&names["shortNames"]),
                categories: strings(&names["categories"]),
                status: subresources.get("status").is_some(),
                scale,
                log: false,
                schema: version.pointer("/schema/openAPIV3Schema").cloned(),
                printer_columns: version["additionalPrinterColumns"].as_array().cloned().unwrap_or_default(),
                custom: true,
            };
            types.insert((group.clone(), name, plural.clone()), t);
        }
    }
}

/// How Kubernetes ranks versions: `v2` > `v1` > `v1beta2` > `v1beta1` > `v1alpha1` > others.
fn version_priority(version: &str) -> (u8, u32, u32) {
    let parse = |rest: &str| -> Option<(u8, u32, u32)> {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let major: u32 = digits.parse().ok()?;
        let tail = &rest[digits.len()..];
        if tail.is_empty() {
            return Some((3, major, 0));
        }
        for (stage, rank) in [("beta", 2), ("alpha", 1)] {
            if let Some(n) = tail.strip_prefix(stage) {
                return Some((rank, major, n.parse().ok()?));
            }
        }
        None
    };
    version.strip_prefix('v').and_then(parse).unwrap_or((0, 0, 0))
}

/// The `APIResource` entry of a type for discovery.
pub fn api_resource(t: &ResourceType) -> Vec<Value> {
    let verbs = json!(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]);
    let mut out = vec![json!({
        "name": t.plural,
        "singularName": t.singular,
        "namespaced": t.namespaced,
        "kind": t.kind,
        "verbs": verbs,
        "shortNames": t.short_names,
        "categories": t.categories,
        "storageVersionHash": "",
    })];
    if t.status {
        out.push(json!({"name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced, "kind": t.kind, "verbs": ["get", "patch", "update"]}));
    }
    if t.scale.is_some() {
        out.push(json!({"name": format!("{}/scale", t.plural), "singularName": "", "namespaced": t.namespaced, "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}));
    }
    if t.log {
        out.push(json!({"name": format!("{}/log", t.plural), "singularName": "", "namespaced": t.namespaced, "kind": "Pod", "verbs": ["get"]}));
    }
    out
}
