//! Istio's standard HTTP metrics, `istio_requests_total` and `istio_request_duration_milliseconds`, with the
//! labels and buckets Istio uses, accumulated in a [`Metrics`] registry and rendered as Prometheus text.
//!
//! Every sidecar on a request's path reports it: the sender's with `reporter="source"`, the receiver's with
//! `reporter="destination"`. Label values Istio does not know are `unknown`.

use super::cluster;
use super::flags::{self, Flag};
use super::workload::{UNKNOWN, Workload};
use k8s_openapi::api::core::v1::Service;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The request counter.
pub const REQUESTS_TOTAL: &str = "istio_requests_total";
/// The request duration histogram.
pub const REQUEST_DURATION: &str = "istio_request_duration_milliseconds";
/// Istio's default duration buckets, in milliseconds (`+Inf` follows).
pub const DURATION_BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0, 300000.0,
    600000.0, 1800000.0, 3600000.0,
];
/// The cluster name Istio reports for a single-cluster mesh.
const CLUSTER_ID: &str = "Kubernetes";

/// Which sidecar reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reporter {
    /// The sender's sidecar.
    Source,
    /// The receiver's sidecar.
    Destination,
}

/// The Service a request was for, as labelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceLabels {
    /// `destination_service`: the FQDN.
    pub host: String,
    /// `destination_service_name`.
    pub name: String,
    /// `destination_service_namespace`.
    pub namespace: String,
}

impl ServiceLabels {
    /// The labels of `service`.
    pub fn of(service: &Service) -> Self {
        Self {
            host: cluster::fqdn(service),
            name: cluster::name(service).to_owned(),
            namespace: cluster::namespace(service).to_owned(),
        }
    }

    /// No known Service, as for a request no route matched.
    pub fn unknown() -> Self {
        Self { host: UNKNOWN.into(), name: UNKNOWN.into(), namespace: UNKNOWN.into() }
    }
}

/// One request as one sidecar reports it.
#[derive(Clone, Debug)]
pub struct Report<'a> {
    /// Who reports.
    pub reporter: Reporter,
    /// The sender, when known to the reporter.
    pub source: Option<&'a Workload>,
    /// The receiver, when known to the reporter.
    pub destination: Option<&'a Workload>,
    /// The Service the request was for.
    pub service: &'a ServiceLabels,
    /// The HTTP status the reporter saw.
    pub status: u16,
    /// The reporter's own response flag.
    pub flag: Option<Flag>,
    /// Whether the hop between the sidecars was mutual TLS.
    pub mtls: bool,
    /// Duration as the reporter measured it, in whole milliseconds as Istio records it.
    pub duration_ms: u64,
}

/// The labels of one series, in Istio's order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Vec<(&'static str, String)>);

