//! The Istio objects of a Canary: a DestinationRule per Service and the VirtualService that
//! splits the apex's traffic between primary and canary, and reading that split back. No I/O.

use super::{Names, ObjectError, non_empty, owned_meta};
use fledge_crds::canary::{Canary, CanaryService};
use fledge_crds::istio::{
    CorsPolicy, Destination, DestinationRule, DestinationRuleSpec, Extra, HttpMatchRequest, HttpRewrite, HttpRoute,
    HttpRouteDestination, Percent, PortSelector, RouteDestination, StringMatch, TcpRoute, VirtualService,
    VirtualServiceSpec,
};
use serde_json::{Map, Value};

/// The DestinationRules `[<apex>-canary, <apex>-primary]`: `host` is the Service of the same
/// name and `trafficPolicy` is `spec.service.trafficPolicy`, on both so the canary is measured
/// under the same policy as the primary.
pub fn destination_rules(canary: &Canary) -> Result<Vec<DestinationRule>, ObjectError> {
    let svc = canary.spec.service.as_ref().ok_or(ObjectError::MissingService)?;
    let names = Names::of(canary);
    let rule = |host: &str| DestinationRule {
        metadata: owned_meta(canary, host),
        spec: DestinationRuleSpec {
            host: host.to_owned(),
            traffic_policy: svc.traffic_policy.clone(),
            ..DestinationRuleSpec::default()
        },
    };
    Ok(vec![rule(&names.canary_service), rule(&names.primary_service)])
}

/// The VirtualService `<apex>` with `canary_weight` percent to the canary and the rest to the
/// primary, complete for server-side apply.
///
/// Hosts are `spec.service.hosts` plus the apex unless it or `*` is listed; gateways are
/// `spec.service.gateways` or `mesh`; a delegate (`delegation: true`) has neither. One HTTP
/// route carries the service's match, rewrite, timeout, retries, headers and CORS policy; with
/// `appProtocol: tcp` it is one TCP route instead, matching on the L4 parts of the match.
/// The labels and annotations of `spec.service.apex` go on it, as on the apex Service.
pub fn virtual_service(canary: &Canary, canary_weight: i32) -> Result<VirtualService, ObjectError> {
    virtual_service_routed(canary, &Routing { canary_weight, ..Routing::default() })
}

/// How the apex's traffic is routed at one moment of a rollout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routing {
    /// Percent of the requests (of the A/B matches, for an A/B test) to the canary.
    pub canary_weight: i32,
    /// The weighted route also copies `analysis.mirrorWeight` percent (default 100) of its
    /// requests to the canary, whose answers Envoy discards. TCP routes cannot mirror.
    pub mirror: bool,
    /// Session affinity of the current run: `<cookieName>=<value>`, given to users sent to the
    /// canary, whose later requests then go to the canary.
    pub cookie: Option<String>,
    /// `<primaryCookieName>=<value>`, given to users sent to the primary.
    pub primary_cookie: Option<String>,
    /// The cookie of the previous run, expired (`Max-Age=-1`) when its holders come back.
    pub expired_cookie: Option<String>,
}

impl Routing {
    /// The routing a status describes (what was decided, written before it).
    pub fn of(status: &fledge_crds::canary::CanaryStatus, canary_weight: i32, mirror: bool) -> Self {
        Self {
            canary_weight,
            mirror,
            cookie: status.session_affinity_cookie.clone(),
            primary_cookie: status.primary_session_affinity_cookie.clone(),
            expired_cookie: status.previous_session_affinity_cookie.clone(),
        }
    }
}

