//! Checks of the Canary spec outside `analysis`: the target, the provider, the service.

use super::{Problem, names};
use crate::canary::{AutoscalerKind, CanaryService, CanarySpec, Provider, TargetKind};
use crate::istio::HttpMatchRequest;
use crate::schedule::parse_go_duration;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The prefix of Fledge's own annotations, which it must keep writing.
const FLEDGE_PREFIX: &str = "fledge.dev/";

/// Longest apex name: `<apex>-primary` must still be a valid Service name (63).
const MAX_APEX_LEN: usize = 63 - "-primary".len();

pub(super) fn check_spec(spec: &CanarySpec, out: &mut Vec<Problem>) {
    if let Some(provider) = spec.provider.filter(|p| *p != Provider::Istio) {
        let name = serde_json::to_value(provider).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        out.push(Problem::error(
            "spec.provider",
            format!("Fledge routes with Istio only; remove provider or set it to istio (got {name})"),
        ));
    }
    check_target(spec, out);
    check_service(spec, out);
    for (field, set) in [
        ("spec.ingressRef", spec.ingress_ref.is_some()),
        ("spec.routeRef", spec.route_ref.is_some()),
        ("spec.upstreamRef", spec.upstream_ref.is_some()),
    ] {
        if set {
            out.push(Problem::warning(
                field,
                "belongs to another Flagger provider and is not supported with Istio; it is ignored",
            ));
        }
    }
}

fn check_target(spec: &CanarySpec, out: &mut Vec<Problem>) {
    let target = &spec.target_ref;
    if target.kind != TargetKind::Deployment {
        out.push(Problem::error(
            "spec.targetRef.kind",
            format!("Fledge releases Deployments; {:?} is not supported", target.kind),
        ));
    } else if target.api_version != "apps/v1" {
        out.push(Problem::error(
            "spec.targetRef.apiVersion",
            format!("must be apps/v1 for a Deployment, got {:?}", target.api_version),
        ));
    }
    if target.name.is_empty() {
        out.push(Problem::error("spec.targetRef.name", "required: the name of the Deployment to release"));
    }
    if let Some(scaler) = &spec.autoscaler_ref {
        if scaler.kind != AutoscalerKind::HorizontalPodAutoscaler {
            out.push(Problem::error(
                "spec.autoscalerRef.kind",
                format!("Fledge supports HorizontalPodAutoscaler; {:?} is not supported", scaler.kind),
            ));
        } else if !scaler.api_version.starts_with("autoscaling/") {
            out.push(Problem::error(
                "spec.autoscalerRef.apiVersion",
                format!("must be autoscaling/v2 for a HorizontalPodAutoscaler, got {:?}", scaler.api_version),
            ));
        }
        if scaler.primary_scaler_queries.is_some() {
            out.push(Problem::warning(
                "spec.autoscalerRef.primaryScalerQueries",
                "is for KEDA ScaledObjects and is ignored",
            ));
        }
    }
}

