//! The Istio objects Fledge writes and reads (`networking.istio.io/v1beta1` VirtualService and
//! DestinationRule) and the route options a Canary carries into them.
//!
//! Istio owns these schemas (its CRDs are installed with Istio), so no CRD is generated here.
//! Every struct keeps the fields Fledge does not know in `extra`, so a read-modify-write never
//! drops what another owner set.

mod options;

pub use options::{
    CorsPolicy, HeaderOperations, Headers, HttpMatchRequest, HttpRetry, HttpRewrite, RegexRewrite, StringMatch,
};

use kube::CustomResource;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Fields of an Istio object that Fledge does not interpret, kept as they are.
pub type Extra = BTreeMap<String, Value>;

/// Routing rules for a set of hosts.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "networking.istio.io",
    version = "v1beta1",
    kind = "VirtualService",
    namespaced,
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualServiceSpec {
    /// Destination hosts the rules apply to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Gateways (and `mesh`) the rules apply to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    /// HTTP routes, tried in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpRoute>,
    /// TCP routes, tried in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tcp: Vec<TcpRoute>,
    /// Everything else (tls, exportTo, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One HTTP route of a VirtualService.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct HttpRoute {
    /// Name of the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Conditions for the route (any one matches); see [`HttpMatchRequest`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#match: Vec<Value>,
    /// Weighted destinations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<HttpRouteDestination>,
    /// Where requests are copied; responses of the copy are discarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Destination>,
    /// Share of requests copied to `mirror`, in percent (100 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_percentage: Option<Percent>,
    /// Everything else (rewrite, retries, timeout, headers, corsPolicy, fault, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A destination with its share of the traffic.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteDestination {
    /// Where requests go.
    pub destination: Destination,
    /// Percentage of requests; the weights of a route sum to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
    /// Everything else (headers, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Service (and optionally a subset and port) in the mesh.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    /// Service name, short or fully qualified.
    pub host: String,
    /// Subset of a DestinationRule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    /// Port of the Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
}

/// A Service port.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct PortSelector {
    /// Port number.
    pub number: u32,
}

/// A percentage, as Istio writes it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Percent {
    /// Value in [0, 100].
    pub value: f64,
}

/// One TCP route of a VirtualService.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TcpRoute {
    /// L4 match conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#match: Vec<Value>,
    /// Weighted destinations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteDestination>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A weighted L4 destination.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct RouteDestination {
    /// Where connections go.
    pub destination: Destination,
    /// Percentage of connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// Policies applied to traffic for a Service after routing.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "networking.istio.io",
    version = "v1beta1",
    kind = "DestinationRule",
    namespaced,
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct DestinationRuleSpec {
    /// The Service the rule applies to.
    pub host: String,
    /// Load balancing, connection pool, outlier detection and TLS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_policy: Option<Value>,
    /// Named subsets of the Service's endpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<Value>,
    /// Everything else (exportTo, workloadSelector, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_survive_a_read_modify_write() {
        let written = serde_json::json!({
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "VirtualService",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "hosts": ["podinfo"],
                "exportTo": ["."],
                "http": [{
                    "name": "main",
                    "match": [{"uri": {"prefix": "/api"}, "statPrefix": "api"}],
                    "fault": {"delay": {"fixedDelay": "1s", "percentage": {"value": 1}}},
                    "route": [
                        {"destination": {"host": "podinfo-primary", "port": {"number": 9898}}, "weight": 90,
                         "headers": {"response": {"set": {"x-version": "primary"}}}},
                        {"destination": {"host": "podinfo-canary"}, "weight": 10}
                    ]
                }]
            }
        });
        let mut vs: VirtualService = serde_json::from_value(written.clone()).unwrap();
        vs.spec.http[0].route[0].weight = Some(80);
        vs.spec.http[0].route[1].weight = Some(20);

        let mut expected = written;
        expected["spec"]["http"][0]["route"][0]["weight"] = 80.into();
        expected["spec"]["http"][0]["route"][1]["weight"] = 20.into();
        assert_eq!(serde_json::to_value(&vs).unwrap(), expected);
    }

    #[test]
    fn suffix_is_written_as_an_escaped_regex() {
        let m = StringMatch { suffix: Some(".example.com".into()), ..Default::default() };
        assert_eq!(m.to_istio(), StringMatch { regex: Some(r".*\.example\.com".into()), ..Default::default() });
    }
}
