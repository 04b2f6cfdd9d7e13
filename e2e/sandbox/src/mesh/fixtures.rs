//! Test objects shaped as the sandbox holds them: Flagger's podinfo setup (Services `podinfo`, `podinfo-primary`
//! and `podinfo-canary`, their pods) and a load tester.

use super::Snapshot;
use super::annotations::LOAD;
use fledge_crds::istio::VirtualService;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Pod, PodCondition, PodSpec, PodStatus, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

/// A pod labelled `app`, serving on container ports `http` (9898) and `admin` (9999), Running and Ready or not.
pub(super) fn pod(namespace: &str, name: &str, app: &str, ready: bool) -> Pod {
    let mut pod = Pod::default();
    pod.metadata.name = Some(name.into());
    pod.metadata.namespace = Some(namespace.into());
    pod.metadata.labels = Some([("app".to_owned(), app.to_owned())].into());
    let port = |name: &str, n| ContainerPort { name: Some(name.into()), container_port: n, ..Default::default() };
    pod.spec = Some(PodSpec {
        containers: vec![Container {
            name: "app".into(),
            ports: Some(vec![port("http", 9898), port("admin", 9999)]),
            ..Default::default()
        }],
        ..Default::default()
    });
    pod.status = Some(PodStatus {
        phase: Some("Running".into()),
        conditions: Some(vec![PodCondition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            ..Default::default()
        }]),
        ..Default::default()
    });
    pod
}

/// Pod number `n` of Deployment `deployment`, owned by its ReplicaSet as the workload simulator makes them.
pub(super) fn deployment_pod(namespace: &str, deployment: &str, app: &str, n: usize) -> Pod {
    let hash = "7d9f8b6c5";
    let mut pod = pod(namespace, &format!("{deployment}-{hash}-x{n:04}"), app, true);
    if let Some(labels) = pod.metadata.labels.as_mut() {
        labels.insert("pod-template-hash".into(), hash.into());
    }
    pod.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: format!("{deployment}-{hash}"),
        controller: Some(true),
        ..Default::default()
    }]);
    pod
}

/// A Service `name` selecting `app=<app>` on port `port` (named `http`, target 9898).
pub(super) fn service(namespace: &str, name: &str, app: &str, port: i32) -> Service {
    let mut service = Service::default();
    service.metadata.name = Some(name.into());
    service.metadata.namespace = Some(namespace.into());
    service.spec = Some(ServiceSpec {
        selector: Some([("app".to_owned(), app.to_owned())].into()),
        ports: Some(vec![ServicePort {
            name: Some("http".into()),
            port,
            target_port: Some(IntOrString::Int(9898)),
            ..Default::default()
        }]),
        ..Default::default()
    });
    service
}

/// A VirtualService from its JSON manifest.
pub(super) fn virtual_service(manifest: Value) -> VirtualService {
    serde_json::from_value(manifest).expect("a valid VirtualService manifest")
}

/// A VirtualService `podinfo` in namespace test for host `podinfo` with the given `http` routes.
pub(super) fn podinfo_vs(http: Value) -> VirtualService {
    virtual_service(serde_json::json!({
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {"hosts": ["podinfo"], "gateways": ["mesh"], "http": http}
    }))
}

/// `pod` with annotation `key` set to `value`.
pub(super) fn annotated(mut pod: Pod, key: &str, value: &str) -> Pod {
    pod.metadata.annotations.get_or_insert_default().insert(key.into(), value.into());
    pod
}

/// The load tester pod of namespace test, generating `load` when given.
pub(super) fn loadtester(load: Option<&str>) -> Pod {
    let pod = deployment_pod("test", "flagger-loadtester", "flagger-loadtester", 0);
    match load {
        Some(load) => annotated(pod, LOAD, load),
        None => pod,
    }
}

/// Flagger's podinfo in namespace test: two primary pods, one canary pod, the three Services and a load tester.
pub(super) fn podinfo() -> Snapshot {
    Snapshot {
        pods: vec![
            deployment_pod("test", "podinfo-primary", "podinfo-primary", 1),
            deployment_pod("test", "podinfo-primary", "podinfo-primary", 2),
            deployment_pod("test", "podinfo", "podinfo", 1),
            loadtester(None),
        ],
        services: vec![
            service("test", "podinfo", "podinfo-primary", 9898),
            service("test", "podinfo-primary", "podinfo-primary", 9898),
            service("test", "podinfo-canary", "podinfo", 9898),
        ],
        virtual_services: Vec::new(),
    }
}
