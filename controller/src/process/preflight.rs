//! `fledge preflight`: whether a cluster has what Fledge needs, said in words, one line per
//! check. [`run`] does the I/O (the API server and Prometheus, each call under a timeout); the
//! list of permissions ([`NEEDS`]), the comparison of CRDs and the [`Report`] are pure.

use fledge_analysis::prometheus::{Prometheus, Settings};
use fledge_analysis::promql::Answer;
use fledge_crds::canary::Canary;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use std::fmt;
use std::future::Future;
use std::time::Duration;

/// A request the controller makes: API group, resource (with its subresource), the verbs, the
/// one object it is limited to (when the code only ever names that one), and the code that
/// makes it. The install's RBAC grants exactly these (`controller/tests/install_manifests.rs`).
#[derive(Debug)]
pub struct Need {
    /// API group, `""` for the core group.
    pub group: &'static str,
    /// Resource, with its subresource (`canaries/status`).
    pub resource: &'static str,
    /// The verbs.
    pub verbs: &'static [&'static str],
    /// The one object it is limited to, when the code only ever names that one.
    pub name: Option<&'static str>,
    /// The code that makes the request (paths under `controller/src/`).
    pub made_by: &'static str,
}

const fn need(
    group: &'static str,
    resource: &'static str,
    verbs: &'static [&'static str],
    made_by: &'static str,
) -> Need {
    Need { group, resource, verbs, name: None, made_by }
}

/// What the controller's requests need in the namespaces it watches, with any flags. Server-side
/// apply is a PATCH that the API server authorizes as `create` when the object does not exist
/// yet, so each kind Fledge applies needs both; it reads the live object first (`get`) to skip
/// writes that would change nothing.
pub const NEEDS: &[Need] = &[
    need("fledge.dev", "canaries", &["list", "watch"], "process/controller.rs: Controller::new watches the Canaries"),
    need("fledge.dev", "canaries", &["get"], "cluster/reconcile.rs reconcile_latest reads the Canary afresh"),
    need(
        "fledge.dev",
        "canaries",
        &["patch"],
        "cluster/act.rs remove_annotations (merge patch); cluster/revert.rs set_finalizers (JSON patch)",
    ),
    need("fledge.dev", "canaries/status", &["patch"], "cluster/act.rs write_status"),
    need(
        "fledge.dev",
        "canaries/finalizers",
        &["update"],
        "cluster/objects/mod.rs owner_reference sets blockOwnerDeletion, which the \
         OwnerReferencesPermissionEnforcement admission plugin allows only with this",
    ),
    need("fledge.dev", "metrictemplates", &["get"], "checks/metrics.rs reads a metric's templateRef"),
    need(
        "fledge.dev",
        "alertproviders",
        &["get"],
        "delivery/notifications.rs destination reads an alert's providerRef",
    ),
    need(
        "apps",
        "deployments",
        &["list", "watch"],
        "process/controller.rs: .watches(Deployment) for targets and primaries",
    ),
    need(
        "apps",
        "deployments",
        &["get"],
        "cluster/observe.rs reads the target and the primary; checks/access_logs.rs reads a version's Deployment",
    ),
    need("apps", "deployments", &["create", "patch"], "cluster/act.rs promote_primary applies the primary"),
    need("apps", "deployments/scale", &["patch"], "cluster/act.rs scale_target"),
    need("", "services", &["list", "watch"], "process/controller.rs: .owns(Service)"),
    need(
        "",
        "services",
        &["get", "create", "patch"],
        "cluster/act.rs ensure_routing; cluster/revert.rs restore_routes",
    ),
    need(
        "autoscaling",
        "horizontalpodautoscalers",
        &["list", "watch"],
        "process/controller.rs: .owns(HorizontalPodAutoscaler)",
    ),
    need(
        "autoscaling",
        "horizontalpodautoscalers",
        &["get", "create", "patch"],
        "cluster/observe.rs reads the target's autoscaler; cluster/act.rs ensure_routing applies the primary's",
    ),
    need("networking.istio.io", "virtualservices", &["list", "watch"], "process/controller.rs: .owns(VirtualService)"),
    need(
        "networking.istio.io",
        "virtualservices",
        &["get", "create", "patch"],
        "cluster/observe.rs, cluster/act.rs ensure_routing and route_all_to_primary, cluster/takeover.rs restore",
    ),
    need(
        "networking.istio.io",
        "destinationrules",
        &["list", "watch"],
        "process/controller.rs: .owns(DestinationRule)",
    ),
    need("networking.istio.io", "destinationrules", &["get", "create", "patch"], "cluster/act.rs ensure_routing"),
    need(
        "",
        "secrets",
        &["get"],
        "checks/credentials.rs: Prometheus, Loki, webhook-signing and chat credentials, read by name",
    ),
    need("", "pods", &["list"], "checks/pod_logs.rs read lists a version's pods"),
    need("", "pods/log", &["get"], "checks/pod_logs.rs read_pod streams istio-proxy's log"),
    need("events.k8s.io", "events", &["create"], "delivery/events.rs Publisher::record"),
];

