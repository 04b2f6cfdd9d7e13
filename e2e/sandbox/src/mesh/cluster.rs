//! Kubernetes Services as a pod in the mesh sees them: DNS names, ports and ready endpoints.

use super::workload::{is_ready, is_terminating, made_up_ip};
use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The DNS suffix of Services.
pub const SERVICE_SUFFIX: &str = "svc.cluster.local";

/// The Service's fully qualified name, `<name>.<namespace>.svc.cluster.local`.
pub fn fqdn(service: &Service) -> String {
    format!("{}.{}.{SERVICE_SUFFIX}", name(service), namespace(service))
}

/// The Service's name.
pub fn name(service: &Service) -> &str {
    service.metadata.name.as_deref().unwrap_or("")
}

/// The Service's namespace.
pub fn namespace(service: &Service) -> &str {
    service.metadata.namespace.as_deref().unwrap_or("default")
}

/// The Service with fully qualified name `fqdn`, if any.
pub fn by_fqdn<'a>(services: &'a [Service], fqdn: &str) -> Option<&'a Service> {
    let rest = fqdn.strip_suffix(SERVICE_SUFFIX)?.strip_suffix('.')?;
    let (name, ns) = rest.split_once('.')?;
    if ns.contains('.') {
        return None;
    }
    services.iter().find(|s| self::name(s) == name && namespace(s) == ns)
}

/// Resolves `host` as a pod in `client_namespace` does through cluster DNS: a name is tried with the search path
/// `<ns>.svc.cluster.local`, `svc.cluster.local`, `cluster.local`, then as it is; so `podinfo`, `podinfo.test`,
/// `podinfo.test.svc` and `podinfo.test.svc.cluster.local` all find Service podinfo in namespace test. A
/// Service's cluster IP finds it too.
pub fn resolve<'a>(services: &'a [Service], host: &str, client_namespace: &str) -> Option<&'a Service> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    // A cluster IP needs no DNS; Istio's virtual host for the Service lists its IP among the domains.
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return services.iter().find(|s| cluster_ip(s) == host);
    }
    let candidates = [
        format!("{host}.{client_namespace}.{SERVICE_SUFFIX}"),
        format!("{host}.{SERVICE_SUFFIX}"),
        format!("{host}.cluster.local"),
        host.clone(),
    ];
    candidates.iter().find_map(|c| by_fqdn(services, c))
}

/// The Service's port numbered `number`.
pub fn port(service: &Service, number: u16) -> Option<&ServicePort> {
    ports(service).iter().find(|p| p.port == i32::from(number))
}

/// The Service's ports.
pub fn ports(service: &Service) -> &[ServicePort] {
    service.spec.as_ref().and_then(|s| s.ports.as_deref()).unwrap_or(&[])
}

/// The Service's cluster IP (a stable made-up one in 10.96.0.0/16 when it has none).
pub fn cluster_ip(service: &Service) -> String {
    let ip = service.spec.as_ref().and_then(|s| s.cluster_ip.clone());
    ip.filter(|ip| !ip.is_empty() && ip != "None")
        .unwrap_or_else(|| made_up_ip("10.96", &format!("{}/{}", namespace(service), name(service))))
}

/// The pods that back the Service, as its EndpointSlices list them ready: in its namespace, matching its
/// selector, `Ready` and not terminating. A Service without a selector has none.
pub fn endpoints<'a>(pods: &'a [Pod], service: &Service) -> Vec<&'a Pod> {
    let spec = service.spec.as_ref();
    if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
        return Vec::new();
    }
    let Some(selector) = spec.and_then(|s| s.selector.as_ref()).filter(|s| !s.is_empty()) else {
        return Vec::new();
    };
    pods.iter()
        .filter(|p| p.metadata.namespace.as_deref().unwrap_or("default") == namespace(service))
        .filter(|p| {
            let labels = p.metadata.labels.as_ref();
            selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .filter(|p| is_ready(p) && !is_terminating(p))
        .collect()
}

/// The port on `pod` that the Service port sends to: `targetPort` by number, or by the name of a container port,
/// else the Service port itself.
pub fn target_port(pod: &Pod, port: &ServicePort) -> u16 {
    let number = match &port.target_port {
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => pod
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port),
        None => None,
    };
    u16::try_from(number.unwrap_or(port.port)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{pod, service};
    use super::*;

    #[test]
    fn names_resolve_through_the_dns_search_path() {
        let services = vec![service("test", "podinfo", "podinfo", 9898), service("other", "podinfo", "x", 80)];
        for host in ["podinfo", "podinfo.test", "podinfo.test.svc", "podinfo.test.svc.cluster.local", "PODINFO.test."] {
            assert_eq!(resolve(&services, host, "test").map(namespace), Some("test"), "{host}");
        }
        assert_eq!(resolve(&services, "podinfo", "other").map(namespace), Some("other"));
        assert_eq!(resolve(&services, "podinfo", "third"), None);
        assert_eq!(resolve(&services, "podinfo.test.svc.cluster", "test"), None);
        assert_eq!(resolve(&services, "podinfo.nowhere", "test"), None);
        let ip = cluster_ip(&services[1]);
        assert_eq!(resolve(&services, &ip, "test").map(namespace), Some("other"));
        assert_eq!(resolve(&services, "10.0.0.1", "test"), None);
    }

    #[test]
    fn endpoints_are_ready_selected_pods_of_the_namespace() {
        let svc = service("test", "podinfo", "podinfo", 9898);
        let mut terminating = pod("test", "podinfo-1-c", "podinfo", true);
        terminating.metadata.deletion_timestamp = Some(k8s_openapi::jiff::Timestamp::UNIX_EPOCH.into());
        let pods = vec![
            pod("test", "podinfo-1-a", "podinfo", true),
            pod("test", "podinfo-1-b", "podinfo", false),
            terminating,
            pod("other", "podinfo-1-d", "podinfo", true),
            pod("test", "other-1-e", "other", true),
        ];
        let names: Vec<_> =
            endpoints(&pods, &svc).iter().map(|p| p.metadata.name.clone().unwrap_or_default()).collect();
        assert_eq!(names, ["podinfo-1-a"]);
    }

    #[test]
    fn a_named_target_port_is_looked_up_in_the_containers() {
        let svc = service("test", "podinfo", "podinfo", 9898);
        let mut port = ports(&svc)[0].clone();
        assert_eq!(target_port(&pod("test", "p", "podinfo", true), &port), 9898);
        port.target_port = Some(IntOrString::String("admin".into()));
        assert_eq!(target_port(&pod("test", "p", "podinfo", true), &port), 9999, "the fixture's admin port");
    }
}