/// [`virtual_service`] for a [`Routing`]: mirroring and session affinity as well as weights.
pub fn virtual_service_routed(canary: &Canary, routing: &Routing) -> Result<VirtualService, ObjectError> {
    let canary_weight = routing.canary_weight;
    let svc = canary.spec.service.as_ref().ok_or(ObjectError::MissingService)?;
    let port =
        u32::try_from(svc.port).ok().filter(|p| (1..=65535).contains(p)).ok_or(ObjectError::InvalidPort(svc.port))?;
    let names = Names::of(canary);
    let delegate = svc.delegation == Some(true);
    if delegate {
        for (field, given) in [("hosts", &svc.hosts), ("gateways", &svc.gateways)] {
            if given.as_ref().is_some_and(|g| !g.is_empty()) {
                return Err(ObjectError::DelegationWith { field });
            }
        }
    }

    let (hosts, gateways) = if delegate { (Vec::new(), Vec::new()) } else { (hosts(svc, &names.apex), svc.gateways()) };
    // A destination port makes Istio send every request to that port. With discovered ports
    // the apex Service has several, and mesh traffic must keep the port it was sent to, so the
    // port is left out unless the VirtualService only serves gateways (or is a delegate, which
    // is reached through one), where a request's port is the gateway's (Flagger's rule).
    let with_port = svc.port_discovery != Some(true) || gateways.iter().all(|g| g != "mesh");
    let destination = |host: &str| Destination {
        host: host.to_owned(),
        subset: None,
        port: with_port.then_some(PortSelector { number: port }),
    };
    let (primary, canary_dest) = (destination(&names.primary_service), destination(&names.canary_service));
    let primary_weight = 100 - canary_weight;

    let mut spec = VirtualServiceSpec { hosts, gateways, ..VirtualServiceSpec::default() };
    if is_tcp(svc) {
        spec.tcp = vec![TcpRoute {
            r#match: svc.r#match.iter().flatten().filter_map(l4_match).collect(),
            route: vec![
                RouteDestination { destination: primary, weight: Some(primary_weight) },
                RouteDestination { destination: canary_dest, weight: Some(canary_weight) },
            ],
            extra: Extra::new(),
        }];
    } else {
        spec.http = http_routes(canary, svc, routing, primary, canary_dest);
    }

    let mut metadata = owned_meta(canary, &names.apex);
    metadata.labels = svc.apex.as_ref().and_then(|m| m.labels.clone()).and_then(non_empty);
    metadata.annotations = svc.apex.as_ref().and_then(|m| m.annotations.clone()).and_then(non_empty);
    Ok(VirtualService { metadata, spec })
}

/// The weights `(primary, canary)` of the route that splits traffic between the two Services:
/// the last HTTP route with both destinations, or else the last such TCP route. `None` when
/// there is none (the VirtualService was replaced by someone else).
///
/// The last one, because every layout Fledge writes ends with the weighted route: an A/B test
/// has only one route with both, and a session-affinity route (cookie to the canary) comes
/// before the weighted one. A missing weight is 0, as Istio reads it next to another.
pub fn route_weights(vs: &VirtualService, names: &Names) -> Option<(i32, i32)> {
    let split = |dests: Vec<(&Destination, Option<i32>)>| {
        let weight_of =
            |service: &str| dests.iter().find(|(d, _)| is_host(&d.host, service)).map(|(_, w)| w.unwrap_or(0));
        Some((weight_of(&names.primary_service)?, weight_of(&names.canary_service)?))
    };
    let http =
        vs.spec.http.iter().rev().find_map(|r| split(r.route.iter().map(|d| (&d.destination, d.weight)).collect()));
    http.or_else(|| {
        vs.spec.tcp.iter().rev().find_map(|r| split(r.route.iter().map(|d| (&d.destination, d.weight)).collect()))
    })
}

