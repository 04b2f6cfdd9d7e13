//! Istio's routing of one HTTP request leaving a sidecar: the authority resolves to a Service, the
//! VirtualService bound to that host (for the `mesh` gateway) picks a route by its matches, the route picks a
//! destination by weight, and the destination resolves to a Service port whose ready pods are the endpoints.
//!
//! VirtualServices are checked and compiled once per change in a [`RouteTable`]; one that Istio's validation
//! would reject is ignored and reported, as if the webhook had refused it.

use super::Snapshot;
use super::cluster::{self, SERVICE_SUFFIX};
use super::headers::Manipulation;
use super::matching::Matcher;
use super::retries::RetryPolicy;
use super::workload::Workload;
use fledge_crds::istio::{Destination, VirtualService};
use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rand::Rng;
use std::collections::BTreeMap;
use thiserror::Error;

/// One HTTP request as its sender's sidecar sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The sending pod.
    pub source: Workload,
    /// `Host` header: host and optional port, e.g. `podinfo.test:9898`.
    pub authority: String,
    /// Path with query, e.g. `/api/info?x=1`.
    pub path: String,
    /// HTTP method.
    pub method: String,
    /// Headers by lower-case name, `cookie` included.
    pub headers: BTreeMap<String, String>,
}

impl Request {
    /// A GET of `path` from `source` to `authority`, without headers.
    pub fn new(source: Workload, authority: &str, path: &str) -> Self {
        Self {
            source,
            authority: authority.to_owned(),
            path: path.to_owned(),
            method: "GET".into(),
            headers: BTreeMap::new(),
        }
    }

    /// The request with header `name` (lower-cased) set to `value`.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.to_ascii_lowercase(), value.to_owned());
        self
    }
}

/// Splits `host[:port]`; a port that is not a number is left in the host, which then resolves to nothing.
fn split_authority(authority: &str) -> (&str, u16) {
    match authority.rsplit_once(':') {
        Some((host, port)) => match port.parse() {
            Ok(port) => (host, port),
            Err(_) => (authority, 80),
        },
        None => (authority, 80),
    }
}

/// Why a request got no HTTP answer at all.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SendError {
    /// Cluster DNS does not know the host.
    #[error("host {host:?} does not resolve from namespace {namespace} (no such Service)")]
    UnknownHost {
        /// The host asked for.
        host: String,
        /// The sender's namespace, whose DNS search path was used.
        namespace: String,
    },
    /// The Service exists but does not listen on the port; the connection is refused.
    #[error("Service {service} has no port {port}: connection refused")]
    NoSuchPort {
        /// The Service's FQDN.
        service: String,
        /// The port asked for.
        port: u16,
    },
}

/// A Service port as an Envoy cluster: where a route sends requests.
#[derive(Clone, Copy, Debug)]
pub struct Cluster<'s> {
    /// The Service.
    pub service: &'s Service,
    /// Its port.
    pub port: &'s ServicePort,
}

impl<'s> Cluster<'s> {
    /// Istio's outbound cluster name, `outbound|<port>||<fqdn>`.
    pub fn name(&self) -> String {
        format!("outbound|{}||{}", self.port.port, cluster::fqdn(self.service))
    }

    /// The SNI a client sidecar sends for mTLS to this cluster, `outbound_.<port>_._.<fqdn>`.
    pub fn sni(&self) -> String {
        format!("outbound_.{}_._.{}", self.port.port, cluster::fqdn(self.service))
    }

    /// The ready endpoints.
    pub fn endpoints<'p>(&self, pods: &'p [Pod]) -> Vec<&'p Pod> {
        cluster::endpoints(pods, self.service)
    }
}

/// Picks an endpoint uniformly at random, avoiding the pods in `tried` while others remain (Istio's retries use
/// Envoy's `previous_hosts` predicate); `None` when there is no endpoint.
pub fn pick_endpoint<'p>(endpoints: &[&'p Pod], tried: &[String], rng: &mut impl Rng) -> Option<&'p Pod> {
    let fresh: Vec<&'p Pod> =
        endpoints.iter().copied().filter(|p| !tried.iter().any(|t| p.metadata.name.as_ref() == Some(t))).collect();
    let pool = if fresh.is_empty() { endpoints } else { &fresh };
    (!pool.is_empty()).then(|| pool[rng.random_range(0..pool.len())])
}