fn check_service(spec: &CanarySpec, out: &mut Vec<Problem>) {
    let Some(service) = &spec.service else {
        out.push(Problem::error(
            "spec.service",
            "required: at least spec.service.port, the port of the generated Services",
        ));
        return;
    };
    let apex_field = if service.name.as_deref().is_some_and(|n| !n.is_empty()) {
        "spec.service.name"
    } else {
        "spec.targetRef.name"
    };
    // An empty target name is reported on its own; it names no Service yet.
    if (!spec.target_ref.name.is_empty() || apex_field == "spec.service.name")
        && let Err(e) = names::dns_label(spec.apex_name(), MAX_APEX_LEN)
    {
        out.push(Problem::error(
            apex_field,
            format!("{e} (it names the Services {apex}, {apex}-primary and {apex}-canary)", apex = spec.apex_name()),
        ));
    }
    if !(1..=65535).contains(&service.port) {
        out.push(Problem::error(
            "spec.service.port",
            format!("must be a port number from 1 to 65535, got {}", service.port),
        ));
    }
    if let Some(name) = &service.port_name
        && let Err(e) = names::dns_label(name, 63)
    {
        out.push(Problem::error("spec.service.portName", e));
    }
    match &service.target_port {
        Some(IntOrString::Int(port)) if !(1..=65535).contains(port) => {
            out.push(Problem::error(
                "spec.service.targetPort",
                format!("must be a port number from 1 to 65535 or a port name, got {port}"),
            ));
        }
        Some(IntOrString::String(name)) => {
            if let Err(e) = names::port_name(name) {
                out.push(Problem::error("spec.service.targetPort", e));
            }
        }
        _ => {}
    }
    if service.delegation == Some(true) && (service.hosts.is_some() || service.gateways.is_some()) {
        out.push(Problem::error(
            "spec.service.delegation",
            "a delegate VirtualService has no hosts and no gateways; remove them or delegation",
        ));
    }
    for (field, value) in [
        ("spec.service.timeout", service.timeout.as_deref()),
        ("spec.service.retries.perTryTimeout", service.retries.as_ref().and_then(|r| r.per_try_timeout.as_deref())),
        ("spec.service.corsPolicy.maxAge", service.cors_policy.as_ref().and_then(|c| c.max_age.as_deref())),
    ] {
        if let Some(Err(e)) = value.map(parse_go_duration) {
            out.push(Problem::error(field, e));
        }
    }
    if let Some(matches) = &service.r#match {
        check_matches("spec.service.match", matches, out);
    }
    if let Some(origins) = service.cors_policy.as_ref().and_then(|c| c.allow_origins.as_ref()) {
        for (i, origin) in origins.iter().enumerate() {
            check_string_match(&format!("spec.service.corsPolicy.allowOrigins[{i}]"), origin, out);
        }
    }
    for (field, set) in [
        ("spec.service.backendTimeout", service.backend_timeout.is_some()),
        ("spec.service.gatewayRefs", service.gateway_refs.is_some()),
        ("spec.service.mirror", service.mirror.is_some()),
    ] {
        if set {
            out.push(Problem::warning(field, "is for Flagger's Gateway API provider and is ignored with Istio"));
        }
    }
    for (field, set) in
        [("spec.service.meshName", service.mesh_name.is_some()), ("spec.service.backends", service.backends.is_some())]
    {
        if set {
            out.push(Problem::warning(field, "is for Flagger's App Mesh provider and is ignored with Istio"));
        }
    }
    if service.rewrite.as_ref().is_some_and(|r| r.r#type.is_some()) {
        out.push(Problem::warning(
            "spec.service.rewrite.type",
            "is for Flagger's Gateway API provider and is ignored with Istio",
        ));
    }
    check_unmanaged(service, out);
}

/// `unmanagedMetadata` keys Fledge cannot leave to others, and custom metadata it will not
/// write because its key is listed there.
fn check_unmanaged(service: &CanaryService, out: &mut Vec<Problem>) {
    let Some(unmanaged) = &service.unmanaged_metadata else { return };
    let lists = [("labels", unmanaged.labels.as_deref()), ("annotations", unmanaged.annotations.as_deref())];
    for (kind, keys) in lists {
        for (i, key) in keys.unwrap_or_default().iter().enumerate() {
            if key.trim().starts_with(FLEDGE_PREFIX) {
                out.push(Problem::warning(
                    format!("spec.service.unmanagedMetadata.{kind}[{i}]"),
                    format!("{key} is Fledge's own bookkeeping and stays managed by Fledge; remove it from the list"),
                ));
            }
        }
    }
    for (object, custom) in [("apex", &service.apex), ("primary", &service.primary), ("canary", &service.canary)] {
        let Some(custom) = custom else { continue };
        for (kind, given) in [("labels", &custom.labels), ("annotations", &custom.annotations)] {
            let listed = lists.iter().find(|(k, _)| *k == kind).and_then(|(_, keys)| *keys).unwrap_or_default();
            for key in given.iter().flat_map(|m| m.keys()).filter(|k| listed.iter().any(|l| l.trim() == k.as_str())) {
                out.push(Problem::warning(
                    format!("spec.service.{object}.{kind}[{key}]"),
                    format!("is listed in spec.service.unmanagedMetadata.{kind}, so Fledge does not write it"),
                ));
            }
        }
    }
}

/// Checks Istio request matches: one alternative per string match, valid regular expressions.
pub(super) fn check_matches(field: &str, matches: &[HttpMatchRequest], out: &mut Vec<Problem>) {
    for (i, m) in matches.iter().enumerate() {
        for (name, sm) in m.string_matches() {
            check_string_match(&format!("{field}[{i}].{name}"), sm, out);
        }
    }
}

fn check_string_match(field: &str, sm: &crate::istio::StringMatch, out: &mut Vec<Problem>) {
    if sm.set_count() > 1 {
        out.push(Problem::error(field, format!("set one of exact, prefix, suffix or regex, not {}", sm.set_count())));
    }
    if let Some(Err(e)) = sm.regex.as_deref().map(names::re2) {
        out.push(Problem::error(format!("{field}.regex"), e));
    }
}
