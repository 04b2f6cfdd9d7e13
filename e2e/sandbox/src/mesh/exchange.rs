//! One request end to end: routed by the sender's sidecar, its headers changed as the route says, answered by a
//! pod (with Istio's retries), copied to a mirror, and reported by every sidecar on the way as metrics and access
//! log lines; the response reaches the sender with the route's response headers.

use super::Snapshot;
use super::access_log::{Entry, Format};
use super::behaviour::{Answer, Behaviour};
use super::cluster;
use super::flags::Flag;
use super::retries::RetryPolicy;
use super::router::{Cluster, Decision, Forward, Request, RouteTable, Routed, SendError, pick_endpoint};
use super::sim::{LogLine, Mirrored, Outcome, PodRef};
use super::telemetry::{Metrics, Report, Reporter, ServiceLabels};
use super::workload::Workload;
use k8s_openapi::api::core::v1::Pod;
use rand::Rng;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// The container whose log carries the access log.
pub(super) const PROXY_CONTAINER: &str = "istio-proxy";
/// The protocol of every simulated request.
const PROTOCOL: &str = "HTTP/1.1";
/// The source address an inbound sidecar uses towards its application.
const INBOUND_PASSTHROUGH: &str = "127.0.0.6";

/// What one request may touch.
pub(super) struct Ctx<'a> {
    pub(super) snapshot: &'a Snapshot,
    pub(super) routes: &'a RouteTable,
    pub(super) metrics: &'a mut Metrics,
    /// Problems found on the way, by object.
    pub(super) problems: &'a mut BTreeMap<String, String>,
}

/// The parts of a request every log line shares.
struct Hop<'r> {
    req: &'r Request,
    request_id: String,
    /// The sender's address as the receiver sees it.
    remote: String,
}

impl Hop<'_> {
    fn entry(&self, start: SystemTime, authority: &str) -> Entry {
        Entry {
            start_time: start,
            method: self.req.method.clone(),
            path: self.req.path.clone(),
            protocol: PROTOCOL.into(),
            response_code: 0,
            response_flags: None,
            response_code_details: None,
            bytes_received: 0,
            bytes_sent: 0,
            duration_ms: 0,
            upstream_service_time_ms: None,
            x_forwarded_for: None,
            user_agent: self.req.headers.get("user-agent").cloned(),
            request_id: Some(self.request_id.clone()),
            authority: Some(authority.to_owned()),
            upstream_host: None,
            upstream_cluster: None,
            upstream_local_address: None,
            downstream_local_address: None,
            downstream_remote_address: Some(self.remote.clone()),
            requested_server_name: None,
            route_name: None,
        }
    }
}

/// Sends `req` at `at`.
pub(super) fn exchange(
    ctx: &mut Ctx<'_>,
    req: &Request,
    at: SystemTime,
    rng: &mut impl Rng,
) -> Result<Outcome, SendError> {
    let routed = ctx.routes.route(ctx.snapshot, req, rng)?;
    // A sidecar gives every request an id when the client did not.
    let request_id = req.headers.get("x-request-id").cloned().unwrap_or_else(|| uuid(rng));
    // The router changes the request's headers in place after matching, so every log line on the way (the
    // sender's included) and the mirror see the changed request.
    let upstream = (!routed.headers.is_empty()).then(|| {
        let mut upstream = req.clone();
        for m in &routed.headers {
            m.request.apply_to_request(&mut upstream.headers);
        }
        upstream
    });
    let req = upstream.as_ref().unwrap_or(req);
    let hop = Hop { req, request_id, remote: format!("{}:{}", req.source.ip, ephemeral_port(rng)) };
    let mut outcome = Outcome {
        status: 0,
        response_flags: None,
        served_by: None,
        attempts: 0,
        service: cluster::fqdn(routed.service),
        virtual_service: routed.virtual_service.clone(),
        destination: None,
        mirror: None,
        duration_ms: 0,
        response_headers: Vec::new(),
        logs: Vec::new(),
    };
    match &routed.decision {
        Decision::NoRoute => local_reply(ctx, &hop, &routed, Flag::NoRoute, None, at, rng, &mut outcome),
        Decision::NoCluster => local_reply(ctx, &hop, &routed, Flag::NoClusterFound, None, at, rng, &mut outcome),
        Decision::Forward(forward) => self::forward(ctx, &hop, &routed, forward, at, rng, &mut outcome),
    }
    // Envoy adds the route's response headers to upstream answers and to its own replies once a route is chosen.
    for m in &routed.headers {
        m.response.apply_to_response(&mut outcome.response_headers);
    }
    Ok(outcome)
}