/// Whether `host` names `service`, short or qualified (`podinfo-canary.test.svc.cluster.local`),
/// since a user or another tool may have written the qualified form.
fn is_host(host: &str, service: &str) -> bool {
    host.strip_prefix(service).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Hosts of the VirtualService: the given ones, plus the apex unless it or `*` is there.
fn hosts(svc: &CanaryService, apex: &str) -> Vec<String> {
    let mut hosts = svc.hosts.clone().unwrap_or_default();
    if !hosts.iter().any(|h| h == apex || h == "*") {
        hosts.push(apex.to_owned());
    }
    hosts
}

/// Whether the service is plain TCP (`appProtocol: tcp`, any case, as Flagger).
fn is_tcp(svc: &CanaryService) -> bool {
    svc.app_protocol.as_deref().is_some_and(|p| p.eq_ignore_ascii_case("tcp"))
}

/// An HTTP match as Istio takes it: Flagger's `suffix` string matches become regexes.
fn http_match(m: &HttpMatchRequest) -> Value {
    let mut m = m.clone();
    for single in [&mut m.uri, &mut m.scheme, &mut m.method, &mut m.authority].into_iter().flatten() {
        *single = single.to_istio();
    }
    for map in [&mut m.headers, &mut m.without_headers, &mut m.query_params].into_iter().flatten() {
        map.values_mut().for_each(|v| *v = v.to_istio());
    }
    to_json(&m)
}

/// The HTTP routes, in the order Istio tries them: the A/B matches (or the session-affinity
/// cookies) first, then the weighted route every other request takes.
fn http_routes(
    canary: &Canary,
    svc: &CanaryService,
    routing: &Routing,
    primary: Destination,
    canary_dest: Destination,
) -> Vec<HttpRoute> {
    let analysis = &canary.spec.analysis;
    let weight = routing.canary_weight;
    let service_match: Vec<Value> = svc.r#match.iter().flatten().map(http_match).collect();
    let route = |r#match: Vec<Value>, route: Vec<HttpRouteDestination>| HttpRoute {
        r#match,
        route,
        extra: http_options(svc),
        ..HttpRoute::default()
    };
    // A route for the requests that carry `cookie`, all to `to`.
    let holders = |cookie: &str, to: HttpRouteDestination| {
        route(merge_matches(&[cookie_match(cookie)], &service_match), vec![to])
    };
    let mut to_primary = weighted(primary.clone(), 100 - weight);
    let mut to_canary = weighted(canary_dest.clone(), weight);

    let ab_match: Vec<Value> = analysis.r#match.iter().flatten().map(http_match).collect();
    if !ab_match.is_empty() {
        // A/B testing: the requests that match `analysis.match` are split (all to the canary
        // during the analysis), ahead of the route that keeps every other request on the
        // primary.
        return vec![
            route(merge_matches(&ab_match, &service_match), vec![to_primary, to_canary]),
            route(service_match.clone(), vec![weighted(primary, 100)]),
        ];
    }

    let mut routes = Vec::new();
    if let Some(affinity) = &analysis.session_affinity {
        match (&routing.cookie, &routing.expired_cookie) {
            (Some(cookie), _) if weight > 0 => {
                // A user who landed on the canary carries its cookie and stays there.
                routes.push(holders(cookie, weighted(canary_dest.clone(), 100)));
                set_cookie(&mut to_canary, &cookie_header(cookie, affinity, affinity.max_age()));
                if let Some(cookie) = &routing.primary_cookie {
                    // And one who landed on the primary stays there.
                    routes.push(holders(cookie, weighted(primary.clone(), 100)));
                    set_cookie(&mut to_primary, &cookie_header(cookie, affinity, affinity.max_age()));
                }
            }
            (_, Some(cookie)) if weight == 0 => {
                // The run is over: its cookie is expired on its holders' next request.
                let mut expire = weighted(primary.clone(), 100);
                set_cookie(&mut expire, &cookie_header(cookie, affinity, -1));
                routes.push(holders(cookie, expire));
            }
            _ => {}
        }
    }
    let mut split = route(service_match.clone(), vec![to_primary, to_canary]);
    if routing.mirror {
        let percent = analysis.mirror_weight.filter(|w| (0..=100).contains(w)).unwrap_or(100);
        split.mirror = Some(canary_dest);
        split.mirror_percentage = Some(Percent { value: f64::from(percent) });
    }
    routes.push(split);
    routes
}

/// A destination with its share of the route's requests.
fn weighted(destination: Destination, weight: i32) -> HttpRouteDestination {
    HttpRouteDestination { destination, weight: Some(weight), extra: Extra::new() }
}

/// A match on a request carrying `cookie` (`name=value`) among its cookies.
fn cookie_match(cookie: &str) -> Value {
    let regex = format!("^(.*?; ?)?({})(;.*)?$", regex_escape(cookie));
    serde_json::json!({"headers": {"cookie": {"regex": regex}}})
}

