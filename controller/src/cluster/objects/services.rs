//! The three ClusterIP Services of a Canary: the apex (what clients call) and `-primary`, both
//! selecting the primary's pods, and `-canary`, selecting the target's pods. No I/O.

use super::{Names, ObjectError, PRIMARY_SUFFIX, non_empty, owned_meta};
use fledge_crds::canary::{Canary, CanaryService, CustomMetadata, TrafficDistribution};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// Containers of a service mesh whose ports are the proxy's, not the application's (Flagger's
/// list); port discovery skips them.
const PROXY_CONTAINERS: [&str; 2] = ["istio-proxy", "envoy"];

/// The Services `[<apex>, <apex>-primary, <apex>-canary]`, complete for server-side apply.
///
/// `selector` is the target's selector label ([`selector_label`](super::selector_label)): the
/// apex and primary Services select its value suffixed `-primary`, the canary Service the value
/// itself. Each Service carries the label `<selector key>: <service name>` (as Flagger) and the
/// labels and annotations of `spec.service.apex`, `.primary` or `.canary`.
pub fn services(
    canary: &Canary,
    selector: &(String, String),
    target: &Deployment,
) -> Result<Vec<Service>, ObjectError> {
    let svc = canary.spec.service.as_ref().ok_or(ObjectError::MissingService)?;
    if !(1..=65535).contains(&svc.port) {
        return Err(ObjectError::InvalidPort(svc.port));
    }
    let names = Names::of(canary);
    let ports = ports(svc, target);
    let (key, value) = selector;
    let primary_value = format!("{value}{PRIMARY_SUFFIX}");
    let service = |name: &str, selects: &str, custom: Option<&CustomMetadata>| {
        let mut labels = custom.and_then(|c| c.labels.clone()).unwrap_or_default();
        // Set after the custom labels so they cannot take the key away from the Service's name.
        labels.insert(key.clone(), name.to_owned());
        let mut metadata = owned_meta(canary, name);
        metadata.labels = Some(labels);
        metadata.annotations = custom.and_then(|c| c.annotations.clone()).and_then(non_empty);
        Service {
            metadata,
            spec: Some(ServiceSpec {
                type_: Some("ClusterIP".to_owned()),
                cluster_ip: (svc.headless == Some(true)).then(|| "None".to_owned()),
                selector: Some(BTreeMap::from([(key.clone(), selects.to_owned())])),
                ports: Some(ports.clone()),
                traffic_distribution: svc.traffic_distribution.map(|t| traffic_distribution(t).to_owned()),
                ..ServiceSpec::default()
            }),
            status: None,
        }
    };
    Ok(vec![
        service(&names.apex, &primary_value, svc.apex.as_ref()),
        service(&names.primary_service, &primary_value, svc.primary.as_ref()),
        service(&names.canary_service, value, svc.canary.as_ref()),
    ])
}

/// The main port, then with `portDiscovery` every other container port of the target.
fn ports(svc: &CanaryService, target: &Deployment) -> Vec<ServicePort> {
    let target_port = svc.target_port.clone().unwrap_or(IntOrString::Int(svc.port));
    let mut ports = vec![ServicePort {
        name: Some(svc.port_name().to_owned()),
        port: svc.port,
        target_port: Some(target_port.clone()),
        app_protocol: svc.app_protocol.clone().filter(|p| !p.is_empty()),
        protocol: Some("TCP".to_owned()),
        node_port: None,
    }];
    if svc.port_discovery != Some(true) {
        return ports;
    }
    let pod = target.spec.as_ref().and_then(|s| s.template.spec.as_ref());
    let containers = pod.map(|p| p.containers.as_slice()).unwrap_or_default();
    for container in containers.iter().filter(|c| !PROXY_CONTAINERS.contains(&c.name.as_str())) {
        for cp in container.ports.iter().flatten() {
            let is_main = match &target_port {
                IntOrString::Int(n) => cp.container_port == *n,
                IntOrString::String(name) => cp.name.as_deref() == Some(name.as_str()),
            };
            let name =
                cp.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| format!("tcp-{}", cp.container_port));
            let protocol = cp.protocol.clone().unwrap_or_else(|| "TCP".to_owned());
            // A Service rejects two ports with one name, or one number and protocol; the first
            // container to declare a port wins, as the main port always does.
            let taken = ports.iter().any(|p| {
                p.name.as_deref() == Some(name.as_str())
                    || (p.port == cp.container_port && p.protocol.as_deref() == Some(protocol.as_str()))
            });
            if is_main || taken {
                continue;
            }
            ports.push(ServicePort {
                name: Some(name),
                port: cp.container_port,
                target_port: Some(IntOrString::Int(cp.container_port)),
                protocol: Some(protocol),
                ..ServicePort::default()
            });
        }
    }
    ports
}