/// What config tracking (`--enable-config-tracking`, on by default) adds: the role
/// `fledge-config-tracking`, which `components/no-config-tracking` removes.
pub const CONFIG_TRACKING: &[Need] = &[
    need("", "configmaps", &["list", "watch"], "process/controller.rs: .watches(ConfigMap) when tracking"),
    need("", "configmaps", &["get"], "cluster/observe.rs reads the target's ConfigMaps"),
    need("", "configmaps", &["create", "patch"], "cluster/act.rs promote_primary applies <name>-primary"),
    need("", "secrets", &["list", "watch"], "process/controller.rs: .watches(Secret) when tracking"),
    need("", "secrets", &["get"], "cluster/observe.rs reads the target's Secrets"),
    need("", "secrets", &["create", "patch"], "cluster/act.rs promote_primary applies <name>-primary"),
];

/// The leader Lease (`--leader-election-name`'s default), the one Lease the controller updates.
pub const LEASE: &str = "fledge-leader";

/// What the controller needs in its own namespace only: the leader Lease.
pub const OWN_NAMESPACE: &[Need] = &[
    need("coordination.k8s.io", "leases", &["create"], "process/leader.rs creates the Lease when there is none"),
    Need {
        group: "coordination.k8s.io",
        resource: "leases",
        verbs: &["get", "update"],
        name: Some(LEASE),
        made_by: "process/leader.rs reads the Lease, renews, takes over and releases it (update with resourceVersion)",
    },
];

/// The fix for CRDs that are missing or differ from this binary's.
const APPLY_CONFIG: &str = "kubectl apply --server-side -k config/";

/// How one check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// There, as needed.
    Ok,
    /// There, but not as this binary expects; Fledge may still work.
    Warning,
    /// Not there, or not allowed: Fledge will not work without it.
    Missing,
    /// Could not be found out; counts as a failure, since nothing proves it is there.
    CannotCheck,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Missing => "missing",
            Status::CannotCheck => "cannot check",
        }
    }
}

/// One line of the report: what was checked and, unless it is fine, why and what to do.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Finding {
    /// How it came out.
    pub status: Status,
    /// What was checked, for example `CRD canaries.fledge.dev`.
    pub what: String,
    /// What was found and, when it is not ok, what to do.
    pub detail: String,
}

impl Finding {
    fn new(status: Status, what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { status, what: what.into(), detail: detail.into() }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<12} {}", self.status.word(), self.what)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Every finding, in the order checked.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Report {
    /// One per check.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether everything needed is there: warnings allowed, nothing missing or unknown.
    pub fn passed(&self) -> bool {
        self.findings.iter().all(|f| f.status <= Status::Warning)
    }

    /// The report for people: one line per check, then a summary.
    pub fn render(&self) -> String {
        let mut out: String = self.findings.iter().map(|f| format!("{f}\n")).collect();
        let count = |s: Status| self.findings.iter().filter(|f| f.status == s).count();
        let (warnings, missing, unknown) = (count(Status::Warning), count(Status::Missing), count(Status::CannotCheck));
        if self.passed() {
            out.push_str(&format!("preflight passed: {} checks, {warnings} warnings\n", self.findings.len()));
        } else {
            out.push_str(&format!(
                "preflight failed: {missing} missing, {unknown} could not be checked, {warnings} warnings\n"
            ));
        }
        out
    }
}

