//! The install manifests under `config/`, rendered by the real `kubectl kustomize` as
//! `kubectl apply -k` renders them: every object is valid for its kind, the controller runs
//! restricted, as its ServiceAccount, with the image and flags of this release, and the RBAC
//! grants exactly what the controller's requests need (the list `fledge preflight` checks,
//! [`fledge_controller::process::preflight::NEEDS`], each entry naming the code that makes the
//! request), no more and no less.

use fledge_controller::process::preflight::{CONFIG_TRACKING, NEEDS, Need, OWN_NAMESPACE};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Namespace, PodSpec, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The image the manifests run: this release of it.
const IMAGE: &str = "ghcr.io/fledge-dev/fledge";
/// The ServiceAccount the controller runs as, in every install.
const SERVICE_ACCOUNT: &str = "fledge";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// One way to install: a kustomization of this repository, with optional components.
struct Variant {
    /// The folder under the repository (`config`, `config/overlays/namespaced`).
    base: &'static str,
    /// Components under `config/components/`.
    components: &'static [&'static str],
    /// The namespace the controller runs in.
    namespace: &'static str,
    /// Whether it watches every namespace (ClusterRoles) or only its own (Roles).
    cluster_wide: bool,
}

impl Variant {
    fn name(&self) -> String {
        let mut name = self.base.to_owned();
        for component in self.components {
            name.push_str(&format!(" + {component}"));
        }
        name
    }

    fn tracks_configs(&self) -> bool {
        !self.components.contains(&"no-config-tracking")
    }
}

const VARIANTS: &[Variant] = &[
    Variant { base: "config", components: &[], namespace: "fledge-system", cluster_wide: true },
    Variant { base: "config", components: &["servicemonitor"], namespace: "fledge-system", cluster_wide: true },
    Variant { base: "config", components: &["no-config-tracking"], namespace: "fledge-system", cluster_wide: true },
    Variant { base: "config/overlays/namespaced", components: &[], namespace: "test", cluster_wide: false },
    Variant {
        base: "config/overlays/namespaced",
        components: &["servicemonitor", "no-config-tracking"],
        namespace: "test",
        cluster_wide: false,
    },
];

/// What `kubectl kustomize` printed for a variant, as JSON objects.
struct Rendered {
    variant: &'static Variant,
    objects: Vec<Value>,
}

impl Rendered {
    fn all(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    fn one<K: DeserializeOwned>(&self, kind: &str) -> K {
        let found = self.all(kind);
        assert_eq!(found.len(), 1, "{}: one {kind}, found {}", self.variant.name(), found.len());
        serde_json::from_value(found[0].clone()).unwrap()
    }

    fn typed<K: DeserializeOwned>(&self, kind: &str) -> Vec<K> {
        self.all(kind).into_iter().map(|o| serde_json::from_value(o.clone()).unwrap()).collect()
    }

    fn deployment(&self) -> Deployment {
        self.one("Deployment")
    }

    fn pod_spec(&self) -> PodSpec {
        self.deployment().spec.unwrap().template.spec.unwrap()
    }

    fn container(&self) -> Container {
        let containers = self.pod_spec().containers;
        assert_eq!(containers.len(), 1, "{}: one container", self.variant.name());
        containers.into_iter().next().unwrap()
    }
}

/// Every variant rendered once, by the real kubectl.
fn rendered() -> &'static [Rendered] {
    static RENDERED: OnceLock<Vec<Rendered>> = OnceLock::new();
    RENDERED.get_or_init(|| VARIANTS.iter().map(|v| Rendered { variant: v, objects: render(v) }).collect())
}