/// The sender's sidecar answers itself, without an upstream (`NR`, `NC`, or `UH` when the cluster is empty).
#[allow(clippy::too_many_arguments)] // one call site per flag; a struct would only rename the arguments
fn local_reply(
    ctx: &mut Ctx<'_>,
    hop: &Hop<'_>,
    routed: &Routed<'_>,
    flag: Flag,
    cluster: Option<&Cluster<'_>>,
    at: SystemTime,
    rng: &mut impl Rng,
    outcome: &mut Outcome,
) {
    let Some(reply) = flag.local_reply() else { return };
    let duration = rng.random_range(0.05..0.8);
    outcome.status = reply.status;
    outcome.response_flags = Some(flag);
    outcome.duration_ms = duration as u64;
    let source = &hop.req.source;
    if !source.sidecar {
        return;
    }
    let service = cluster.map_or_else(ServiceLabels::unknown, |c| ServiceLabels::of(c.service));
    ctx.metrics.record(&Report {
        reporter: Reporter::Source,
        source: Some(source),
        destination: None,
        service: &service,
        status: reply.status,
        flag: Some(flag),
        mtls: false,
        duration_ms: duration as u64,
    });
    let mut e = hop.entry(at, &hop.req.authority);
    e.response_code = reply.status;
    e.response_flags = Some(flag);
    e.response_code_details = Some(reply.details.into());
    e.bytes_sent = reply.body.len() as u64;
    e.duration_ms = duration as u64;
    e.upstream_cluster = cluster.map(Cluster::name);
    e.downstream_local_address = Some(format!("{}:{}", cluster::cluster_ip(routed.service), routed.port));
    e.route_name = routed.route_name.clone();
    if let Some(line) = log_line(ctx, &source.namespace, &source.pod, after(at, duration), &e) {
        outcome.logs.push(line);
    }
}

