//! The Kubernetes side of a reconcile: [`observe`] reads the Canary's world, [`reconcile`]
//! asks the core ([`fledge_core::decide`]) what to do and runs the checks it needs, [`act`]
//! writes the objects Fledge owns ([`objects`] builds them), [`takeover`] and [`revert`]
//! handle VirtualServices that were not Fledge's and Canaries that are deleted. [`workload`],
//! [`revision`] and [`rules`] are pure readings of what was observed.

pub mod act;
pub mod objects;
pub mod observe;
pub mod reconcile;
pub mod revert;
pub mod revision;
pub mod rules;
pub mod takeover;
pub mod workload;