/// What the sender's sidecar does with a request.
#[derive(Clone, Debug)]
pub enum Decision<'s> {
    /// Forward it to a cluster.
    Forward(Forward<'s>),
    /// No route of the VirtualService matched: 404 with flag `NR`.
    NoRoute,
    /// The chosen destination is no Service port: 503 with flag `NC`.
    NoCluster,
}

/// Where and how a request is forwarded.
#[derive(Clone, Debug)]
pub struct Forward<'s> {
    /// The destination.
    pub cluster: Cluster<'s>,
    /// The authority sent upstream (after a `rewrite.authority`).
    pub authority: String,
    /// The retry policy of the route.
    pub retries: RetryPolicy,
    /// Where a copy goes, when the route mirrors this request and the mirror is a Service port.
    pub mirror: Option<Cluster<'s>>,
}

/// The routing of one request.
#[derive(Clone, Debug)]
pub struct Routed<'s> {
    /// The Service the authority resolved to.
    pub service: &'s Service,
    /// The port of the request.
    pub port: u16,
    /// `<namespace>/<name>` of the VirtualService that routed it, if one did.
    pub virtual_service: Option<String>,
    /// Name of the http route that matched, if it has one.
    pub route_name: Option<String>,
    /// What happens to the request.
    pub decision: Decision<'s>,
    /// The header operations to apply, in order: the picked destination's, then the route's; none when no route
    /// matched.
    pub(super) headers: Vec<Manipulation>,
}

/// The VirtualServices of the mesh, checked and compiled; kept across snapshots so that unchanged objects are
/// not compiled again.
#[derive(Debug, Default)]
pub struct RouteTable {
    entries: BTreeMap<(String, String), (VirtualService, Result<Compiled, String>)>,
}

#[derive(Debug)]
struct Compiled {
    namespace: String,
    name: String,
    created: Option<Time>,
    hosts: Vec<String>,
    export_to: Vec<String>,
    http: Vec<HttpRoute>,
}

#[derive(Debug)]
struct HttpRoute {
    name: Option<String>,
    /// `(namespace, name)` of the delegate VirtualService whose routes take the requests this
    /// route matches (a root VirtualService's `delegate`); then there are no destinations.
    delegate: Option<(String, String)>,
    matches: Vec<Matcher>,
    destinations: Vec<(Destination, u32, Manipulation)>,
    mirror: Option<(Destination, f64)>,
    retries: RetryPolicy,
    authority_rewrite: Option<String>,
    headers: Manipulation,
}

/// How specifically a VirtualService host names a request's host; Envoy prefers exact domains, then the
/// longest wildcard suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Specificity {
    Wildcard(usize),
    Exact,
}

impl RouteTable {
    /// Brings the table up to `virtual_services`; returns `(object, problem)` for each one Istio would reject.
    pub fn refresh(&mut self, virtual_services: &[VirtualService]) -> Vec<(String, String)> {
        let mut next = BTreeMap::new();
        for vs in virtual_services {
            let key = (
                vs.metadata.namespace.clone().unwrap_or_else(|| "default".into()),
                vs.metadata.name.clone().unwrap_or_default(),
            );
            let entry = match self.entries.remove(&key) {
                Some((old, compiled)) if old == *vs => (old, compiled),
                _ => (vs.clone(), compile(vs, &key.0, &key.1)),
            };
            next.insert(key, entry);
        }
        self.entries = next;
        self.entries
            .iter()
            .filter_map(|((ns, name), (_, c))| {
                c.as_ref().err().map(|e| (format!("VirtualService {ns}/{name}"), e.clone()))
            })
            .collect()
    }