/// Forwards to the cluster, retrying as the route says, then copies to the mirror.
fn forward(
    ctx: &mut Ctx<'_>,
    hop: &Hop<'_>,
    routed: &Routed<'_>,
    fwd: &Forward<'_>,
    at: SystemTime,
    rng: &mut impl Rng,
    outcome: &mut Outcome,
) {
    let source = &hop.req.source;
    outcome.destination = Some(cluster::fqdn(fwd.cluster.service));
    let endpoints = fwd.cluster.endpoints(&ctx.snapshot.pods);
    if endpoints.is_empty() {
        return local_reply(ctx, hop, routed, Flag::NoHealthyUpstream, Some(&fwd.cluster), at, rng, outcome);
    }
    let service = ServiceLabels::of(fwd.cluster.service);
    let mut tried: Vec<String> = Vec::new();
    let mut elapsed = 0.0;
    // The last attempt: who answered, how, and on which port.
    let mut last: Option<(Workload, Answer, u16)> = None;
    for attempt in 0..=fwd.retries.attempts {
        if attempt > 0 {
            elapsed += RetryPolicy::backoff_ms(attempt, rng);
        }
        let Some(pod) = pick_endpoint(&endpoints, &tried, rng) else { break };
        let destination = Workload::of_pod(pod);
        tried.push(destination.pod.clone());
        // The hop between two sidecars costs a little each way.
        let network = rng.random_range(0.1..0.5);
        let answer = serve(
            ctx,
            hop,
            pod,
            &destination,
            &fwd.cluster,
            &service,
            &fwd.authority,
            after(at, elapsed + network / 2.0),
            rng,
            outcome,
        );
        elapsed += answer.duration_ms + network;
        outcome.attempts = attempt + 1;
        let retry = fwd.retries.retries_status(answer.status);
        last = Some((destination, answer, cluster::target_port(pod, fwd.cluster.port)));
        if !retry {
            break;
        }
    }
    let Some((destination, answer, target)) = last else { return };
    let exhausted = fwd.retries.attempts > 0 && fwd.retries.retries_status(answer.status);
    let flag = exhausted.then_some(Flag::UpstreamRetryLimitExceeded);
    outcome.status = answer.status;
    outcome.response_flags = flag;
    outcome.duration_ms = elapsed as u64;
    outcome.served_by = Some(PodRef { namespace: destination.namespace.clone(), name: destination.pod.clone() });
    if source.sidecar {
        let mtls = destination.sidecar;
        ctx.metrics.record(&Report {
            reporter: Reporter::Source,
            source: Some(source),
            destination: Some(&destination),
            service: &service,
            status: answer.status,
            flag,
            mtls,
            duration_ms: elapsed as u64,
        });
        let mut e = hop.entry(at, &fwd.authority);
        e.response_code = answer.status;
        e.response_flags = flag;
        e.response_code_details = Some("via_upstream".into());
        e.bytes_sent = answer.bytes_sent;
        e.duration_ms = elapsed as u64;
        // The sender's router stamps the upstream's time on the response it received.
        e.upstream_service_time_ms = Some(answer.duration_ms as u64);
        e.upstream_host = Some(format!("{}:{target}", destination.ip));
        e.upstream_cluster = Some(fwd.cluster.name());
        // The connection between the two sidecars: what the receiver saw as its remote address.
        e.upstream_local_address = Some(hop.remote.clone());
        e.downstream_local_address = Some(format!("{}:{}", cluster::cluster_ip(routed.service), routed.port));
        e.downstream_remote_address = Some(format!("{}:{}", source.ip, ephemeral_port(rng)));
        e.route_name = routed.route_name.clone();
        if let Some(line) = log_line(ctx, &source.namespace, &source.pod, after(at, elapsed), &e) {
            outcome.logs.push(line);
        }
    }
    if let Some(mirror) = &fwd.mirror {
        self::mirror(ctx, hop, mirror, &fwd.authority, at, rng, outcome);
    }
}

/// Copies the request to the mirror cluster; Envoy sends the copy with `-shadow` on the host and drops the answer.
fn mirror(
    ctx: &mut Ctx<'_>,
    hop: &Hop<'_>,
    cluster: &Cluster<'_>,
    authority: &str,
    at: SystemTime,
    rng: &mut impl Rng,
    outcome: &mut Outcome,
) {
    let endpoints = cluster.endpoints(&ctx.snapshot.pods);
    // A shadow to an empty cluster is silently dropped.
    let Some(pod) = pick_endpoint(&endpoints, &[], rng) else { return };
    let destination = Workload::of_pod(pod);
    let shadow = shadow_authority(authority);
    let service = ServiceLabels::of(cluster.service);
    let start = after(at, rng.random_range(0.1..0.5));
    let answer = serve(ctx, hop, pod, &destination, cluster, &service, &shadow, start, rng, outcome);
    outcome.mirror = Some(Mirrored {
        pod: PodRef { namespace: destination.namespace.clone(), name: destination.pod.clone() },
        status: answer.status,
    });
}

/// `host-shadow[:port]`: Envoy adds the suffix to the host, before any port.
fn shadow_authority(authority: &str) -> String {
    match authority.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => format!("{host}-shadow:{port}"),
        _ => format!("{authority}-shadow"),
    }
}