fn render(variant: &Variant) -> Vec<Value> {
    let dir = if variant.components.is_empty() {
        repo().join(variant.base)
    } else {
        // A kustomization of the user's own that adds the components, as docs/install.md
        // shows. kustomize refuses absolute paths, so it names the repository relatively.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("install-manifests")
            .join(variant.name().replace(['/', ' ', '+'], "_"));
        std::fs::create_dir_all(&dir).unwrap();
        let dir = dir.canonicalize().unwrap();
        let up = "../".repeat(dir.components().count() - 1);
        let repo = repo().canonicalize().unwrap();
        let repo = format!("{up}{}", repo.strip_prefix("/").unwrap().display());
        let mut text = format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {}\nresources:\n- {repo}/{}\ncomponents:\n",
            variant.namespace, variant.base
        );
        for component in variant.components {
            text.push_str(&format!("- {repo}/config/components/{component}\n"));
        }
        std::fs::write(dir.join("kustomization.yaml"), text).unwrap();
        dir
    };
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| panic!("running `kubectl kustomize` (kubectl must be on the PATH): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubectl kustomize {} failed: {stderr}", dir.display());
    let text = String::from_utf8(out.stdout).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// The object read as `K` and written back is the object as rendered: every field is one the
/// type knows, with a value of its type (a misspelled or misplaced field would be dropped).
fn round_trip<K: Serialize + DeserializeOwned>(object: &Value) -> Result<(), String> {
    let typed: K = serde_json::from_value(object.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&typed).unwrap();
    match difference(object, &back, "") {
        None => Ok(()),
        Some((path, rendered, read)) => Err(format!("at {path}: rendered {rendered}, read back as {read}")),
    }
}

/// The first place where `a` and `b` differ: its path and both values there.
fn difference(a: &Value, b: &Value, path: &str) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let (va, vb) = (x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null));
                difference(va, vb, &format!("{path}.{k}"))
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (va, vb))| difference(va, vb, &format!("{path}[{i}]")))
        }
        // A schema's `maximum: 100` is a float to the type: the same number.
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => None,
        _ if a == b => None,
        _ => Some((path.to_owned(), a.to_string(), b.to_string())),
    }
}

#[test]
fn every_object_is_valid_for_its_kind_and_in_the_controllers_namespace() {
    for r in rendered() {
        let v = r.variant;
        for object in &r.objects {
            let api_version = object["apiVersion"].as_str().unwrap_or_default();
            let kind = object["kind"].as_str().unwrap_or_default();
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let (checked, namespaced) = match (api_version, kind) {
                ("v1", "Namespace") => (round_trip::<Namespace>(object), false),
                ("v1", "ServiceAccount") => (round_trip::<ServiceAccount>(object), true),
                ("v1", "Service") => (round_trip::<Service>(object), true),
                ("apps/v1", "Deployment") => (round_trip::<Deployment>(object), true),
                ("policy/v1", "PodDisruptionBudget") => (round_trip::<PodDisruptionBudget>(object), true),
                ("rbac.authorization.k8s.io/v1", "Role") => (round_trip::<Role>(object), true),
                ("rbac.authorization.k8s.io/v1", "RoleBinding") => (round_trip::<RoleBinding>(object), true),
                ("rbac.authorization.k8s.io/v1", "ClusterRole") => (round_trip::<ClusterRole>(object), false),
                ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
                    (round_trip::<ClusterRoleBinding>(object), false)
                }
                ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
                    (round_trip::<CustomResourceDefinition>(object), false)
                }
                ("monitoring.coreos.com/v1", "ServiceMonitor") => (Ok(()), true),
                _ => panic!("{}: {api_version} {kind} {name} is not a kind the install is expected to hold", v.name()),
            };
            if let Err(e) = checked {
                panic!("{}: {kind} {name} is not a valid {kind}: {e}", v.name());
            }
            let namespace = object["metadata"]["namespace"].as_str();
            if namespaced {
                assert_eq!(
                    namespace,
                    Some(v.namespace),
                    "{}: {kind} {name} is in the controller's namespace",
                    v.name()
                );
            } else {
                assert_eq!(namespace, None, "{}: {kind} {name} is cluster-scoped", v.name());
            }
        }
        if !v.cluster_wide {
            let cluster_scoped: Vec<&str> = r
                .objects
                .iter()
                .filter(|o| o["metadata"]["namespace"].is_null())
                .map(|o| o["kind"].as_str().unwrap())
                .collect();
            assert!(cluster_scoped.is_empty(), "{}: nothing cluster-scoped, found {cluster_scoped:?}", v.name());
        }
    }
}