    /// `(object, problem)` for each valid VirtualService whose destinations name no Service (or a subset, which
    /// needs a DestinationRule): Istio accepts them, as `istioctl analyze` only warns, and answers 503 `NC`.
    pub fn dangling(&self, services: &[Service]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        // Gateway-only VirtualServices are compiled without routes; delegates are checked too.
        for c in self.entries.values().filter_map(|(_, c)| c.as_ref().ok()) {
            let mut missing = Vec::new();
            for (i, r) in c.http.iter().enumerate() {
                let mirror = r.mirror.iter().map(|(d, _)| (format!("spec.http[{i}].mirror"), d));
                let routes = r
                    .destinations
                    .iter()
                    .enumerate()
                    .map(|(j, (d, _, _))| (format!("spec.http[{i}].route[{j}].destination"), d));
                for (at, d) in routes.chain(mirror) {
                    if d.subset.is_some() {
                        missing.push(format!(
                            "{at}.subset {:?}: subsets need a DestinationRule, which the sandbox mesh does not read",
                            d.subset.as_deref().unwrap_or("")
                        ));
                    } else if cluster::by_fqdn(services, &expand_host(&d.host, &c.namespace)).is_none() {
                        missing.push(format!("{at}.host {:?} names no Service (Istio answers 503 NC)", d.host));
                    }
                }
            }
            if !missing.is_empty() {
                out.push((format!("VirtualService {}/{}", c.namespace, c.name), missing.join("; ")));
            }
        }
        out
    }

    /// Routes `req` as the sender's sidecar would, with the objects of `snapshot`.
    pub fn route<'s>(
        &self,
        snapshot: &'s Snapshot,
        req: &Request,
        rng: &mut impl Rng,
    ) -> Result<Routed<'s>, SendError> {
        let (host, port) = split_authority(&req.authority);
        let services = &snapshot.services;
        let service = cluster::resolve(services, host, &req.source.namespace)
            .ok_or_else(|| SendError::UnknownHost { host: host.to_owned(), namespace: req.source.namespace.clone() })?;
        let Some(service_port) = cluster::port(service, port) else {
            return Err(SendError::NoSuchPort { service: cluster::fqdn(service), port });
        };
        let direct = |virtual_service, route_name| Routed {
            service,
            port,
            virtual_service,
            route_name,
            decision: Decision::Forward(Forward {
                cluster: Cluster { service, port: service_port },
                authority: req.authority.clone(),
                retries: if req.source.sidecar { RetryPolicy::istio_default() } else { RetryPolicy::none() },
                mirror: None,
            }),
            headers: Vec::new(),
        };
        // Without a sidecar, kube-proxy balances over the Service's endpoints and VirtualServices do not apply.
        if !req.source.sidecar {
            return Ok(direct(None, None));
        }
        let Some(vs) = self.bound(&cluster::fqdn(service), &host.to_ascii_lowercase(), &req.source.namespace) else {
            return Ok(direct(None, Some("default".to_owned())));
        };
        let matching = |c: &'_ Compiled| {
            c.http.iter().position(|r| r.matches.is_empty() || r.matches.iter().any(|m| m.matches(req, port)))
        };
        // A root route that delegates: the delegate's first route that also matches takes the request (Istio
        // allows one level of delegation).
        let found = matching(vs).and_then(|i| match &vs.http[i].delegate {
            None => Some((vs, i)),
            Some(key) => {
                let delegate = self.entries.get(key)?.1.as_ref().ok()?;
                matching(delegate).filter(|j| delegate.http[*j].delegate.is_none()).map(|j| (delegate, j))
            }
        });
        let vs_ref = Some(format!("{}/{}", vs.namespace, vs.name));
        let Some((vs, route)) = found.map(|(c, i)| (c, &c.http[i])) else {
            return Ok(Routed {
                service,
                port,
                virtual_service: vs_ref,
                route_name: None,
                decision: Decision::NoRoute,
                headers: Vec::new(),
            });
        };
        let (destination, _, destination_headers) = pick_weighted(&route.destinations, rng);
        let decision = match resolve_destination(services, destination, &vs.namespace, port) {
            None => Decision::NoCluster,
            Some(cluster) => {
                let mirror = route
                    .mirror
                    .as_ref()
                    .filter(|(_, percent)| rng.random::<f64>() * 100.0 < *percent)
                    .and_then(|(d, _)| resolve_destination(services, d, &vs.namespace, port));
                let authority = match &route.authority_rewrite {
                    Some(a) => a.clone(),
                    None => req.authority.clone(),
                };
                Decision::Forward(Forward { cluster, authority, retries: route.retries.clone(), mirror })
            }
        };
        let headers = [destination_headers, &route.headers].into_iter().filter(|m| !m.is_empty()).cloned().collect();
        Ok(Routed { service, port, virtual_service: vs_ref, route_name: route.name.clone(), decision, headers })
    }

    /// The VirtualService bound, for the `mesh` gateway and a sender in `namespace`, to a request for Service
    /// `fqdn` written as `host`: the most specific host wins, then the oldest VirtualService.
    fn bound(&self, fqdn: &str, host: &str, namespace: &str) -> Option<&Compiled> {
        self.entries
            .values()
            .filter_map(|(_, c)| c.as_ref().ok())
            // Without http routes a VirtualService says nothing about HTTP traffic.
            .filter(|c| !c.http.is_empty())
            .filter(|c| {
                c.export_to.iter().any(|e| e == "*" || e == namespace || (e == "." && c.namespace == namespace))
            })
            .filter_map(|c| c.hosts.iter().filter_map(|h| specificity(h, fqdn, host)).max().map(|s| (s, c)))
            .max_by(|(sa, a), (sb, b)| {
                // Higher specificity wins; on a tie the older (smaller timestamp, then name) wins.
                sa.cmp(sb).then_with(|| (&b.created, &b.namespace, &b.name).cmp(&(&a.created, &a.namespace, &a.name)))
            })
            .map(|(_, c)| c)
    }
}