/// The receiving pod answers one attempt; its sidecar reports it.
#[allow(clippy::too_many_arguments)] // the attempt's whole context; grouping it would only move the fields
fn serve(
    ctx: &mut Ctx<'_>,
    hop: &Hop<'_>,
    pod: &Pod,
    destination: &Workload,
    cluster: &Cluster<'_>,
    service: &ServiceLabels,
    authority: &str,
    start: SystemTime,
    rng: &mut impl Rng,
    outcome: &mut Outcome,
) -> Answer {
    let (mut behaviour, errors) = Behaviour::of_pod(pod);
    if let Some(e) = errors.first() {
        ctx.problems.insert(format!("Pod {}/{}", destination.namespace, destination.pod), e.to_string());
    }
    if !destination.sidecar {
        // Without a sidecar nothing can fail in one.
        behaviour.flags.clear();
    }
    let answer = behaviour.answer(rng);
    if !destination.sidecar {
        return answer;
    }
    let source = &hop.req.source;
    let mtls = source.sidecar;
    ctx.metrics.record(&Report {
        reporter: Reporter::Destination,
        // Without mTLS metadata exchange the receiver does not know who sent the request.
        source: mtls.then_some(source),
        destination: Some(destination),
        service,
        status: answer.status,
        flag: answer.flag,
        mtls,
        duration_ms: answer.duration_ms as u64,
    });
    let target = cluster::target_port(pod, cluster.port);
    let reached_app = !matches!(answer.flag, Some(Flag::NoHealthyUpstream | Flag::UpstreamOverflow));
    let mut e = hop.entry(start, authority);
    e.response_code = answer.status;
    e.response_flags = answer.flag;
    e.response_code_details = Some(answer.details.into());
    e.bytes_sent = answer.bytes_sent;
    e.duration_ms = answer.duration_ms as u64;
    e.upstream_service_time_ms = answer.service_time_ms.map(|t| t as u64);
    e.upstream_host = reached_app.then(|| format!("{}:{target}", destination.ip));
    e.upstream_cluster = Some(format!("inbound|{target}||"));
    e.upstream_local_address = reached_app.then(|| format!("{INBOUND_PASSTHROUGH}:{}", ephemeral_port(rng)));
    e.downstream_local_address = Some(format!("{}:{target}", destination.ip));
    e.requested_server_name = mtls.then(|| cluster.sni());
    e.route_name = Some("default".into());
    if let Some(line) = log_line(ctx, &destination.namespace, &destination.pod, after(start, answer.duration_ms), &e) {
        outcome.logs.push(line);
    }
    answer
}

/// The line `e` in the access log format of pod `namespace/name`.
fn log_line(ctx: &mut Ctx<'_>, namespace: &str, name: &str, time: SystemTime, e: &Entry) -> Option<LogLine> {
    if name.is_empty() {
        return None;
    }
    let pod = ctx.snapshot.pods.iter().find(|p| {
        p.metadata.name.as_deref() == Some(name) && p.metadata.namespace.as_deref().unwrap_or("default") == namespace
    });
    let format = match pod.map(Format::of_pod).unwrap_or(Ok(Format::Json)) {
        Ok(format) => format,
        Err(err) => {
            ctx.problems.insert(format!("Pod {namespace}/{name}"), err.to_string());
            Format::Json
        }
    };
    Some(LogLine {
        namespace: namespace.to_owned(),
        pod: name.to_owned(),
        container: PROXY_CONTAINER.to_owned(),
        time,
        line: e.render(format),
    })
}

/// `at` plus `ms` milliseconds.
fn after(at: SystemTime, ms: f64) -> SystemTime {
    at + Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

/// A client port from Linux's default ephemeral range.
fn ephemeral_port(rng: &mut impl Rng) -> u16 {
    rng.random_range(32768..=60999)
}

/// A random (version 4) UUID, as Envoy generates for `x-request-id`.
fn uuid(rng: &mut impl Rng) -> String {
    let (a, b, c, d, e): (u32, u16, u16, u16, u64) =
        (rng.random(), rng.random(), rng.random(), rng.random(), rng.random());
    format!("{a:08x}-{b:04x}-4{:03x}-{:04x}-{:012x}", c & 0x0fff, (d & 0x3fff) | 0x8000, e & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn shadow_hosts_keep_the_port_last() {
        assert_eq!(shadow_authority("podinfo.test:9898"), "podinfo.test-shadow:9898");
        assert_eq!(shadow_authority("podinfo"), "podinfo-shadow");
    }

    #[test]
    fn request_ids_are_version_4_uuids() {
        let id = uuid(&mut StdRng::seed_from_u64(3));
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(parts[2].starts_with('4') && matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'), "{id}");
    }
}
