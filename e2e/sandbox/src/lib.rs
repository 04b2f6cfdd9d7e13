//! The Fledge sandbox cluster: a small Kubernetes cluster in one process, for the demo and every
//! end-to-end test. The API server ([`fledge_apiserver`]) that kube-rs and kubectl talk to over
//! HTTP, with loops beside it that play kube-controller-manager and kubelet ([`workloads`]) and
//! an Istio mesh ([`mesh`]) that routes simulated traffic by the VirtualServices Fledge writes
//! and reports it as Istio metrics and Envoy access logs; [`Sandbox`] starts and stops them
//! together. Beside it, what a test points Fledge at: a [`loki`] stand-in over the pods' logs
//! and a real [`prometheus`] scraping the mesh.
//!
//! The simulations are pure; [`Sandbox`], [`loki`] and [`prometheus`] do I/O.

mod kubeconfig;
pub mod loki;
pub mod mesh;
pub mod prometheus;
mod sandbox;
pub mod workloads;

pub use sandbox::{Options, Sandbox};