/// How a VirtualService host (already expanded) names Service `fqdn`, asked for as `host`.
fn specificity(vs_host: &str, fqdn: &str, host: &str) -> Option<Specificity> {
    if vs_host == fqdn || vs_host == host {
        return Some(Specificity::Exact);
    }
    if vs_host == "*" {
        return Some(Specificity::Wildcard(0));
    }
    let suffix = vs_host.strip_prefix('*')?;
    (suffix.starts_with('.') && (fqdn.ends_with(suffix) || host.ends_with(suffix)))
        .then_some(Specificity::Wildcard(suffix.len()))
}

/// A route destination: picked by weight among several, always the one when alone (Istio ignores its weight).
fn pick_weighted<'d>(
    destinations: &'d [(Destination, u32, Manipulation)],
    rng: &mut impl Rng,
) -> &'d (Destination, u32, Manipulation) {
    let total: u32 = destinations.iter().map(|(_, w, _)| w).sum();
    if destinations.len() > 1 && total > 0 {
        let mut draw = rng.random_range(0..total);
        for d in destinations {
            if draw < d.1 {
                return d;
            }
            draw -= d.1;
        }
    }
    &destinations[0]
}

/// Short names as Istio reads them: relative to the VirtualService's namespace; a name with a dot is taken as
/// fully qualified.
fn expand_host(host: &str, namespace: &str) -> String {
    let host = host.to_ascii_lowercase();
    if host == "*" || host.contains('.') { host } else { format!("{host}.{namespace}.{SERVICE_SUFFIX}") }
}

/// The cluster of a destination: its Service in the VirtualService's namespace and the port it names, else the
/// Service's only port, else the request's port. `None` when Istio would have no such cluster (no Service, no
/// such port, or a subset, which needs a DestinationRule the mesh does not read).
fn resolve_destination<'s>(
    services: &'s [Service],
    d: &Destination,
    namespace: &str,
    port: u16,
) -> Option<Cluster<'s>> {
    if d.subset.is_some() {
        return None;
    }
    let service = cluster::by_fqdn(services, &expand_host(&d.host, namespace))?;
    let ports = cluster::ports(service);
    let number = match (&d.port, ports) {
        (Some(p), _) => u16::try_from(p.number).ok()?,
        (None, [only]) => u16::try_from(only.port).ok()?,
        (None, _) => port,
    };
    Some(Cluster { service, port: cluster::port(service, number)? })
}