/// Compare an installed CRD with the one this binary generates: the served versions, the
/// storage version and each version's schema.
pub fn compare_crd(installed: &CustomResourceDefinition, expected: &CustomResourceDefinition) -> Finding {
    let name = expected.metadata.name.clone().unwrap_or_default();
    let what = format!("CRD {name}");
    let served = |c: &CustomResourceDefinition| -> Vec<String> {
        c.spec.versions.iter().filter(|v| v.served).map(|v| v.name.clone()).collect()
    };
    let storage = |c: &CustomResourceDefinition| c.spec.versions.iter().find(|v| v.storage).map(|v| v.name.clone());
    let (want, have) = (served(expected), served(installed));
    let lacking: Vec<&String> = want.iter().filter(|v| !have.contains(v)).collect();
    if !lacking.is_empty() {
        let lacking = lacking.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ");
        return Finding::new(
            Status::Missing,
            what,
            format!("serves {} but this fledge needs {lacking}; run `{APPLY_CONFIG}`", have.join(", ")),
        );
    }
    let mut differences = Vec::new();
    if storage(installed) != storage(expected) {
        differences.push(format!(
            "stores {} instead of {}",
            storage(installed).unwrap_or_default(),
            storage(expected).unwrap_or_default()
        ));
    }
    for version in expected.spec.versions.iter().filter(|v| v.served) {
        let theirs = installed.spec.versions.iter().find(|v| v.name == version.name);
        if theirs.and_then(|v| v.schema.as_ref()) != version.schema.as_ref() {
            differences.push(format!("the schema of {} differs (another release of Fledge?)", version.name));
        }
    }
    if differences.is_empty() {
        return Finding::new(Status::Ok, what, format!("serves {}", have.join(", ")));
    }
    Finding::new(Status::Warning, what, format!("{}; run `{APPLY_CONFIG}`", differences.join(", ")))
}

/// One access to ask the API server about: a resource's verbs in a namespace (`None`: all).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Access {
    /// API group, `""` for the core group.
    pub group: &'static str,
    /// Resource, with its subresource after a `/`.
    pub resource: &'static str,
    /// The one object, when the need names one.
    pub name: Option<&'static str>,
    /// The namespace, or every namespace.
    pub namespace: Option<String>,
    /// The verbs, in the order of the needs.
    pub verbs: Vec<&'static str>,
}

impl Access {
    fn describe(&self) -> String {
        let group = if self.group.is_empty() { String::new() } else { format!(" ({})", self.group) };
        let name = self.name.map(|n| format!(" named {n}")).unwrap_or_default();
        let place = match &self.namespace {
            Some(ns) => format!("in namespace {ns}"),
            None => "in every namespace".to_owned(),
        };
        format!("{} {}{group}{name} {place}", self.verbs.join(", "), self.resource)
    }
}

/// What to ask: every need of the namespaces watched (`namespace`, or all of them), with config
/// tracking's when on, and the Lease's in `lease_namespace`. One access per resource, named
/// object and namespace, with all its verbs.
pub fn accesses(namespace: Option<&str>, lease_namespace: &str, config_tracking: bool) -> Vec<Access> {
    let watched = NEEDS.iter().chain(if config_tracking { CONFIG_TRACKING } else { &[] });
    let needs = watched
        .map(|n| (n, namespace.map(str::to_owned)))
        .chain(OWN_NAMESPACE.iter().map(|n| (n, Some(lease_namespace.to_owned()))));
    let mut out: Vec<Access> = Vec::new();
    for (n, namespace) in needs {
        let same =
            |a: &&mut Access| (a.group, a.resource, a.name, &a.namespace) == (n.group, n.resource, n.name, &namespace);
        let access = match out.iter_mut().find(same) {
            Some(access) => access,
            None => {
                out.push(Access { group: n.group, resource: n.resource, name: n.name, namespace, verbs: Vec::new() });
                out.last_mut().expect("just pushed")
            }
        };
        for verb in n.verbs {
            if !access.verbs.contains(verb) {
                access.verbs.push(verb);
            }
        }
    }
    out
}

