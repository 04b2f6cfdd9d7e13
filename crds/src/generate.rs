//! The CustomResourceDefinitions of the fledge.dev kinds, generated from the Rust types.
//! `fledge crds` prints them; `crds/yaml/` holds the committed copies, checked by a test.

use crate::{AlertProvider, Canary, MetricTemplate};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD Fledge serves, in a stable order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![Canary::crd(), MetricTemplate::crd(), AlertProvider::crd()]
}

/// One CRD as a YAML document.
pub fn to_yaml(crd: &CustomResourceDefinition) -> String {
    // Serializing a derived CRD cannot fail: it holds only strings, numbers, maps and lists.
    serde_norway::to_string(crd).expect("a CRD serializes to YAML")
}

/// All CRDs as one multi-document YAML stream, as `fledge crds` prints it.
pub fn all_yaml() -> String {
    crds().iter().map(|crd| format!("---\n{}", to_yaml(crd))).collect()
}

/// The file under `crds/yaml/` that holds a CRD: `<plural>.<group>.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or("unnamed"))
}