#[test]
fn the_cluster_install_holds_the_generated_crds_and_its_namespace() {
    for r in rendered().iter().filter(|r| r.variant.cluster_wide) {
        let mut installed: Vec<CustomResourceDefinition> = r.typed("CustomResourceDefinition");
        let mut generated = fledge_crds::generate::crds();
        let by_name = |c: &CustomResourceDefinition| c.metadata.name.clone();
        installed.sort_by_key(by_name);
        generated.sort_by_key(by_name);
        assert!(installed == generated, "{}: the CRDs are those `fledge crds` generates", r.variant.name());
        let namespace: Namespace = r.one("Namespace");
        assert_eq!(namespace.metadata.name.as_deref(), Some(r.variant.namespace));
        let labels = namespace.metadata.labels.unwrap_or_default();
        assert_eq!(labels.get("pod-security.kubernetes.io/enforce").map(String::as_str), Some("restricted"));
    }
}

/// The `--flag`s and `FLEDGE_...` variables of `fledge controller`, from its help.
fn controller_flags() -> (BTreeSet<String>, BTreeSet<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_fledge")).args(["controller", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let flags = help
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .map(|l| format!("--{}", l.split([' ', '=']).next().unwrap()))
        .collect();
    let variables =
        help.split("[env: ").skip(1).map(|rest| rest.split(['=', ']']).next().unwrap().to_owned()).collect();
    (flags, variables)
}

fn flag_name(arg: &str) -> &str {
    arg.split('=').next().unwrap()
}

