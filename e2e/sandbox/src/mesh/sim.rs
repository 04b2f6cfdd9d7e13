//! The mesh over time: [`Mesh::tick`] plays the load generators' requests of a time slice, [`Mesh::send`] one
//! request; both route, answer and report as Istio would, and the metrics accumulate in the [`Mesh`].

use super::Snapshot;
use super::cookies::Jar;
use super::exchange::{self, Ctx};
use super::flags::Flag;
use super::headers::ResponseHeaders;
use super::load::{self, LoadSpec};
use super::router::{Request, RouteTable, SendError};
use super::telemetry::Metrics;
use super::workload::Workload;
use k8s_openapi::api::core::v1::Pod;
use rand::Rng;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// The `user-agent` of load generator requests: Flagger's load tester runs `hey`.
const LOAD_USER_AGENT: &str = "hey/0.0.1";

/// A pod by namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// One line written to a container's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The container: `istio-proxy`.
    pub container: String,
    /// When the line was written (the request's end).
    pub time: SystemTime,
    /// The line, without a trailing newline.
    pub line: String,
}

/// The copy of a mirrored request, whose answer nobody receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirrored {
    /// The pod that got the copy.
    pub pod: PodRef,
    /// What it answered (discarded).
    pub status: u16,
}

/// What happened to one request, as its sender saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The HTTP status the sender got.
    pub status: u16,
    /// The sender's sidecar's response flag: `NR`, `NC` or `UH` when it answered itself, `URX` when retries ran out.
    pub response_flags: Option<Flag>,
    /// The pod whose answer the sender got; `None` when the sidecar answered itself.
    pub served_by: Option<PodRef>,
    /// Attempts sent upstream (retries included).
    pub attempts: u32,
    /// FQDN of the Service the authority resolved to.
    pub service: String,
    /// `<namespace>/<name>` of the VirtualService that routed the request, if one did.
    pub virtual_service: Option<String>,
    /// FQDN of the Service the request was forwarded to, if it was.
    pub destination: Option<String>,
    /// The mirror copy, when one was made.
    pub mirror: Option<Mirrored>,
    /// Milliseconds until the sender had its answer.
    pub duration_ms: u64,
    /// The response headers the sender got from the mesh: those the VirtualService's `headers.response` added
    /// (the simulated applications send none of their own), lower-case names in order, e.g. `set-cookie`.
    pub response_headers: ResponseHeaders,
    /// The access log lines the request caused, in every sidecar on its way.
    pub logs: Vec<LogLine>,
}

/// The simulated mesh: its metrics, compiled routes and the load generators' progress.
#[derive(Debug, Default)]
pub struct Mesh {
    metrics: Metrics,
    routes: RouteTable,
    /// Requests owed to each load target (pod and line) but not yet sent, below one.
    carry: BTreeMap<(PodRef, usize), f64>,
    /// The cookies of each `jar` load target, with the target they belong to: a changed line starts afresh.
    jars: BTreeMap<(PodRef, usize), (LoadSpec, Jar)>,
    problems: BTreeMap<String, String>,
}

impl Mesh {
    /// A mesh with no traffic yet.
    #[cfg(test)]
    pub fn new() -> Self {
        Self::default()
    }

    /// The metrics of every sidecar since the start.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Problems met in the last [`tick`](Self::tick) or [`send`](Self::send), by object (e.g. `Pod test/x`): bad
    /// annotations, VirtualServices Istio would reject, hosts that do not resolve.
    #[cfg(test)]
    pub fn problems(&self) -> &BTreeMap<String, String> {
        &self.problems
    }