impl Labels {
    /// Istio's labels for a report.
    pub fn of(r: &Report<'_>) -> Self {
        let or_unknown =
            |w: Option<&Workload>, f: &dyn Fn(&Workload) -> String| w.map_or_else(|| UNKNOWN.to_owned(), f);
        let (src, dst) = (r.source, r.destination);
        let principal = |w: Option<&Workload>| match w {
            Some(w) if r.mtls => w.principal(),
            _ => UNKNOWN.to_owned(),
        };
        let security = match (r.reporter, r.mtls) {
            (Reporter::Source, _) => UNKNOWN,
            (Reporter::Destination, true) => "mutual_tls",
            (Reporter::Destination, false) => "none",
        };
        // The sender's own identity is only known to the receiver through mTLS metadata exchange.
        let source_principal = if r.reporter == Reporter::Destination { principal(src) } else { UNKNOWN.to_owned() };
        Self(vec![
            ("reporter", if r.reporter == Reporter::Source { "source" } else { "destination" }.to_owned()),
            ("source_workload", or_unknown(src, &|w| w.name.clone())),
            ("source_canonical_service", or_unknown(src, &|w| w.canonical_service().to_owned())),
            ("source_canonical_revision", or_unknown(src, &|w| w.canonical_revision().to_owned())),
            ("source_workload_namespace", or_unknown(src, &|w| w.namespace.clone())),
            ("source_principal", source_principal),
            ("source_app", or_unknown(src, &|w| w.app().to_owned())),
            ("source_version", or_unknown(src, &|w| w.version().to_owned())),
            ("source_cluster", or_unknown(src, &|_| CLUSTER_ID.to_owned())),
            ("destination_workload", or_unknown(dst, &|w| w.name.clone())),
            ("destination_workload_namespace", or_unknown(dst, &|w| w.namespace.clone())),
            ("destination_principal", principal(dst)),
            ("destination_app", or_unknown(dst, &|w| w.app().to_owned())),
            ("destination_version", or_unknown(dst, &|w| w.version().to_owned())),
            ("destination_service", r.service.host.clone()),
            ("destination_canonical_service", or_unknown(dst, &|w| w.canonical_service().to_owned())),
            ("destination_canonical_revision", or_unknown(dst, &|w| w.canonical_revision().to_owned())),
            ("destination_service_name", r.service.name.clone()),
            ("destination_service_namespace", r.service.namespace.clone()),
            ("destination_cluster", or_unknown(dst, &|_| CLUSTER_ID.to_owned())),
            ("request_protocol", "http".to_owned()),
            ("response_code", r.status.to_string()),
            ("grpc_response_status", String::new()),
            ("response_flags", flags::label(r.flag).to_owned()),
            ("connection_security_policy", security.to_owned()),
        ])
    }

    /// The value of label `name`.
    #[cfg(test)]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// Whether every `(name, value)` of `filter` is among the labels.
    #[cfg(test)]
    pub fn matches(&self, filter: &[(&str, &str)]) -> bool {
        filter.iter().all(|(k, v)| self.get(k) == Some(*v))
    }

    /// `{name="value",...}`, with extra labels appended, escaped as the text format requires.
    fn render(&self, extra: Option<(&str, &str)>) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in self.0.iter().map(|(k, v)| (*k, v.as_str())).chain(extra).enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
        out
    }
}

/// Escapes a label value: backslash, double quote and line feed.
pub fn escape(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Histogram {
    /// Observations per bucket (not cumulative); the last counts those above every bound.
    buckets: [u64; DURATION_BUCKETS.len() + 1],
    sum: u64,
    count: u64,
}

/// The metrics of every sidecar in the mesh.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    requests: BTreeMap<Labels, u64>,
    durations: BTreeMap<Labels, Histogram>,
}

impl Metrics {
    /// An empty registry.
    #[cfg(test)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request and observes its duration.
    pub fn record(&mut self, report: &Report<'_>) {
        let labels = Labels::of(report);
        *self.requests.entry(labels.clone()).or_default() += 1;
        let h = self.durations.entry(labels).or_default();
        let ms = report.duration_ms as f64;
        let bucket = DURATION_BUCKETS.iter().position(|le| ms <= *le).unwrap_or(DURATION_BUCKETS.len());
        h.buckets[bucket] += 1;
        h.sum += report.duration_ms;
        h.count += 1;
    }

    /// The sum of `istio_requests_total` over the series with all the `filter` labels.
    #[cfg(test)]
    pub fn requests_total(&self, filter: &[(&str, &str)]) -> u64 {
        self.requests.iter().filter(|(l, _)| l.matches(filter)).map(|(_, n)| n).sum()
    }

    /// Every `istio_requests_total` series with its value, sorted by labels.
    #[cfg(test)]
    pub fn requests(&self) -> impl Iterator<Item = (&Labels, u64)> {
        self.requests.iter().map(|(l, n)| (l, *n))
    }