#[test]
fn the_controller_runs_this_release_as_its_service_account_with_real_flags() {
    let (flags, variables) = controller_flags();
    for r in rendered() {
        let v = r.variant;
        let name = v.name();
        let deployment = r.deployment();
        let spec = deployment.spec.as_ref().unwrap();
        let pod = r.pod_spec();
        let container = r.container();

        let account: ServiceAccount = r.one("ServiceAccount");
        assert_eq!(account.metadata.name.as_deref(), Some(SERVICE_ACCOUNT), "{name}");
        assert_eq!(pod.service_account_name.as_deref(), Some(SERVICE_ACCOUNT), "{name}: runs as its ServiceAccount");
        assert_ne!(pod.automount_service_account_token, Some(false), "{name}: the controller needs its token");

        let image = format!("{IMAGE}:{}", env!("CARGO_PKG_VERSION"));
        assert_eq!(container.image.as_deref(), Some(image.as_str()), "{name}: the image of this release");

        let args = container.args.clone().unwrap_or_default();
        assert_eq!(args.first().map(String::as_str), Some("controller"), "{name}: runs `fledge controller`");
        let mut seen = BTreeSet::new();
        for arg in &args[1..] {
            let flag = flag_name(arg);
            assert!(flags.contains(flag), "{name}: {arg} is not a flag of `fledge controller` ({flags:?})");
            assert!(seen.insert(flag), "{name}: {flag} given twice");
        }
        for env in container.env.iter().flatten() {
            assert!(
                env.name.starts_with("POD_") || variables.contains(&env.name),
                "{name}: {} is neither POD_NAME/POD_NAMESPACE nor a variable of `fledge controller`",
                env.name
            );
        }
        let field = |var: &str| {
            let env = container.env.iter().flatten().find(|e| e.name == var);
            env.and_then(|e| e.value_from.as_ref()).and_then(|f| f.field_ref.as_ref()).map(|f| f.field_path.clone())
        };
        assert_eq!(field("POD_NAME").as_deref(), Some("metadata.name"), "{name}: the Lease identity");
        assert_eq!(field("POD_NAMESPACE").as_deref(), Some("metadata.namespace"), "{name}: the Lease's namespace");

        let has = |arg: &str| args.iter().any(|a| a == arg);
        assert_eq!(has("--namespace=$(POD_NAMESPACE)"), !v.cluster_wide, "{name}: watches only its namespace or all");
        assert!(args.iter().all(|a| flag_name(a) != "--namespace" || !v.cluster_wide), "{name}");
        assert_eq!(
            has("--no-cross-namespace-refs"),
            !v.cluster_wide,
            "{name}: a namespaced controller reads only its own"
        );
        assert_eq!(has("--enable-config-tracking=false"), !v.tracks_configs(), "{name}");
        assert!(
            !args.iter().any(|a| a.starts_with("--leader-election=") || a.starts_with("--leader-election-name")),
            "{name}: leader election on, with the Lease the Role names"
        );
        assert_eq!(spec.replicas, Some(2), "{name}: two replicas, one leading");

        // The endpoint: --listen, the container port, the probes and the Service agree.
        let listen = args.iter().find_map(|a| a.strip_prefix("--listen=")).expect("--listen is set");
        let port: i32 = listen.rsplit(':').next().unwrap().parse().unwrap();
        let ports = container.ports.clone().unwrap_or_default();
        assert_eq!(ports.len(), 1, "{name}");
        assert_eq!(ports[0].container_port, port, "{name}: the container port is --listen's");
        let port_name = ports[0].name.clone().unwrap();
        let annotations = spec.template.metadata.as_ref().and_then(|m| m.annotations.clone()).unwrap_or_default();
        assert_eq!(annotations.get("prometheus.io/port"), Some(&port.to_string()), "{name}: scraped on that port");
        for (probe, path) in [(&container.liveness_probe, "/healthz"), (&container.readiness_probe, "/readyz")] {
            let get = probe.as_ref().and_then(|p| p.http_get.as_ref()).expect("an HTTP probe");
            assert_eq!(get.path.as_deref(), Some(path), "{name}");
            assert_eq!(serde_json::to_value(&get.port).unwrap(), port_name.as_str(), "{name}: probes {path}");
        }
        let service: Service = r.one("Service");
        let service_spec = service.spec.unwrap();
        let pod_labels = spec.template.metadata.as_ref().unwrap().labels.clone().unwrap_or_default();
        let selects = |selector: &BTreeMap<String, String>| {
            !selector.is_empty() && selector.iter().all(|(k, val)| pod_labels.get(k) == Some(val))
        };
        assert!(selects(&service_spec.selector.unwrap_or_default()), "{name}: the Service selects the pods");
        let service_port = &service_spec.ports.unwrap()[0];
        assert_eq!(serde_json::to_value(&service_port.target_port).unwrap(), port_name.as_str(), "{name}");
        assert!(selects(spec.selector.match_labels.as_ref().unwrap()), "{name}: the Deployment selects its pods");

        let budget: PodDisruptionBudget = r.one("PodDisruptionBudget");
        let budget = budget.spec.unwrap();
        assert!(selects(budget.selector.unwrap().match_labels.as_ref().unwrap()), "{name}: the PDB covers the pods");
        assert_eq!(serde_json::to_value(&budget.max_unavailable).unwrap(), 1, "{name}: one replica at a time");

        let resources = container.resources.clone().unwrap_or_default();
        for (what, amounts) in [("requests", resources.requests), ("limits", resources.limits)] {
            let amounts = amounts.unwrap_or_default();
            assert!(amounts.contains_key("cpu") && amounts.contains_key("memory"), "{name}: cpu and memory {what}");
        }

        if v.components.contains(&"servicemonitor") {
            let monitor = r.all("ServiceMonitor")[0];
            let selector: BTreeMap<String, String> =
                serde_json::from_value(monitor["spec"]["selector"]["matchLabels"].clone()).unwrap();
            let service_labels = service.metadata.labels.clone().unwrap_or_default();
            assert!(
                !selector.is_empty() && selector.iter().all(|(k, val)| service_labels.get(k) == Some(val)),
                "{name}: the ServiceMonitor selects the Service"
            );
            assert_eq!(monitor["spec"]["endpoints"][0]["port"], port_name.as_str(), "{name}");
            assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics", "{name}");
            // The Canary's `namespace` label must survive the scrape for the dashboard.
            assert_eq!(monitor["spec"]["endpoints"][0]["honorLabels"], true, "{name}: honorLabels");
        } else {
            assert!(r.all("ServiceMonitor").is_empty(), "{name}: the ServiceMonitor is optional");
        }
    }
}