/// The line of one access, from the verbs the API server denied.
pub fn access_finding(access: &Access, denied: &[&str]) -> Finding {
    let what = format!("permission to {}", access.describe());
    if denied.is_empty() {
        return Finding::new(Status::Ok, what, "");
    }
    let group = if access.group.is_empty() { "\"\"" } else { access.group };
    Finding::new(
        Status::Missing,
        what,
        format!(
            "may not {}; grant it (group {group}, resource {}) as config/rbac/ does, or bind the role to this identity",
            denied.join(", "),
            access.resource
        ),
    )
}

/// What `fledge preflight` checks.
#[derive(Clone, Debug)]
pub struct Options {
    /// The namespace Fledge watches, or all of them.
    pub namespace: Option<String>,
    /// Where its leader Lease is.
    pub lease_namespace: String,
    /// Whether config tracking is on (it needs more permissions).
    pub config_tracking: bool,
    /// The default Prometheus.
    pub metrics_server: String,
    /// A Canary to check, `(namespace, name)`.
    pub canary: Option<(String, String)>,
    /// How long each call may take.
    pub timeout: Duration,
}

/// Run every check against the cluster `client` talks to.
pub async fn run(client: &Client, options: &Options) -> Report {
    let mut findings = Vec::new();
    findings.extend(check_crds(client, options.timeout).await);
    findings.extend(check_istio(client, options.timeout).await);
    findings.extend(check_permissions(client, options).await);
    findings.extend(check_prometheus(&options.metrics_server, options.timeout).await);
    if let Some((namespace, name)) = &options.canary {
        findings.extend(check_canary(client, namespace, name, options.timeout).await);
    }
    Report { findings }
}

/// A call under the timeout, its error said in words.
async fn within<T>(timeout: Duration, call: impl Future<Output = Result<T, kube::Error>>) -> Result<T, String> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(error_words(&e)),
        Err(_) => Err(timed_out(timeout)),
    }
}

fn timed_out(timeout: Duration) -> String {
    format!("the API server did not answer within {}s", timeout.as_secs())
}

fn error_words(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) if status.code == 403 => format!("forbidden: {}", status.message),
        kube::Error::Api(status) => format!("the API server answered {}: {}", status.code, status.message),
        other => other.to_string(),
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 404)
}

async fn check_crds(client: &Client, timeout: Duration) -> Vec<Finding> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut out = Vec::new();
    for expected in fledge_crds::generate::crds() {
        let name = expected.metadata.name.clone().unwrap_or_default();
        out.push(match within(timeout, api.get_opt(&name)).await {
            Ok(Some(installed)) => compare_crd(&installed, &expected),
            Ok(None) => {
                Finding::new(Status::Missing, format!("CRD {name}"), format!("not installed; run `{APPLY_CONFIG}`"))
            }
            Err(e) => Finding::new(Status::CannotCheck, format!("CRD {name}"), e),
        });
    }
    out
}

/// Istio's kinds Fledge writes, at the version it writes them.
const ISTIO: &str = "networking.istio.io/v1beta1";

async fn check_istio(client: &Client, timeout: Duration) -> Vec<Finding> {
    let kinds = ["virtualservices", "destinationrules"];
    let what = |kind: &str| format!("Istio {kind} ({ISTIO})");
    let served = match tokio::time::timeout(timeout, client.list_api_group_resources(ISTIO)).await {
        Ok(Ok(list)) => list.resources.into_iter().map(|r| r.name).collect::<Vec<_>>(),
        Ok(Err(e)) if is_not_found(&e) => Vec::new(),
        Ok(Err(e)) => {
            return kinds.iter().map(|k| Finding::new(Status::CannotCheck, what(k), error_words(&e))).collect();
        }
        Err(_) => {
            return kinds.iter().map(|k| Finding::new(Status::CannotCheck, what(k), timed_out(timeout))).collect();
        }
    };
    kinds
        .iter()
        .map(|kind| {
            if served.iter().any(|s| s == kind) {
                Finding::new(Status::Ok, what(kind), "served")
            } else {
                Finding::new(
                    Status::Missing,
                    what(kind),
                    "not served; install Istio (`istioctl install`, or Istio's base chart for its CRDs)",
                )
            }
        })
        .collect()
}

