//! Envoy access logs of the `istio-proxy` container turned into per-version numbers: requests,
//! errors (5xx or an error response flag) and latencies of the HTTP requests to the workload,
//! the traffic Prometheus counts with `reporter="destination"`; the sidecar's outbound requests
//! and TCP connections are counted apart. Pure: the caller reads the log (pod log API, Loki) and
//! feeds the bytes in; nothing here does I/O except [`read_all`] over a reader it is handed.
//!
//! [`parse`] reads one line in either of Istio's default formats; [`tally`] counts lines as they
//! stream by, in memory bounded by the latency histogram, never by the number of lines.

pub mod parse;
pub mod tally;

pub use parse::{Format, Malformed, Protocol, Request};
pub use tally::{Aggregator, MAX_LINE_BYTES, Tally, read_all};