#[test]
fn the_pods_meet_the_restricted_pod_security_standard() {
    for r in rendered() {
        let name = r.variant.name();
        let pod = r.pod_spec();
        let container = r.container();
        let pod_sc = pod.security_context.clone().unwrap_or_default();
        let sc = container.security_context.clone().unwrap_or_default();
        assert_eq!(sc.run_as_non_root.or(pod_sc.run_as_non_root), Some(true), "{name}: runAsNonRoot");
        assert!(sc.run_as_user.or(pod_sc.run_as_user).is_some_and(|u| u != 0), "{name}: a numeric non-root user");
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{name}: allowPrivilegeEscalation false");
        assert_eq!(sc.read_only_root_filesystem, Some(true), "{name}: a read-only root filesystem");
        assert_ne!(sc.privileged, Some(true), "{name}");
        let capabilities = sc.capabilities.clone().unwrap_or_default();
        assert_eq!(capabilities.drop, Some(vec!["ALL".to_owned()]), "{name}: every capability dropped");
        assert!(capabilities.add.unwrap_or_default().is_empty(), "{name}: none added");
        let seccomp = sc.seccomp_profile.or(pod_sc.seccomp_profile).map(|p| p.type_);
        assert_eq!(seccomp.as_deref(), Some("RuntimeDefault"), "{name}: seccomp RuntimeDefault");
        assert!(
            pod.host_network != Some(true) && pod.host_pid != Some(true) && pod.host_ipc != Some(true),
            "{name}: none of the host's namespaces"
        );
        assert!(pod.volumes.unwrap_or_default().iter().all(|v| v.host_path.is_none()), "{name}: no hostPath");
    }
}

/// A role of the install, with how it is bound.
struct BoundRole {
    kind: String,
    name: String,
    rules: Vec<PolicyRule>,
}

/// Every role bound to the controller's ServiceAccount; asserts on the way that every binding
/// binds exactly that ServiceAccount to a role of the install, and every role is bound.
fn bound_roles(r: &Rendered) -> Vec<BoundRole> {
    let name = r.variant.name();
    let mut roles: BTreeMap<(String, String), Vec<PolicyRule>> = BTreeMap::new();
    for role in r.typed::<Role>("Role") {
        roles.insert(("Role".to_owned(), role.metadata.name.unwrap()), role.rules.unwrap_or_default());
    }
    for role in r.typed::<ClusterRole>("ClusterRole") {
        assert!(role.aggregation_rule.is_none(), "{name}: no aggregated roles");
        roles.insert(("ClusterRole".to_owned(), role.metadata.name.unwrap()), role.rules.unwrap_or_default());
    }
    let mut bindings: Vec<(RoleRef, Vec<Subject>)> = Vec::new();
    for binding in r.typed::<RoleBinding>("RoleBinding") {
        bindings.push((binding.role_ref, binding.subjects.unwrap_or_default()));
    }
    for binding in r.typed::<ClusterRoleBinding>("ClusterRoleBinding") {
        assert_eq!(binding.role_ref.kind, "ClusterRole", "{name}");
        bindings.push((binding.role_ref, binding.subjects.unwrap_or_default()));
    }
    let account = Subject {
        kind: "ServiceAccount".to_owned(),
        name: SERVICE_ACCOUNT.to_owned(),
        namespace: Some(r.variant.namespace.to_owned()),
        api_group: None,
    };
    let mut bound = Vec::new();
    for (RoleRef { kind, name: role, .. }, subjects) in bindings {
        assert_eq!(
            subjects,
            std::slice::from_ref(&account),
            "{name}: the binding to {kind} {role} binds the ServiceAccount only"
        );
        let rules = roles.remove(&(kind.clone(), role.clone()));
        let rules = rules.unwrap_or_else(|| panic!("{name}: a binding names {kind} {role}, which is not installed"));
        bound.push(BoundRole { kind, name: role, rules });
    }
    assert!(roles.is_empty(), "{name}: roles bound to nobody: {:?}", roles.keys().collect::<Vec<_>>());
    bound
}