    /// Plays every load generator's requests from `from` to `to` (each generating pod at `rps` × seconds,
    /// fractions carried to the next tick) and returns the access log lines written, in time order.
    pub fn tick(&mut self, snapshot: &Snapshot, from: SystemTime, to: SystemTime, rng: &mut impl Rng) -> Vec<LogLine> {
        self.begin(snapshot);
        let seconds = to.duration_since(from).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let mut generators: Vec<&Pod> = snapshot.pods.iter().filter(|p| load::is_generating(p)).collect();
        generators.sort_by_key(|p| (p.metadata.namespace.clone(), p.metadata.name.clone()));
        let mut carry = BTreeMap::new();
        let mut jars = BTreeMap::new();
        let mut logs = Vec::new();
        for pod in generators {
            let source = Workload::of_pod(pod);
            let at = PodRef { namespace: source.namespace.clone(), name: source.pod.clone() };
            let specs = match load::of_pod(pod) {
                Ok(specs) => specs,
                Err(e) => {
                    self.problems.insert(format!("Pod {}/{}", at.namespace, at.name), e.to_string());
                    continue;
                }
            };
            for (i, spec) in specs.iter().enumerate() {
                let key = (at.clone(), i);
                let owed = self.carry.get(&key).copied().unwrap_or(0.0) + spec.rps * seconds;
                // The epsilon keeps float error from losing a request that is owed in full.
                let count = (owed + 1e-9).floor();
                carry.insert(key.clone(), (owed - count).max(0.0));
                let count = count as u64;
                let mut jar = spec.jar.then(|| match self.jars.remove(&key) {
                    Some((old, jar)) if old == *spec => jar,
                    _ => Jar::new(),
                });
                for n in 0..count {
                    // Spread evenly over the slice, with jitter, so requests keep their order.
                    let offset = seconds * (n as f64 + rng.random::<f64>()) / count as f64;
                    let start = from + std::time::Duration::from_secs_f64(offset);
                    let req = load_request(&source, spec, jar.as_ref(), start, rng);
                    match self.exchange(snapshot, &req, start, rng) {
                        Ok(outcome) => {
                            if let Some(jar) = jar.as_mut() {
                                // The browser takes the cookies in when the answer arrives.
                                let arrived = start + std::time::Duration::from_millis(outcome.duration_ms);
                                for (_, value) in outcome.response_headers.iter().filter(|(n, _)| n == "set-cookie") {
                                    jar.store(value, arrived);
                                }
                            }
                            logs.extend(outcome.logs);
                        }
                        Err(e) => {
                            self.problems.insert(format!("Pod {}/{}", at.namespace, at.name), e.to_string());
                        }
                    }
                }
                if let Some(jar) = jar {
                    jars.insert(key, (spec.clone(), jar));
                }
            }
        }
        // Pods that stopped generating forget what they owed, and their cookies.
        self.carry = carry;
        self.jars = jars;
        logs.sort_by_key(|l| l.time);
        logs
    }

    /// Sends one request at `at`: what its sender sees, with the log lines it caused; metrics are recorded too.
    #[cfg(test)]
    pub fn send(
        &mut self,
        snapshot: &Snapshot,
        request: &Request,
        at: SystemTime,
        rng: &mut impl Rng,
    ) -> Result<Outcome, SendError> {
        self.begin(snapshot);
        self.exchange(snapshot, request, at, rng)
    }

    /// Starts a call: compiles changed VirtualServices and restarts the problem list.
    fn begin(&mut self, snapshot: &Snapshot) {
        self.problems = self.routes.refresh(&snapshot.virtual_services).into_iter().collect();
        self.problems.extend(self.routes.dangling(&snapshot.services));
    }

    fn exchange(
        &mut self,
        snapshot: &Snapshot,
        req: &Request,
        at: SystemTime,
        rng: &mut impl Rng,
    ) -> Result<Outcome, SendError> {
        let mut ctx = Ctx { snapshot, routes: &self.routes, metrics: &mut self.metrics, problems: &mut self.problems };
        exchange::exchange(&mut ctx, req, at, rng)
    }
}

/// One request of a load target sent at `now`; the share carrying headers and cookies is drawn per request, and
/// a jar's cookies go with every request.
fn load_request(source: &Workload, spec: &LoadSpec, jar: Option<&Jar>, now: SystemTime, rng: &mut impl Rng) -> Request {
    let mut req = Request::new(source.clone(), &spec.authority, &spec.path).with_header("user-agent", LOAD_USER_AGENT);
    req.method = spec.method.clone();
    let carries = (!spec.headers.is_empty() || !spec.cookies.is_empty()) && rng.random_bool(spec.share);
    if carries {
        for (name, value) in &spec.headers {
            req.headers.insert(name.clone(), value.clone());
        }
    }
    let fixed = if carries { spec.cookies.as_slice() } else { &[] };
    let cookie = match jar {
        Some(jar) => jar.header(fixed, now),
        None => spec.cookie_header().filter(|_| carries),
    };
    if let Some(cookie) = cookie {
        req.headers.insert("cookie".into(), cookie);
    }
    req
}
