//! The Fledge sandbox: a small Kubernetes cluster in one process, for the demo and every
//! end-to-end test. An API server that kube-rs and kubectl talk to over HTTP, a simulator for
//! Deployments and Pods, and an Istio mesh that routes simulated traffic by the
//! VirtualServices Fledge writes and reports it as Istio metrics and Envoy access logs.

pub mod controller;
pub mod demo;
pub mod kubeconfig;
pub mod loki;
pub mod mesh;
pub mod prometheus;
pub mod sandbox;
pub mod workloads;