    /// The Prometheus text exposition of every series, families and series in a stable sorted order.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Families sorted by name: the histogram's name sorts first.
        let _ = writeln!(
            out,
            "# HELP {REQUEST_DURATION} Duration of requests in milliseconds, as Istio's sidecars measure it."
        );
        let _ = writeln!(out, "# TYPE {REQUEST_DURATION} histogram");
        for (labels, h) in &self.durations {
            let mut cumulative = 0;
            for (i, n) in h.buckets.iter().enumerate() {
                cumulative += n;
                let le = DURATION_BUCKETS.get(i).map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                let _ = writeln!(out, "{REQUEST_DURATION}_bucket{} {cumulative}", labels.render(Some(("le", &le))));
            }
            let rendered = labels.render(None);
            let _ = writeln!(out, "{REQUEST_DURATION}_sum{rendered} {}", h.sum);
            let _ = writeln!(out, "{REQUEST_DURATION}_count{rendered} {}", h.count);
        }
        let _ = writeln!(out, "# HELP {REQUESTS_TOTAL} Requests handled by Istio's sidecars.");
        let _ = writeln!(out, "# TYPE {REQUESTS_TOTAL} counter");
        for (labels, n) in &self.requests {
            let _ = writeln!(out, "{REQUESTS_TOTAL}{} {n}", labels.render(None));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(name: &str) -> Workload {
        Workload {
            pod: format!("{name}-abc-12345"),
            namespace: "test".into(),
            name: name.into(),
            labels: [("app".to_owned(), name.to_owned())].into(),
            service_account: "default".into(),
            ip: "10.0.0.1".into(),
            sidecar: true,
        }
    }

    #[test]
    fn labels_are_istios() {
        let (src, dst) = (workload("loadtester"), workload("podinfo-primary"));
        let service = ServiceLabels {
            host: "podinfo.test.svc.cluster.local".into(),
            name: "podinfo".into(),
            namespace: "test".into(),
        };
        let report = Report {
            reporter: Reporter::Destination,
            source: Some(&src),
            destination: Some(&dst),
            service: &service,
            status: 200,
            flag: None,
            mtls: true,
            duration_ms: 3,
        };
        let l = Labels::of(&report);
        let expect = [
            ("reporter", "destination"),
            ("source_workload", "loadtester"),
            ("source_principal", "spiffe://cluster.local/ns/test/sa/default"),
            ("destination_workload", "podinfo-primary"),
            ("destination_workload_namespace", "test"),
            ("destination_app", "podinfo-primary"),
            ("destination_version", "unknown"),
            ("destination_service", "podinfo.test.svc.cluster.local"),
            ("destination_service_name", "podinfo"),
            ("response_code", "200"),
            ("response_flags", "-"),
            ("connection_security_policy", "mutual_tls"),
            ("request_protocol", "http"),
        ];
        assert!(l.matches(&expect), "{l:?}");
        let source_side = Labels::of(&Report { reporter: Reporter::Source, ..report });
        assert_eq!(source_side.get("source_principal"), Some("unknown"));
        assert_eq!(source_side.get("connection_security_policy"), Some("unknown"));
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let (src, dst) = (workload("a"), workload("b"));
        let service = ServiceLabels::unknown();
        let mut m = Metrics::new();
        for ms in [0, 1, 7, 7, 4_000_000] {
            m.record(&Report {
                reporter: Reporter::Source,
                source: Some(&src),
                destination: Some(&dst),
                service: &service,
                status: 200,
                flag: None,
                mtls: true,
                duration_ms: ms,
            });
        }
        let text = m.render();
        let bucket = |le: &str| {
            let needle = format!("le=\"{le}\"}} ");
            let line = text.lines().find(|l| l.contains(&needle)).unwrap_or_default();
            line.rsplit(' ').next().unwrap_or_default().to_owned()
        };
        assert_eq!(
            [bucket("0.5"), bucket("1"), bucket("5"), bucket("10"), bucket("3600000"), bucket("+Inf")],
            ["1", "2", "2", "4", "4", "5"]
        );
        assert!(text.contains("_sum{") && text.contains(" 4000015\n"));
        assert_eq!(m.requests_total(&[("source_workload", "a")]), 5);
        assert_eq!(m.requests_total(&[("source_workload", "b")]), 0);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
    }
}