/// Why the API server could not say whether an access is allowed.
enum Unknown {
    /// It does not serve SelfSubjectAccessReview at all.
    NotServed,
    /// Anything else, in words.
    Failed(String),
}

async fn check_permissions(client: &Client, options: &Options) -> Vec<Finding> {
    let mut out = Vec::new();
    for access in accesses(options.namespace.as_deref(), &options.lease_namespace, options.config_tracking) {
        match denied_verbs(client, &access, options.timeout).await {
            Ok(denied) => out.push(access_finding(&access, &denied)),
            // One line for all: the API server cannot say, which is not a pass.
            Err(Unknown::NotServed) => {
                return vec![Finding::new(
                    Status::CannotCheck,
                    "permissions",
                    "the API server does not serve SelfSubjectAccessReview \
                     (authorization.k8s.io/v1); check the roles by hand with `kubectl auth can-i --list`",
                )];
            }
            Err(Unknown::Failed(e)) => {
                out.push(Finding::new(Status::CannotCheck, format!("permission to {}", access.describe()), e))
            }
        }
    }
    out
}

/// The verbs of `access` that this identity may not use, by one SelfSubjectAccessReview each.
async fn denied_verbs(client: &Client, access: &Access, timeout: Duration) -> Result<Vec<&'static str>, Unknown> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let (resource, subresource) = match access.resource.split_once('/') {
        Some((r, s)) => (r, Some(s.to_owned())),
        None => (access.resource, None),
    };
    let mut denied = Vec::new();
    for verb in &access.verbs {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    group: Some(access.group.to_owned()),
                    resource: Some(resource.to_owned()),
                    subresource: subresource.clone(),
                    verb: Some((*verb).to_owned()),
                    name: access.name.map(str::to_owned),
                    namespace: access.namespace.clone(),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        match tokio::time::timeout(timeout, api.create(&PostParams::default(), &review)).await {
            Ok(Ok(review)) if review.status.as_ref().is_some_and(|s| s.allowed) => {}
            Ok(Ok(_)) => denied.push(*verb),
            Ok(Err(e)) if is_not_found(&e) => return Err(Unknown::NotServed),
            Ok(Err(e)) => return Err(Unknown::Failed(error_words(&e))),
            Err(_) => return Err(Unknown::Failed(timed_out(timeout))),
        }
    }
    Ok(denied)
}

async fn check_prometheus(address: &str, timeout: Duration) -> Vec<Finding> {
    let what = format!("Prometheus at {address}");
    let mut settings = Settings::new(address);
    settings.timeout = timeout;
    let client = match Prometheus::new(settings) {
        Ok(client) => client,
        Err(e) => return vec![Finding::new(Status::Missing, what, format!("{e}; set --metrics-server"))],
    };
    let metric = "istio_requests_total";
    match client.query(&format!("count({metric})")).await {
        Ok(Answer::Value(n)) => vec![
            Finding::new(Status::Ok, what, "answers"),
            Finding::new(Status::Ok, format!("Istio metric {metric}"), format!("{n} series")),
        ],
        Ok(Answer::NoData(_)) => vec![
            Finding::new(Status::Ok, what, "answers"),
            Finding::new(
                Status::Missing,
                format!("Istio metric {metric}"),
                "no series; check that Istio's telemetry is on, that this Prometheus scrapes the \
                 istio-proxy sidecars (its scrape config), and that the mesh has had traffic",
            ),
        ],
        Err(e) => vec![Finding::new(
            Status::Missing,
            what,
            format!("does not answer ({e}); point --metrics-server at the Prometheus that scrapes Istio"),
        )],
    }
}