#[test]
fn the_service_account_is_bound_to_every_role_and_no_rule_is_a_wildcard() {
    for r in rendered() {
        let name = r.variant.name();
        let roles = bound_roles(r);
        assert!(!roles.is_empty(), "{name}: the ServiceAccount has roles");
        for role in &roles {
            if !r.variant.cluster_wide {
                assert_eq!(role.kind, "Role", "{name}: {} is a Role of the namespace", role.name);
            }
            for rule in &role.rules {
                assert!(rule.non_resource_urls.is_none(), "{name}: {}: no non-resource URLs", role.name);
                let lists = [&rule.api_groups, &rule.resources, &Some(rule.verbs.clone()), &rule.resource_names];
                for item in lists.into_iter().flatten().flatten() {
                    assert!(!item.contains('*'), "{name}: {} has the wildcard {item:?} in {rule:?}", role.name);
                }
                // Fledge never updates or deletes Secrets: it reads them, and with config
                // tracking applies the `-primary` copies.
                if rule.resources.iter().flatten().any(|res| res == "secrets") {
                    for verb in &rule.verbs {
                        let read = ["get", "list", "watch"].contains(&verb.as_str());
                        let copy =
                            role.name == "fledge-config-tracking" && ["create", "patch"].contains(&verb.as_str());
                        assert!(read || copy, "{name}: {} may {verb} Secrets", role.name);
                    }
                }
            }
        }
        if !r.variant.tracks_configs() {
            let secrets: BTreeSet<&str> = roles
                .iter()
                .flat_map(|role| &role.rules)
                .filter(|rule| rule.resources.iter().flatten().any(|res| res == "secrets"))
                .flat_map(|rule| rule.verbs.iter().map(String::as_str))
                .collect();
            assert_eq!(secrets, BTreeSet::from(["get"]), "{name}: Secrets read-only without config tracking");
        }
    }
}

/// One permission: (group, resource, verb, the object it is limited to).
type Grant = (String, String, String, Option<String>);

fn grants(rules: &[PolicyRule]) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    for rule in rules {
        let names: Vec<Option<String>> = match &rule.resource_names {
            Some(names) if !names.is_empty() => names.iter().cloned().map(Some).collect(),
            _ => vec![None],
        };
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    for name in &names {
                        out.insert((group.clone(), resource.clone(), verb.clone(), name.clone()));
                    }
                }
            }
        }
    }
    out
}

fn needed<'a>(needs: impl IntoIterator<Item = &'a Need>) -> BTreeMap<Grant, Vec<&'static str>> {
    let mut out = BTreeMap::new();
    for n in needs {
        for verb in n.verbs {
            let grant = (n.group.to_owned(), n.resource.to_owned(), (*verb).to_owned(), n.name.map(str::to_owned));
            out.entry(grant).or_insert_with(Vec::new).push(n.made_by);
        }
    }
    out
}

/// What is granted and not needed, and what is needed (with the code that needs it) and not
/// granted.
fn compare(granted: &BTreeSet<Grant>, needs: &BTreeMap<Grant, Vec<&str>>) -> Vec<String> {
    let show = |(group, resource, verb, name): &Grant| {
        let group = if group.is_empty() { "core" } else { group };
        format!("{verb} {group}/{resource}{}", name.as_ref().map(|n| format!(" named {n}")).unwrap_or_default())
    };
    let mut problems = Vec::new();
    for grant in granted.iter().filter(|g| !needs.contains_key(*g)) {
        problems.push(format!("granted but not used by the controller: {}", show(grant)));
    }
    for (grant, made_by) in needs.iter().filter(|(g, _)| !granted.contains(*g)) {
        problems.push(format!("needed but not granted: {} ({})", show(grant), made_by.join("; ")));
    }
    problems
}