/// `text` as a literal in an RE2 expression.
fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The `Set-Cookie` value for `cookie` (`name=value`) with the attributes of `affinity` and a
/// lifetime of `max_age` seconds (`-1` expires it).
fn cookie_header(cookie: &str, affinity: &fledge_crds::canary::SessionAffinity, max_age: i64) -> String {
    let mut header = format!("{cookie}; Max-Age={max_age}");
    if let Some(domain) = affinity.domain.as_deref().filter(|d| !d.is_empty()) {
        header.push_str(&format!("; Domain={domain}"));
    }
    if let Some(path) = affinity.path.as_deref().filter(|p| !p.is_empty()) {
        header.push_str(&format!("; Path={path}"));
    }
    if let Some(same_site) = affinity.same_site {
        header.push_str(&format!("; SameSite={same_site:?}"));
    }
    for (set, flag) in
        [(affinity.secure, "Secure"), (affinity.http_only, "HttpOnly"), (affinity.partitioned, "Partitioned")]
    {
        if set == Some(true) {
            header.push_str(&format!("; {flag}"));
        }
    }
    header
}

/// Add a `Set-Cookie` response header to the answers of a destination.
fn set_cookie(destination: &mut HttpRouteDestination, value: &str) {
    destination.extra.insert("headers".into(), serde_json::json!({"response": {"add": {"Set-Cookie": value}}}));
}

/// The A/B matches restricted to what the service's own matches allow: each A/B match combined
/// with each service match (a request must satisfy both), as Flagger merges them. The A/B
/// match keeps its own conditions; the service match adds the ones it lacks (map entries such
/// as headers are merged key by key).
fn merge_matches(ab: &[Value], service: &[Value]) -> Vec<Value> {
    if service.is_empty() {
        return ab.to_vec();
    }
    let mut merged = Vec::with_capacity(ab.len() * service.len());
    for base in service {
        for wanted in ab {
            let mut m = wanted.clone();
            if let (Some(m), Some(base)) = (m.as_object_mut(), base.as_object()) {
                for (key, value) in base {
                    match (m.get_mut(key), value) {
                        (None, _) => drop(m.insert(key.clone(), value.clone())),
                        (Some(Value::Object(mine)), Value::Object(theirs)) => {
                            for (k, v) in theirs {
                                mine.entry(k.clone()).or_insert_with(|| v.clone());
                            }
                        }
                        (Some(_), _) => {}
                    }
                }
            }
            merged.push(m);
        }
    }
    merged
}

/// The L4 part of an HTTP match (port, source labels and namespace, gateways), what a TCP
/// route can match on; `None` when nothing is left, since an empty match would match all.
fn l4_match(m: &HttpMatchRequest) -> Option<Value> {
    let mut l4 = Map::new();
    if let Some(port) = m.port {
        l4.insert("port".into(), port.into());
    }
    if let Some(labels) = &m.source_labels {
        l4.insert("sourceLabels".into(), to_json(labels));
    }
    if let Some(namespace) = &m.source_namespace {
        l4.insert("sourceNamespace".into(), namespace.clone().into());
    }
    if let Some(gateways) = &m.gateways {
        l4.insert("gateways".into(), to_json(gateways));
    }
    (!l4.is_empty()).then_some(Value::Object(l4))
}

