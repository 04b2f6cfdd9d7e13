//! The simulated Istio mesh: load generators, routing, per-version behaviour, metrics and access logs.
//!
//! Everything here is pure: a caller hands in a [`Snapshot`] of the cluster's objects, a clock value and an
//! RNG, and gets back what happened (log lines, an [`Outcome`]), while [`Mesh`] accumulates the Istio
//! metrics. Nothing does I/O or awaits, so the integration loop decides when time passes.
//!
//! How it fits together, per request: [`load`] turns annotated pods into requests (a `jar` target keeps its
//! cookies in a [`cookies::Jar`]), [`router`] routes each one the way an Istio sidecar does (host → Service →
//! VirtualService → destination → endpoint pod, with the route's header operations), [`behaviour`] lets the
//! chosen pod answer, and [`telemetry`] and [`access_log`] report it the way the sidecars would. [`sim`] drives
//! that for a slice of time.

mod access_log;
pub mod annotations;
mod behaviour;
mod cluster;
mod cookies;
mod exchange;
mod flags;
mod headers;
mod load;
mod matching;
mod retries;
mod router;
mod sim;
mod telemetry;
mod time_format;
mod workload;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

pub(crate) use sim::Mesh;

use fledge_crds::istio::VirtualService;
use k8s_openapi::api::core::v1::{Pod, Service};

/// The objects of the cluster the mesh reads, as they are at one moment.
///
/// Istio's control plane sees Pods, Services and VirtualServices of every namespace; the mesh sees the same.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every Pod, load generators and servers alike.
    pub pods: Vec<Pod>,
    /// Every Service.
    pub services: Vec<Service>,
    /// Every VirtualService (`networking.istio.io`).
    pub virtual_services: Vec<VirtualService>,
}