fn compile(vs: &VirtualService, namespace: &str, name: &str) -> Result<Compiled, String> {
    let spec = &vs.spec;
    // Without hosts a VirtualService is a delegate: it binds to nothing itself, and a root's `delegate`
    // route hands it requests.
    if spec.hosts.is_empty() && !spec.gateways.is_empty() {
        return Err("spec.hosts is empty (a delegate VirtualService has neither hosts nor gateways)".into());
    }
    if !spec.gateways.is_empty() && !spec.gateways.iter().any(|g| g == "mesh") {
        // Bound to gateways only: valid, but not for sidecars. Compiled with no hosts so it never binds.
        return Ok(Compiled {
            namespace: namespace.into(),
            name: name.into(),
            created: None,
            hosts: Vec::new(),
            export_to: Vec::new(),
            http: Vec::new(),
        });
    }
    let export_to = match spec.extra.get("exportTo") {
        None => vec!["*".to_owned()],
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("spec.exportTo: {e}"))?,
    };
    let http = spec
        .http
        .iter()
        .enumerate()
        .map(|(i, r)| compile_route(r, namespace, &format!("spec.http[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(Compiled {
        namespace: namespace.into(),
        name: name.into(),
        created: vs.metadata.creation_timestamp.clone(),
        hosts: spec.hosts.iter().map(|h| expand_host(h, namespace)).collect(),
        export_to,
        http,
    })
}

fn compile_route(r: &fledge_crds::istio::HttpRoute, namespace: &str, at: &str) -> Result<HttpRoute, String> {
    let matches = r
        .r#match
        .iter()
        .enumerate()
        .map(|(i, m)| Matcher::compile(m, &format!("{at}.match[{i}]")))
        .collect::<Result<_, _>>()?;
    if r.route.is_empty()
        && let Some(delegate) = r.extra.get("delegate")
    {
        let name = delegate.get("name").and_then(|n| n.as_str()).filter(|n| !n.is_empty());
        let name = name.ok_or_else(|| format!("{at}.delegate.name is required"))?;
        let ns = delegate.get("namespace").and_then(|n| n.as_str()).filter(|n| !n.is_empty()).unwrap_or(namespace);
        return Ok(HttpRoute {
            name: r.name.clone(),
            delegate: Some((ns.to_owned(), name.to_owned())),
            matches,
            destinations: Vec::new(),
            mirror: None,
            retries: RetryPolicy::istio_default(),
            authority_rewrite: None,
            headers: Manipulation::compile(&r.extra, at)?,
        });
    }
    if r.route.is_empty() {
        let what = ["redirect", "directResponse"].into_iter().find(|k| r.extra.contains_key(*k));
        return Err(match what {
            Some(k) => format!("{at}.{k} is not supported by the sandbox mesh"),
            None => format!("{at}.route is empty"),
        });
    }
    let mut destinations = Vec::new();
    for (i, d) in r.route.iter().enumerate() {
        let weight = d.weight.unwrap_or(0);
        let weight = u32::try_from(weight).map_err(|_| format!("{at}.route[{i}].weight: {weight} is negative"))?;
        if d.destination.host.is_empty() {
            return Err(format!("{at}.route[{i}].destination.host is empty"));
        }
        let headers = Manipulation::compile(&d.extra, &format!("{at}.route[{i}]"))?;
        destinations.push((d.destination.clone(), weight, headers));
    }
    if destinations.len() > 1 && destinations.iter().all(|(_, w, _)| *w == 0) {
        return Err(format!("{at}.route: the total weight of the destinations is 0"));
    }
    let percent = r.mirror_percentage.as_ref().map_or(100.0, |p| p.value);
    if !(0.0..=100.0).contains(&percent) {
        return Err(format!("{at}.mirrorPercentage.value: {percent} is outside [0, 100]"));
    }
    let retries = match r.extra.get("retries") {
        None => RetryPolicy::istio_default(),
        Some(v) => RetryPolicy::from_istio(v).map_err(|e| format!("{at}.retries: {e}"))?,
    };
    let authority_rewrite =
        r.extra.get("rewrite").and_then(|w| w.get("authority")).and_then(|a| a.as_str()).map(str::to_owned);
    Ok(HttpRoute {
        name: r.name.clone(),
        delegate: None,
        matches,
        destinations,
        mirror: r.mirror.clone().map(|m| (m, percent)),
        retries,
        authority_rewrite,
        headers: Manipulation::compile(&r.extra, at)?,
    })
}
