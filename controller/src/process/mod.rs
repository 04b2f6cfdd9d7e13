//! The `fledge controller` process: [`controller`] builds the kube client and runs the kube-runtime
//! controller, [`leader`] elects one replica to act, [`server`] serves `/metrics`, `/healthz`
//! and `/readyz`, and [`telemetry`] holds the process's metrics.

pub mod controller;
pub mod leader;
pub mod server;
pub mod telemetry;
