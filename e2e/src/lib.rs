//! Fledge's end-to-end tests and the `fledge-sandbox` demo: the real `fledge controller`
//! started as a child process against a [`fledge_sandbox_cluster::Sandbox`], and the demo's
//! scenario. The tests are under `tests/`, the benchmarks under `benches/`.

pub mod controller;
pub mod demo;