async fn check_canary(client: &Client, namespace: &str, name: &str, timeout: Duration) -> Vec<Finding> {
    let what = format!("Canary {namespace}/{name}");
    let canary = match within(timeout, Api::<Canary>::namespaced(client.clone(), namespace).get_opt(name)).await {
        Ok(Some(canary)) => canary,
        Ok(None) => return vec![Finding::new(Status::Missing, what, "not found")],
        Err(e) => return vec![Finding::new(Status::CannotCheck, what, e)],
    };
    let target = canary.spec.target_ref.name.clone();
    let mut out = vec![Finding::new(Status::Ok, what, "exists")];
    let what = format!("target Deployment {namespace}/{target}");
    let deployment =
        match within(timeout, Api::<Deployment>::namespaced(client.clone(), namespace).get_opt(&target)).await {
            Ok(Some(d)) => d,
            Ok(None) => {
                out.push(Finding::new(Status::Missing, what, "not found; create it or fix the Canary's targetRef"));
                return out;
            }
            Err(e) => {
                out.push(Finding::new(Status::CannotCheck, what, e));
                return out;
            }
        };
    out.push(Finding::new(Status::Ok, what, "exists"));
    let labels = deployment.spec.and_then(|s| s.selector.match_labels).unwrap_or_default();
    let selector = labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    let what = format!("istio-proxy sidecar in the pods of {namespace}/{target}");
    match within(timeout, pods.list(&ListParams::default().labels(&selector))).await {
        Ok(list) => out.push(sidecar_finding(what, &list.items)),
        Err(e) => out.push(Finding::new(Status::CannotCheck, what, e)),
    }
    out
}

