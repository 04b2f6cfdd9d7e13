//! The simulated Istio mesh: load generators, routing, per-version behaviour, metrics and access logs.
