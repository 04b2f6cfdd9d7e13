//! Scenario tests of the whole mesh with Flagger's podinfo setup and seeded RNGs.

mod affinity;
mod exposition;
mod routing;
mod traffic;

use super::Snapshot;
use super::fixtures;
use super::router::Request;
use super::sim::{Mesh, Outcome};
use super::workload::Workload;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A fixed start of time.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// The load tester of the snapshot as a request source.
fn tester(snapshot: &Snapshot) -> Workload {
    let pod =
        snapshot.pods.iter().find(|p| p.metadata.name.as_deref().is_some_and(|n| n.starts_with("flagger-loadtester")));
    Workload::of_pod(pod.expect("the snapshot has a load tester"))
}

/// A GET of `/` from the load tester to `authority` with `headers`.
fn get(snapshot: &Snapshot, authority: &str, headers: &[(&str, &str)]) -> Request {
    headers.iter().fold(Request::new(tester(snapshot), authority, "/"), |r, (k, v)| r.with_header(k, v))
}

/// Sends `req`, which must get an HTTP answer.
fn send(mesh: &mut Mesh, snapshot: &Snapshot, req: &Request, rng: &mut StdRng) -> Outcome {
    mesh.send(snapshot, req, t0(), rng).expect("the request gets an answer")
}

/// Which podinfo Deployment answered: `primary`, `canary`, or `none`.
fn version(outcome: &Outcome) -> &'static str {
    match &outcome.served_by {
        Some(p) if p.name.starts_with("podinfo-primary-") => "primary",
        Some(p) if p.name.starts_with("podinfo-") => "canary",
        Some(_) => "other",
        None => "none",
    }
}

/// Flagger's podinfo with a VirtualService `podinfo` of the given http routes.
fn podinfo_with(http: serde_json::Value) -> Snapshot {
    let mut snapshot = fixtures::podinfo();
    snapshot.virtual_services.push(fixtures::podinfo_vs(http));
    snapshot
}
