//! The sandbox's Kubernetes API server.

pub mod patch;
pub mod schema;
