//! The `fledge controller` process: [`controller`] builds the kube client and runs the kube-runtime
//! controller, [`leader`] elects one replica to act, [`server`] serves `/metrics`, `/healthz`
//! and `/readyz`, and [`telemetry`] holds the process's metrics. [`preflight`] is
//! `fledge preflight`, which checks that a cluster has what the process needs.

pub mod controller;
pub mod leader;
pub mod preflight;
pub mod server;
pub mod telemetry;