/// The route options of `spec.service` under their Istio names.
fn http_options(svc: &CanaryService) -> Extra {
    let mut extra = Extra::new();
    if let Some(rewrite) = &svc.rewrite {
        // `type` is a Gateway API field that Istio's HTTPRewrite would reject.
        extra.insert("rewrite".into(), to_json(&HttpRewrite { r#type: None, ..rewrite.clone() }));
    }
    if let Some(timeout) = svc.timeout.as_ref().filter(|t| !t.is_empty()) {
        extra.insert("timeout".into(), timeout.clone().into());
    }
    if let Some(retries) = &svc.retries {
        extra.insert("retries".into(), to_json(retries));
    }
    if let Some(headers) = &svc.headers {
        extra.insert("headers".into(), to_json(headers));
    }
    if let Some(cors) = &svc.cors_policy {
        let origins = cors.allow_origins.as_ref().map(|o| o.iter().map(StringMatch::to_istio).collect());
        extra.insert("corsPolicy".into(), to_json(&CorsPolicy { allow_origins: origins, ..cors.clone() }));
    }
    extra
}

/// JSON of a route option; these are plain data structs, whose serialization cannot fail.
fn to_json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("route options serialize to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::fixtures::*;
    use serde_json::json;

    fn with_service(service: &str) -> Canary {
        mk_canary(&format!(
            "
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  service: {service}
  analysis: {{stepWeight: 10}}
"
        ))
    }

    fn vs_json(canary: &Canary, weight: i32) -> Value {
        serde_json::to_value(virtual_service(canary, weight).unwrap()).unwrap()
    }

    #[test]
    fn destination_rules_target_each_service_with_the_traffic_policy() {
        let canary = with_service("{port: 9898, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}");
        let rules: Vec<_> =
            destination_rules(&canary).unwrap().into_iter().map(|r| serde_json::to_value(r).unwrap()).collect();
        assert_eq!(rules.len(), 2);
        for (rule, host) in rules.iter().zip(["podinfo-canary", "podinfo-primary"]) {
            assert_eq!(rule["apiVersion"], "networking.istio.io/v1beta1");
            assert_eq!(rule["kind"], "DestinationRule");
            assert_eq!(rule["metadata"]["name"], host);
            assert_eq!(rule["metadata"]["namespace"], "test");
            assert_eq!(rule["metadata"]["ownerReferences"][0]["name"], "podinfo");
            assert_eq!(rule["spec"], json!({"host": host, "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}));
        }
        let plain = serde_json::to_value(&destination_rules(&podinfo_canary()).unwrap()[0]).unwrap();
        assert_eq!(plain["spec"], json!({"host": "podinfo-canary"}));
    }

    fn ab_canary(service_match: &str) -> Canary {
        mk_canary(&format!(
            "
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  service: {{port: 9898, timeout: 5s{service_match}}}
  analysis:
    iterations: 5
    match:
    - headers: {{x-canary: {{exact: insider}}}}
    - headers: {{cookie: {{regex: '^(.*?;)?(canary=always)(;.*)?$'}}}}
"
        ))
    }

    #[test]
    fn an_ab_test_routes_the_matching_requests_ahead_of_the_primary_route() {
        let vs = vs_json(&ab_canary(""), 100);
        let port = json!({"number": 9898});
        assert_eq!(
            vs["spec"]["http"],
            json!([
                {
                    "match": [
                        {"headers": {"x-canary": {"exact": "insider"}}},
                        {"headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}}}
                    ],
                    "route": [
                        {"destination": {"host": "podinfo-primary", "port": port}, "weight": 0},
                        {"destination": {"host": "podinfo-canary", "port": port}, "weight": 100}
                    ],
                    "timeout": "5s"
                },
                {
                    "route": [{"destination": {"host": "podinfo-primary", "port": port}, "weight": 100}],
                    "timeout": "5s"
                }
            ])
        );
        let names = Names::of(&ab_canary(""));
        assert_eq!(route_weights(&virtual_service(&ab_canary(""), 100).unwrap(), &names), Some((0, 100)));
        assert_eq!(route_weights(&virtual_service(&ab_canary(""), 0).unwrap(), &names), Some((100, 0)));
    }

    #[test]
    fn a_mirrored_route_copies_the_mirror_weight_to_the_canary() {
        let canary = mk_canary(
            "
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis: {iterations: 5, mirror: true, mirrorWeight: 40}
",
        );
        let vs = serde_json::to_value(
            virtual_service_routed(&canary, &Routing { mirror: true, ..Routing::default() }).unwrap(),
        )
        .unwrap();
        let port = json!({"number": 9898});
        assert_eq!(
            vs["spec"]["http"],
            json!([{
                "route": [
                    {"destination": {"host": "podinfo-primary", "port": port}, "weight": 100},
                    {"destination": {"host": "podinfo-canary", "port": port}, "weight": 0}
                ],
                "mirror": {"host": "podinfo-canary", "port": port},
                "mirrorPercentage": {"value": 40.0}
            }])
        );
        let plain = serde_json::to_value(virtual_service_routed(&canary, &Routing::default()).unwrap()).unwrap();
        assert_eq!(plain["spec"]["http"][0].get("mirror"), None);
    }

    fn sticky_canary() -> Canary {
        mk_canary(
            "
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis:
    stepWeight: 10
    sessionAffinity: {cookieName: flagger-cookie, primaryCookieName: primary-cookie, maxAge: 21600, path: /, httpOnly: true, sameSite: Lax}
",
        )
    }

    #[test]
    fn session_affinity_keeps_a_user_on_the_canary_and_expires_the_cookie_after_the_run() {
        let routing = Routing {
            canary_weight: 10,
            cookie: Some("flagger-cookie=a1b2".into()),
            primary_cookie: Some("primary-cookie=a1b2".into()),
            ..Routing::default()
        };
        let vs = serde_json::to_value(virtual_service_routed(&sticky_canary(), &routing).unwrap()).unwrap();
        let port = json!({"number": 9898});
        let attributes = "Max-Age=21600; Path=/; SameSite=Lax; HttpOnly";
        assert_eq!(
            vs["spec"]["http"],
            json!([
                {
                    "match": [{"headers": {"cookie": {"regex": "^(.*?; ?)?(flagger-cookie=a1b2)(;.*)?$"}}}],
                    "route": [{"destination": {"host": "podinfo-canary", "port": port}, "weight": 100}]
                },
                {
                    "match": [{"headers": {"cookie": {"regex": "^(.*?; ?)?(primary-cookie=a1b2)(;.*)?$"}}}],
                    "route": [{"destination": {"host": "podinfo-primary", "port": port}, "weight": 100}]
                },
                {
                    "route": [
                        {
                            "destination": {"host": "podinfo-primary", "port": port}, "weight": 90,
                            "headers": {"response": {"add": {"Set-Cookie": format!("primary-cookie=a1b2; {attributes}")}}}
                        },
                        {
                            "destination": {"host": "podinfo-canary", "port": port}, "weight": 10,
                            "headers": {"response": {"add": {"Set-Cookie": format!("flagger-cookie=a1b2; {attributes}")}}}
                        }
                    ]
                }
            ])
        );
        let names = Names::of(&sticky_canary());
        let written = virtual_service_routed(&sticky_canary(), &routing).unwrap();
        assert_eq!(route_weights(&written, &names), Some((90, 10)), "read from the weighted route");

        let after = Routing { expired_cookie: Some("flagger-cookie=a1b2".into()), ..Routing::default() };
        let vs = serde_json::to_value(virtual_service_routed(&sticky_canary(), &after).unwrap()).unwrap();
        assert_eq!(
            vs["spec"]["http"][0]["route"],
            json!([{
                "destination": {"host": "podinfo-primary", "port": port}, "weight": 100,
                "headers": {"response": {"add": {"Set-Cookie": "flagger-cookie=a1b2; Max-Age=-1; Path=/; SameSite=Lax; HttpOnly"}}}
            }])
        );
        assert_eq!(vs["spec"]["http"][1]["route"][1]["weight"], 0);
        assert_eq!(vs["spec"]["http"][1]["route"][1].get("headers"), None, "nobody gets a cookie at weight 0");
    }

    #[test]
    fn an_ab_match_is_narrowed_by_the_service_match() {
        let vs = vs_json(&ab_canary(", match: [{uri: {prefix: /api}, headers: {x-tenant: {exact: a}}}]"), 100);
        assert_eq!(
            vs["spec"]["http"][0]["match"],
            json!([
                {"headers": {"x-canary": {"exact": "insider"}, "x-tenant": {"exact": "a"}}, "uri": {"prefix": "/api"}},
                {
                    "headers": {"cookie": {"regex": "^(.*?;)?(canary=always)(;.*)?$"}, "x-tenant": {"exact": "a"}},
                    "uri": {"prefix": "/api"}
                }
            ])
        );
        assert_eq!(
            vs["spec"]["http"][1]["match"],
            json!([{"uri": {"prefix": "/api"}, "headers": {"x-tenant": {"exact": "a"}}}])
        );
    }

    #[test]
    fn default_virtual_service_splits_90_10_on_the_mesh() {
        let vs = vs_json(&podinfo_canary(), 10);
        assert_eq!(vs["apiVersion"], "networking.istio.io/v1beta1");
        assert_eq!(vs["kind"], "VirtualService");
        assert_eq!(vs["metadata"]["name"], "podinfo");
        assert_eq!(vs["metadata"]["ownerReferences"][0]["kind"], "Canary");
        assert_eq!(
            vs["spec"],
            json!({
                "hosts": ["podinfo"],
                "gateways": ["mesh"],
                "http": [{"route": [
                    {"destination": {"host": "podinfo-primary", "port": {"number": 9898}}, "weight": 90},
                    {"destination": {"host": "podinfo-canary", "port": {"number": 9898}}, "weight": 10}
                ]}]
            })
        );
    }

    #[test]
    fn hosts_and_gateways() {
        let given = vs_json(&with_service("{port: 80, hosts: [app.example.com], gateways: [public/gw]}"), 0);
        assert_eq!(given["spec"]["hosts"], json!(["app.example.com", "podinfo"]));
        assert_eq!(given["spec"]["gateways"], json!(["public/gw"]));
        let listed = vs_json(&with_service("{port: 80, hosts: [podinfo, other]}"), 0);
        assert_eq!(listed["spec"]["hosts"], json!(["podinfo", "other"]));
        let wildcard = vs_json(&with_service("{port: 80, hosts: ['*']}"), 0);
        assert_eq!(wildcard["spec"]["hosts"], json!(["*"]));
    }

    #[test]
    fn delegate_has_no_hosts_or_gateways() {
        let vs = vs_json(&with_service("{port: 80, delegation: true}"), 0);
        assert_eq!(vs["spec"].get("hosts"), None);
        assert_eq!(vs["spec"].get("gateways"), None);
        assert_eq!(vs["spec"]["http"][0]["route"][0]["weight"], 100);

        let err = virtual_service(&with_service("{port: 80, delegation: true, hosts: [a.example.com]}"), 0);
        assert_eq!(err.unwrap_err().to_string(), "spec.service.hosts: must be empty with delegation: true");
        let err = virtual_service(&with_service("{port: 80, delegation: true, gateways: [gw]}"), 0);
        assert_eq!(err.unwrap_err().to_string(), "spec.service.gateways: must be empty with delegation: true");
    }

    #[test]
    fn http_options_are_carried_under_istio_names() {
        let canary = with_service(
            "
    port: 9898
    match:
      - uri: {prefix: /api}
        headers: {host: {suffix: .example.com}}
    rewrite: {uri: /, type: ReplacePrefixMatch}
    timeout: 30s
    retries: {attempts: 3, perTryTimeout: 1s, retryOn: 'gateway-error,connect-failure'}
    headers: {request: {add: {x-via: fledge}}, response: {remove: [x-internal]}}
    corsPolicy:
      allowOrigins: [{exact: 'https://example.com'}, {suffix: .example.org}]
      allowMethods: [GET]
      maxAge: 24h",
        );
        let route = &vs_json(&canary, 0)["spec"]["http"][0];
        assert_eq!(
            route["match"],
            json!([{"uri": {"prefix": "/api"}, "headers": {"host": {"regex": ".*\\.example\\.com"}}}])
        );
        assert_eq!(route["rewrite"], json!({"uri": "/"}));
        assert_eq!(route["timeout"], "30s");
        assert_eq!(
            route["retries"],
            json!({"attempts": 3, "perTryTimeout": "1s", "retryOn": "gateway-error,connect-failure"})
        );
        assert_eq!(
            route["headers"],
            json!({"request": {"add": {"x-via": "fledge"}}, "response": {"remove": ["x-internal"]}})
        );
        assert_eq!(
            route["corsPolicy"],
            json!({"allowOrigins": [{"exact": "https://example.com"}, {"regex": ".*\\.example\\.org"}],
                   "allowMethods": ["GET"], "maxAge": "24h"})
        );
        assert_eq!(route.get("name"), None);
    }

    #[test]
    fn tcp_service_gets_a_tcp_route() {
        let canary =
            with_service("{port: 5432, appProtocol: TCP, match: [{port: 5432}, {uri: {prefix: /}}], timeout: 5s}");
        let vs = vs_json(&canary, 10);
        assert_eq!(vs["spec"].get("http"), None);
        assert_eq!(
            vs["spec"]["tcp"],
            json!([{
                "match": [{"port": 5432}],
                "route": [
                    {"destination": {"host": "podinfo-primary", "port": {"number": 5432}}, "weight": 90},
                    {"destination": {"host": "podinfo-canary", "port": {"number": 5432}}, "weight": 10}
                ]
            }])
        );
    }

    #[test]
    fn port_discovery_on_the_mesh_leaves_the_port_to_the_request() {
        let mesh = vs_json(&with_service("{port: 9898, portDiscovery: true}"), 0);
        assert_eq!(mesh["spec"]["http"][0]["route"][0]["destination"], json!({"host": "podinfo-primary"}));
        let gateway = vs_json(&with_service("{port: 9898, portDiscovery: true, gateways: [public/gw]}"), 0);
        assert_eq!(gateway["spec"]["http"][0]["route"][0]["destination"]["port"], json!({"number": 9898}));
    }

    #[test]
    fn apex_metadata_goes_on_the_virtual_service() {
        let vs = vs_json(&with_service("{port: 80, apex: {labels: {team: web}, annotations: {note: x}}}"), 0);
        assert_eq!(vs["metadata"]["labels"], json!({"team": "web"}));
        assert_eq!(vs["metadata"]["annotations"], json!({"note": "x"}));
    }

    #[test]
    fn missing_service_or_bad_port_is_an_error() {
        let mut canary = podinfo_canary();
        canary.spec.service = None;
        assert_eq!(virtual_service(&canary, 0), Err(ObjectError::MissingService));
        assert_eq!(destination_rules(&canary), Err(ObjectError::MissingService));
        assert_eq!(virtual_service(&with_service("{port: 0}"), 0), Err(ObjectError::InvalidPort(0)));
    }

    #[test]
    fn weights_round_trip() {
        let names = Names::of(&podinfo_canary());
        for weight in [0, 10, 55, 100] {
            let vs = virtual_service(&podinfo_canary(), weight).unwrap();
            assert_eq!(route_weights(&vs, &names), Some((100 - weight, weight)));
        }
        let tcp = virtual_service(&with_service("{port: 5432, appProtocol: tcp}"), 30).unwrap();
        assert_eq!(route_weights(&tcp, &names), Some((70, 30)));
    }

    #[test]
    fn weights_are_read_from_the_weighted_route_of_any_layout() {
        let names = Names::of(&podinfo_canary());
        let read = |spec: Value| {
            let vs: VirtualService = serde_json::from_value(json!({
                "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
                "metadata": {"name": "podinfo"}, "spec": spec
            }))
            .unwrap();
            route_weights(&vs, &names)
        };
        // A/B: the match route has both destinations, the default one only the primary.
        let ab = json!({"http": [
            {"match": [{"headers": {"x-canary": {"exact": "insider"}}}], "route": [
                {"destination": {"host": "podinfo-primary"}, "weight": 0},
                {"destination": {"host": "podinfo-canary"}, "weight": 100}]},
            {"route": [{"destination": {"host": "podinfo-primary"}, "weight": 100}]}
        ]});
        assert_eq!(read(ab), Some((0, 100)));
        // Session affinity: the cookie route first, the weighted route last.
        let sticky = json!({"http": [
            {"name": "sticky-route", "route": [
                {"destination": {"host": "podinfo-primary"}, "weight": 0},
                {"destination": {"host": "podinfo-canary"}, "weight": 100}]},
            {"route": [
                {"destination": {"host": "podinfo-primary.test.svc.cluster.local"}, "weight": 80},
                {"destination": {"host": "podinfo-canary.test.svc.cluster.local"}, "weight": 20}]}
        ]});
        assert_eq!(read(sticky), Some((80, 20)));
        let foreign = json!({"http": [{"route": [{"destination": {"host": "podinfo-primary-old"}, "weight": 100}]}]});
        assert_eq!(read(foreign), None);
        assert_eq!(read(json!({})), None);
    }
}
