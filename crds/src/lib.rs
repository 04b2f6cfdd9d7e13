//! The fledge.dev API: the Rust types users write (`Canary`, `MetricTemplate`,
//! `AlertProvider`), the Istio objects Fledge reads and writes, the CRDs generated from them,
//! and the pure validation of a spec. No I/O.

pub mod address;
pub mod alert_provider;
pub mod canary;
pub mod generate;
pub mod istio;
pub mod manifest;
pub mod metric_template;
pub mod schedule;
mod schema;
pub mod validate;

pub use alert_provider::{AlertProvider, AlertProviderSpec, AlertProviderType};
pub use canary::{Canary, CanarySpec, CanaryStatus, Phase};
pub use metric_template::{MetricTemplate, MetricTemplateSpec};
pub use validate::{Catalog, Problem, Severity, validate_canary};

/// The API group of every Fledge kind.
pub const GROUP: &str = "fledge.dev";
/// The one served and stored version.
pub const VERSION: &str = "v1beta1";
/// `apiVersion` of every Fledge object.
pub const API_VERSION: &str = "fledge.dev/v1beta1";

/// Annotation asking Fledge to promote the current canary now, skipping remaining steps and gates.
pub const ANNOTATION_PROMOTE: &str = "fledge.dev/promote";
/// Annotation asking Fledge to roll back now; the canary ends Failed with reason Aborted.
pub const ANNOTATION_ABORT: &str = "fledge.dev/abort";
/// Annotation asking Fledge to analyse the current revision again after a failure.
pub const ANNOTATION_RETRY: &str = "fledge.dev/retry";