/// The Service API's spelling of a traffic distribution.
fn traffic_distribution(t: TrafficDistribution) -> &'static str {
    match t {
        TrafficDistribution::PreferClose => "PreferClose",
        TrafficDistribution::PreferSameZone => "PreferSameZone",
        TrafficDistribution::PreferSameNode => "PreferSameNode",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::fixtures::*;
    use crate::cluster::objects::selector_label;
    use serde_json::{Value, json};

    fn services_json(canary: &Canary) -> Vec<Value> {
        let target = podinfo_deployment();
        let selector = selector_label(&target, &crate::cluster::rules::SelectorLabels::default()).unwrap();
        services(canary, &selector, &target).unwrap().into_iter().map(|s| serde_json::to_value(s).unwrap()).collect()
    }

    #[test]
    fn apex_and_primary_select_the_primary_pods_and_canary_the_target_pods() {
        let all = services_json(&podinfo_canary());
        let names: Vec<_> = all.iter().map(|s| s["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["podinfo", "podinfo-primary", "podinfo-canary"]);
        assert_eq!(all[0]["spec"]["selector"], json!({"app": "podinfo-primary"}));
        assert_eq!(all[1]["spec"]["selector"], json!({"app": "podinfo-primary"}));
        assert_eq!(all[2]["spec"]["selector"], json!({"app": "podinfo"}));
        for s in &all {
            assert_eq!(s["apiVersion"], "v1");
            assert_eq!(s["kind"], "Service");
            assert_eq!(s["metadata"]["namespace"], "test");
            assert_eq!(s["metadata"]["ownerReferences"][0]["kind"], "Canary");
            assert_eq!(s["metadata"]["labels"]["app"], s["metadata"]["name"]);
            assert_eq!(s["spec"]["type"], "ClusterIP");
            assert_eq!(s["spec"].get("clusterIP"), None);
            assert_eq!(s.get("status"), None);
            assert_eq!(
                s["spec"]["ports"],
                json!([{"name": "http", "port": 9898, "targetPort": 9898, "protocol": "TCP"}])
            );
        }
    }

    #[test]
    fn port_settings_and_custom_metadata() {
        let canary = mk_canary(
            "
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service:
    port: 80
    portName: web
    targetPort: http
    appProtocol: http
    headless: true
    trafficDistribution: PreferClose
    apex: {labels: {exposed: 'yes', app: ignored}, annotations: {note: apex}}
    canary: {annotations: {note: canary}}
  analysis: {stepWeight: 10}
",
        );
        let all = services_json(&canary);
        assert_eq!(
            all[0]["spec"]["ports"],
            json!([{"name": "web", "port": 80, "targetPort": "http", "appProtocol": "http", "protocol": "TCP"}])
        );
        assert_eq!(all[0]["spec"]["clusterIP"], "None");
        assert_eq!(all[0]["spec"]["trafficDistribution"], "PreferClose");
        assert_eq!(all[0]["metadata"]["labels"], json!({"app": "podinfo", "exposed": "yes"}));
        assert_eq!(all[0]["metadata"]["annotations"], json!({"note": "apex"}));
        assert_eq!(all[1]["metadata"]["labels"], json!({"app": "podinfo-primary"}));
        assert_eq!(all[1]["metadata"].get("annotations"), None);
        assert_eq!(all[2]["metadata"]["annotations"], json!({"note": "canary"}));
    }

    #[test]
    fn port_discovery_adds_the_other_container_ports() {
        let canary = mk_canary(
            "
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898, portDiscovery: true}
  analysis: {stepWeight: 10}
",
        );
        let all = services_json(&canary);
        let expected = json!([
            {"name": "http", "port": 9898, "targetPort": 9898, "protocol": "TCP"},
            {"name": "http-metrics", "port": 9797, "targetPort": 9797, "protocol": "TCP"},
            {"name": "tcp-9999", "port": 9999, "targetPort": 9999, "protocol": "UDP"}
        ]);
        for s in &all {
            assert_eq!(s["spec"]["ports"], expected, "the istio-proxy port is not the app's");
        }
    }

    #[test]
    fn port_discovery_skips_the_main_port_by_target_port_name() {
        let canary = mk_canary(
            "
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 80, targetPort: http, portDiscovery: true}
  analysis: {stepWeight: 10}
",
        );
        let ports = &services_json(&canary)[0]["spec"]["ports"];
        let names: Vec<_> = ports.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["http", "http-metrics", "tcp-9999"]);
    }

    #[test]
    fn service_is_required() {
        let mut canary = podinfo_canary();
        canary.spec.service = None;
        let target = podinfo_deployment();
        let selector = selector_label(&target, &crate::cluster::rules::SelectorLabels::default()).unwrap();
        assert_eq!(services(&canary, &selector, &target), Err(ObjectError::MissingService));
    }
}