/// Whether the running pods of a target have the `istio-proxy` container.
pub fn sidecar_finding(what: String, pods: &[Pod]) -> Finding {
    let running: Vec<&Pod> =
        pods.iter().filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")).collect();
    if running.is_empty() {
        return Finding::new(Status::CannotCheck, what, "no pod is running; scale the target up and check again");
    }
    let without: Vec<String> = running
        .iter()
        .filter(|p| !p.spec.iter().flat_map(|s| &s.containers).any(|c| c.name == "istio-proxy"))
        .map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect();
    if without.is_empty() {
        return Finding::new(Status::Ok, what, format!("every running pod has it ({})", running.len()));
    }
    Finding::new(
        Status::Missing,
        what,
        format!(
            "{} of {} running pods have none ({}); label the namespace `istio-injection=enabled` (and remove any \
             `sidecar.istio.io/inject: \"false\"`), then restart the pods",
            without.len(),
            running.len(),
            without.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodStatus};
    use kube::api::ObjectMeta;

    fn canary_crd() -> CustomResourceDefinition {
        fledge_crds::generate::crds().remove(0)
    }

    #[test]
    fn a_crd_as_generated_is_ok_and_one_with_other_fields_is_a_warning_naming_the_fix() {
        let expected = canary_crd();
        let ok = compare_crd(&expected, &expected);
        assert_eq!(ok.status, Status::Ok, "{ok}");
        assert_eq!(ok.to_string(), "ok           CRD canaries.fledge.dev: serves v1beta1");

        let mut older = expected.clone();
        let schema = older.spec.versions[0].schema.as_mut().unwrap().open_api_v3_schema.as_mut().unwrap();
        schema.properties.as_mut().unwrap().remove("status");
        let warning = compare_crd(&older, &expected);
        assert_eq!(warning.status, Status::Warning);
        assert!(warning.detail.contains("schema of v1beta1 differs"), "{warning}");
        assert!(warning.detail.ends_with("run `kubectl apply --server-side -k config/`"), "{warning}");
    }

    #[test]
    fn a_crd_that_does_not_serve_the_version_is_missing() {
        let expected = canary_crd();
        let mut other = expected.clone();
        other.spec.versions[0].name = "v1alpha1".into();
        let missing = compare_crd(&other, &expected);
        assert_eq!(missing.status, Status::Missing);
        assert!(missing.detail.starts_with("serves v1alpha1 but this fledge needs v1beta1"), "{missing}");
    }

    #[test]
    fn accesses_group_the_verbs_by_resource_and_put_the_lease_in_its_namespace() {
        let all = accesses(None, "fledge-system", true);
        let canaries = all.iter().find(|a| a.resource == "canaries").unwrap();
        assert_eq!(canaries.verbs, ["list", "watch", "get", "patch"]);
        assert_eq!(canaries.describe(), "list, watch, get, patch canaries (fledge.dev) in every namespace");
        let secrets = all.iter().find(|a| a.resource == "secrets").unwrap();
        assert_eq!(secrets.verbs, ["get", "list", "watch", "create", "patch"], "config tracking adds to get");
        let leases: Vec<&Access> = all.iter().filter(|a| a.resource == "leases").collect();
        assert_eq!(leases.len(), 2);
        assert!(leases.iter().all(|a| a.namespace.as_deref() == Some("fledge-system")));
        assert_eq!(
            leases[1].describe(),
            "get, update leases (coordination.k8s.io) named fledge-leader in namespace fledge-system"
        );

        let namespaced = accesses(Some("test"), "test", false);
        assert!(namespaced.iter().all(|a| a.namespace.as_deref() == Some("test")));
        assert!(!namespaced.iter().any(|a| a.resource == "configmaps"), "no config tracking");
        assert_eq!(namespaced.iter().find(|a| a.resource == "secrets").unwrap().verbs, ["get"]);
    }

    #[test]
    fn a_denied_verb_is_missing_and_says_which() {
        let all = accesses(None, "fledge-system", true);
        let scale = all.iter().find(|a| a.resource == "deployments/scale").unwrap();
        assert_eq!(
            access_finding(scale, &[]).to_string(),
            "ok           permission to patch deployments/scale (apps) in every namespace"
        );
        let denied = access_finding(scale, &["patch"]);
        assert_eq!(denied.status, Status::Missing);
        assert!(
            denied.detail.starts_with("may not patch; grant it (group apps, resource deployments/scale)"),
            "{denied}"
        );
    }

    fn pod(name: &str, phase: &str, containers: &[&str]) -> Pod {
        Pod {
            metadata: ObjectMeta { name: Some(name.into()), ..ObjectMeta::default() },
            spec: Some(PodSpec {
                containers: containers
                    .iter()
                    .map(|c| Container { name: (*c).into(), ..Container::default() })
                    .collect(),
                ..PodSpec::default()
            }),
            status: Some(PodStatus { phase: Some(phase.into()), ..PodStatus::default() }),
        }
    }

    #[test]
    fn the_sidecar_check_names_the_pods_without_one_and_needs_a_running_pod() {
        let what = || "sidecar".to_owned();
        let meshed = [pod("a", "Running", &["app", "istio-proxy"]), pod("b", "Pending", &["app"])];
        assert_eq!(sidecar_finding(what(), &meshed).status, Status::Ok);
        let bare =
            sidecar_finding(what(), &[pod("a", "Running", &["app", "istio-proxy"]), pod("c", "Running", &["app"])]);
        assert_eq!(bare.status, Status::Missing);
        assert!(
            bare.detail.starts_with("1 of 2 running pods have none (c); label the namespace `istio-injection=enabled`"),
            "{bare}"
        );
        let none = sidecar_finding(what(), &[pod("b", "Pending", &["app"])]);
        assert_eq!(
            (none.status, none.detail.as_str()),
            (Status::CannotCheck, "no pod is running; scale the target up and check again")
        );
    }

    #[test]
    fn the_report_passes_with_warnings_and_fails_on_anything_missing_or_unknown() {
        let mut report = Report {
            findings: vec![
                Finding::new(Status::Ok, "CRD canaries.fledge.dev", "serves v1beta1"),
                Finding::new(Status::Warning, "CRD alertproviders.fledge.dev", "the schema of v1beta1 differs"),
            ],
        };
        assert!(report.passed());
        assert_eq!(
            report.render(),
            "ok           CRD canaries.fledge.dev: serves v1beta1\n\
             warning      CRD alertproviders.fledge.dev: the schema of v1beta1 differs\n\
             preflight passed: 2 checks, 1 warnings\n"
        );
        report.findings.push(Finding::new(Status::CannotCheck, "permissions", "no SelfSubjectAccessReview"));
        assert!(!report.passed());
        assert!(report.render().ends_with(
            "cannot check permissions: no SelfSubjectAccessReview\npreflight failed: 0 missing, 1 could not be checked, 1 warnings\n"
        ));
        report.findings[2].status = Status::Missing;
        assert!(!report.passed());
    }
}
