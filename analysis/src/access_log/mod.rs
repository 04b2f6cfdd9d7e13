//! Envoy access logs of the `istio-proxy` container turned into per-version numbers: requests,
//! errors (5xx or an error response flag) and latencies. Pure: the caller reads the log (pod log
//! API, Loki) and feeds the bytes in.
//!
//! [`parse`] reads one line in either of Istio's default formats.

pub mod parse;

pub use parse::{Format, Malformed, Request};