#[test]
fn the_rbac_is_exactly_what_the_controllers_requests_need() {
    for r in rendered() {
        let v = r.variant;
        let name = v.name();
        let roles = bound_roles(r);
        let mut watched: Vec<&Need> = NEEDS.iter().collect();
        if v.tracks_configs() {
            watched.extend(CONFIG_TRACKING);
        }
        let lease_role = |role: &BoundRole| role.name == "fledge-leader-election";
        // The Lease's rules are a Role of the controller's own namespace in every install.
        let own: Vec<&BoundRole> = roles.iter().filter(|role| lease_role(role)).collect();
        assert_eq!(own.len(), 1, "{name}: one role for the Lease");
        assert_eq!(own[0].kind, "Role", "{name}: Leases only in the controller's own namespace");
        let problems = compare(&grants(&own[0].rules), &needed(OWN_NAMESPACE));
        assert!(problems.is_empty(), "{name}: the Lease role:\n{}", problems.join("\n"));
        // The rest: the namespaces it watches, all of them through ClusterRoles for the
        // cluster-wide install.
        let rest: Vec<&BoundRole> = roles.iter().filter(|role| !lease_role(role)).collect();
        if v.cluster_wide {
            assert!(rest.iter().all(|role| role.kind == "ClusterRole"), "{name}: ClusterRoles for every namespace");
        }
        let rules: Vec<PolicyRule> = rest.iter().flat_map(|role| role.rules.clone()).collect();
        let problems = compare(&grants(&rules), &needed(watched));
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }
}

#[test]
fn the_needs_above_name_code_that_exists() {
    // The list is kept by hand: at least every file it points at is still there.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for n in NEEDS.iter().chain(CONFIG_TRACKING).chain(OWN_NAMESPACE) {
        for word in n.made_by.split([' ', ';', ',', ':']) {
            if word.ends_with(".rs") {
                assert!(src.join(word).is_file(), "{} {}: {word} does not exist", n.group, n.resource);
            }
        }
    }
}

#[test]
fn the_image_runs_as_the_user_and_on_the_port_the_manifests_expect() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let instruction = |name: &str| -> Vec<String> {
        let prefix = format!("{name} ");
        dockerfile.lines().filter_map(|l| l.strip_prefix(prefix.as_str())).map(str::to_owned).collect()
    };
    assert_eq!(instruction("ENTRYPOINT"), [r#"["/fledge"]"#], "the binary is the entry point");
    assert_eq!(instruction("CMD"), [r#"["controller"]"#], "and runs the controller unless told otherwise");
    let froms = instruction("FROM");
    assert!(froms.len() >= 2, "a multi-stage build: {froms:?}");
    assert!(froms.last().unwrap().starts_with("gcr.io/distroless/"), "runs from a distroless image: {froms:?}");
    assert!(
        dockerfile.contains("cargo build --release --locked -p fledge-controller --bin fledge"),
        "builds the fledge binary from the committed Cargo.lock"
    );
    let user = instruction("USER");
    let expose = instruction("EXPOSE");
    for r in rendered() {
        let name = r.variant.name();
        let pod = r.pod_spec().security_context.unwrap_or_default();
        let expected = format!("{}:{}", pod.run_as_user.unwrap(), pod.run_as_group.unwrap());
        assert_eq!(user, [expected], "{name}: the pod runs as the image's user");
        let port = r.container().ports.unwrap()[0].container_port;
        assert_eq!(expose, [port.to_string()], "{name}: the image exposes the container port");
        assert_eq!(r.container().args.unwrap()[0], "controller", "{name}: the arguments replace CMD, and start alike");
    }
}

#[test]
fn docs_install_lists_every_flag_and_every_resource_of_the_rbac() {
    let doc = std::fs::read_to_string(repo().join("docs/install.md")).unwrap();
    let (flags, variables) = controller_flags();
    for item in flags.iter().filter(|f| *f != "--help").chain(&variables) {
        assert!(doc.contains(&format!("`{item}`")), "docs/install.md does not mention `{item}`");
    }
    for n in NEEDS.iter().chain(CONFIG_TRACKING).chain(OWN_NAMESPACE) {
        assert!(doc.contains(&format!("`{}`", n.resource)), "docs/install.md's RBAC table lacks `{}`", n.resource);
    }
}
