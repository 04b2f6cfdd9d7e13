//! The controller's Prometheus metrics: one prometheus-client registry, every name prefixed
//! `fledge_`, the canary series with Flagger's meanings so its dashboards and alerts carry over.
//! No I/O: [`crate::process::server`] serves what [`Metrics::render`] returns.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, PoisonError};

/// `fledge_canary_status` value: the analysis is running.
pub const STATUS_RUNNING: i64 = 0;
/// `fledge_canary_status` value: the last rollout was promoted.
pub const STATUS_SUCCEEDED: i64 = 1;
/// `fledge_canary_status` value: the last rollout failed and was rolled back.
pub const STATUS_FAILED: i64 = 2;

/// Buckets of the duration histograms, in seconds: Prometheus' default buckets (those of
/// Flagger's `flagger_canary_duration_seconds`), which fit a reconcile or one analysis step.
const DURATION_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CanaryLabels {
    name: String,
    namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkloadLabels {
    workload: String,
    namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NamespaceLabels {
    namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MetricLabels {
    name: String,
    namespace: String,
    metric: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CategoryLabels {
    category: &'static str,
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

fn canary(namespace: &str, name: &str) -> CanaryLabels {
    CanaryLabels { name: name.to_owned(), namespace: namespace.to_owned() }
}

fn workload_labels(namespace: &str, workload: &str) -> WorkloadLabels {
    WorkloadLabels { workload: workload.to_owned(), namespace: namespace.to_owned() }
}

/// Every metric the controller exports, in one registry. Shared as `Arc<Metrics>`: the
/// recording methods take `&self`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    canary_status: Family<CanaryLabels, Gauge>,
    canary_weight: Family<WorkloadLabels, Gauge>,
    canary_total: Family<NamespaceLabels, Gauge>,
    analysis_duration: Family<CanaryLabels, Histogram, fn() -> Histogram>,
    successes: Family<CanaryLabels, Counter>,
    failures: Family<CanaryLabels, Counter>,
    metric_analysis: Family<MetricLabels, Gauge<f64, AtomicU64>>,
    reconciles: Family<ResultLabels, Counter>,
    reconcile_errors: Family<CategoryLabels, Counter>,
    reconcile_duration: Histogram,
    /// The metric names each canary (namespace, name) has reported: a `Family` cannot be
    /// listed, and `forget_canary` has to find those series to remove them.
    analysed: Mutex<HashMap<(String, String), BTreeSet<String>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every Fledge metric registered and no series yet.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("fledge");
        let canary_status = Family::<CanaryLabels, Gauge>::default();
        registry.register(
            "canary_status",
            "Last canary analysis result: 0 running, 1 successful, 2 failed",
            canary_status.clone(),
        );
        let canary_weight = Family::<WorkloadLabels, Gauge>::default();
        registry.register(
            "canary_weight",
            "Current weight of a workload's route in the canary's VirtualService",
            canary_weight.clone(),
        );
        let canary_total = Family::<NamespaceLabels, Gauge>::default();
        registry.register("canary_total", "Number of Canary objects", canary_total.clone());
        let analysis_duration: Family<CanaryLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        registry.register_with_unit(
            "canary_duration",
            "Time spent performing one canary analysis",
            Unit::Seconds,
            analysis_duration.clone(),
        );
        let successes = Family::<CanaryLabels, Counter>::default();
        registry.register("canary_successes", "Canary rollouts that were promoted", successes.clone());
        let failures = Family::<CanaryLabels, Counter>::default();
        registry.register("canary_failures", "Canary rollouts that failed and were rolled back", failures.clone());
        let metric_analysis = Family::<MetricLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "canary_metric_analysis",
            "Last value of each metric of a canary's analysis",
            metric_analysis.clone(),
        );
        let reconciles = Family::<ResultLabels, Counter>::default();
        registry.register("reconcile", "Reconciles of a Canary, by result (ok or error)", reconciles.clone());
        let reconcile_errors = Family::<CategoryLabels, Counter>::default();
        registry.register("reconcile_errors", "Failed reconciles, by error category", reconcile_errors.clone());
        let reconcile_duration = duration_histogram();
        registry.register_with_unit(
            "reconcile_duration",
            "Time spent in one reconcile of a Canary",
            Unit::Seconds,
            reconcile_duration.clone(),
        );
        Self {
            registry,
            canary_status,
            canary_weight,
            canary_total,
            analysis_duration,
            successes,
            failures,
            metric_analysis,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            analysed: Mutex::default(),
        }
    }

    /// Every series in the OpenMetrics text format, ending with `# EOF`.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // The only error `encode` can return is the writer's, and a String never refuses a write.
        encode(&mut text, &self.registry).expect("writing to a String does not fail");
        text
    }

    /// `fledge_canary_status{name, namespace}`: [`STATUS_RUNNING`], [`STATUS_SUCCEEDED`] or
    /// [`STATUS_FAILED`].
    pub fn set_canary_status(&self, namespace: &str, name: &str, status: i64) {
        self.canary_status.get_or_create(&canary(namespace, name)).set(status);
    }

    /// `fledge_canary_weight{workload, namespace}`: set for both the primary (`podinfo-primary`)
    /// and the canary workload (`podinfo`), as Flagger does.
    pub fn set_canary_weight(&self, namespace: &str, workload: &str, weight: i64) {
        self.canary_weight.get_or_create(&workload_labels(namespace, workload)).set(weight);
    }

    /// `fledge_canary_total{namespace}`: how many Canaries the namespace has.
    pub fn set_canary_total(&self, namespace: &str, count: i64) {
        self.canary_total.get_or_create(&NamespaceLabels { namespace: namespace.to_owned() }).set(count);
    }

    /// `fledge_canary_duration_seconds{name, namespace}`: how long one analysis took.
    pub fn observe_analysis_duration(&self, namespace: &str, name: &str, seconds: f64) {
        self.analysis_duration.get_or_create(&canary(namespace, name)).observe(seconds);
    }

    /// `fledge_canary_successes_total{name, namespace}`: one more promoted rollout.
    pub fn inc_success(&self, namespace: &str, name: &str) {
        self.successes.get_or_create(&canary(namespace, name)).inc();
    }

    /// `fledge_canary_failures_total{name, namespace}`: one more rolled back rollout.
    pub fn inc_failure(&self, namespace: &str, name: &str) {
        self.failures.get_or_create(&canary(namespace, name)).inc();
    }

    /// `fledge_canary_metric_analysis{name, namespace, metric}`: the last value of one metric of
    /// the canary's analysis.
    pub fn set_metric_analysis(&self, namespace: &str, name: &str, metric: &str, value: f64) {
        let labels = MetricLabels { name: name.to_owned(), namespace: namespace.to_owned(), metric: metric.to_owned() };
        self.metric_analysis.get_or_create(&labels).set(value);
        let mut analysed = self.analysed.lock().unwrap_or_else(PoisonError::into_inner);
        analysed.entry((namespace.to_owned(), name.to_owned())).or_default().insert(metric.to_owned());
    }

    /// `fledge_reconcile_total{result}`: one more reconcile, `"ok"` or `"error"`.
    pub fn inc_reconcile(&self, result: &'static str) {
        self.reconciles.get_or_create(&ResultLabels { result }).inc();
    }

    /// `fledge_reconcile_errors_total{category}`: one more failed reconcile, by the error's
    /// `category()`.
    pub fn inc_reconcile_error(&self, category: &'static str) {
        self.reconcile_errors.get_or_create(&CategoryLabels { category }).inc();
    }

    /// `fledge_reconcile_duration_seconds`: how long one reconcile took.
    pub fn observe_reconcile_duration(&self, seconds: f64) {
        self.reconcile_duration.observe(seconds);
    }

    /// Stops reporting a deleted canary: removes its status, metric analysis, duration,
    /// success and failure series, and the weights of the workloads `<name>` and
    /// `<name>-primary` (the usual case of a Canary named after its target; use
    /// [`Metrics::forget_weight`] for others). Best effort: series of other names stay.
    pub fn forget_canary(&self, namespace: &str, name: &str) {
        let labels = canary(namespace, name);
        self.canary_status.remove(&labels);
        self.analysis_duration.remove(&labels);
        self.successes.remove(&labels);
        self.failures.remove(&labels);
        self.forget_weight(namespace, name);
        self.forget_weight(namespace, &format!("{name}-primary"));
        let metrics = {
            let mut analysed = self.analysed.lock().unwrap_or_else(PoisonError::into_inner);
            analysed.remove(&(namespace.to_owned(), name.to_owned())).unwrap_or_default()
        };
        for metric in metrics {
            self.metric_analysis.remove(&MetricLabels {
                name: name.to_owned(),
                namespace: namespace.to_owned(),
                metric,
            });
        }
    }

    /// Removes the `fledge_canary_weight` series of one workload.
    pub fn forget_weight(&self, namespace: &str, workload: &str) {
        self.canary_weight.remove(&workload_labels(namespace, workload));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(metrics: &Metrics) -> Vec<String> {
        metrics.render().lines().map(str::to_owned).collect()
    }

    fn has(metrics: &Metrics, line: &str) -> bool {
        lines(metrics).iter().any(|l| l == line)
    }

    #[test]
    fn a_new_registry_renders_only_the_unlabelled_histogram() {
        let text = Metrics::new().render();
        assert!(text.ends_with("# EOF\n"), "{text}");
        // prometheus-client leaves out a labelled family until it has a series.
        assert!(
            text.lines().all(|l| l == "# EOF"
                || l.contains(" fledge_reconcile_duration_seconds")
                || l.starts_with("fledge_reconcile_duration_seconds_")),
            "{text}"
        );
        assert!(text.contains("# TYPE fledge_reconcile_duration_seconds histogram\n"), "{text}");
        assert!(text.contains("# UNIT fledge_reconcile_duration_seconds seconds\n"), "{text}");
        assert!(text.contains("fledge_reconcile_duration_seconds_count 0\n"), "{text}");
    }

    #[test]
    fn every_family_is_described_once_it_has_a_series() {
        let metrics = Metrics::new();
        metrics.set_canary_status("test", "podinfo", STATUS_RUNNING);
        metrics.set_canary_weight("test", "podinfo", 0);
        metrics.set_canary_total("test", 1);
        metrics.observe_analysis_duration("test", "podinfo", 1.0);
        metrics.inc_success("test", "podinfo");
        metrics.inc_failure("test", "podinfo");
        metrics.set_metric_analysis("test", "podinfo", "request-success-rate", 100.0);
        metrics.inc_reconcile("ok");
        metrics.inc_reconcile_error("observe");
        let text = metrics.render();
        for descriptor in [
            "# TYPE fledge_canary_status gauge",
            "# TYPE fledge_canary_weight gauge",
            "# TYPE fledge_canary_total gauge",
            "# TYPE fledge_canary_duration_seconds histogram",
            "# UNIT fledge_canary_duration_seconds seconds",
            "# TYPE fledge_canary_successes counter",
            "# TYPE fledge_canary_failures counter",
            "# TYPE fledge_canary_metric_analysis gauge",
            "# TYPE fledge_reconcile counter",
            "# TYPE fledge_reconcile_errors counter",
            "# TYPE fledge_reconcile_duration_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == descriptor), "no {descriptor} in\n{text}");
        }
    }

    #[test]
    fn canary_gauges_render_with_flaggers_labels() {
        let metrics = Metrics::new();
        metrics.set_canary_status("test", "podinfo", STATUS_SUCCEEDED);
        metrics.set_canary_weight("test", "podinfo-primary", 90);
        metrics.set_canary_weight("test", "podinfo", 10);
        metrics.set_canary_total("test", 3);
        metrics.set_metric_analysis("test", "podinfo", "request-success-rate", 99.5);
        for line in [
            r#"fledge_canary_status{name="podinfo",namespace="test"} 1"#,
            r#"fledge_canary_weight{workload="podinfo-primary",namespace="test"} 90"#,
            r#"fledge_canary_weight{workload="podinfo",namespace="test"} 10"#,
            r#"fledge_canary_total{namespace="test"} 3"#,
            r#"fledge_canary_metric_analysis{name="podinfo",namespace="test",metric="request-success-rate"} 99.5"#,
        ] {
            assert!(has(&metrics, line), "no line {line} in\n{}", metrics.render());
        }
    }

    #[test]
    fn a_gauge_keeps_only_the_last_value() {
        let metrics = Metrics::new();
        metrics.set_canary_weight("test", "podinfo", 10);
        metrics.set_canary_weight("test", "podinfo", 20);
        let weights: Vec<_> = lines(&metrics).into_iter().filter(|l| l.starts_with("fledge_canary_weight{")).collect();
        assert_eq!(weights, [r#"fledge_canary_weight{workload="podinfo",namespace="test"} 20"#]);
    }

    #[test]
    fn counters_end_with_total() {
        let metrics = Metrics::new();
        metrics.inc_success("test", "podinfo");
        metrics.inc_success("test", "podinfo");
        metrics.inc_failure("test", "podinfo");
        metrics.inc_reconcile("ok");
        metrics.inc_reconcile("ok");
        metrics.inc_reconcile("error");
        metrics.inc_reconcile_error("route");
        for line in [
            r#"fledge_canary_successes_total{name="podinfo",namespace="test"} 2"#,
            r#"fledge_canary_failures_total{name="podinfo",namespace="test"} 1"#,
            r#"fledge_reconcile_total{result="ok"} 2"#,
            r#"fledge_reconcile_total{result="error"} 1"#,
            r#"fledge_reconcile_errors_total{category="route"} 1"#,
        ] {
            assert!(has(&metrics, line), "no line {line} in\n{}", metrics.render());
        }
        // OpenMetrics names a counter's samples `<family>_total`; a sample belongs to the family
        // with the longest name it starts with (`fledge_reconcile` vs `fledge_reconcile_errors`).
        let samples = lines(&metrics);
        let families: Vec<(&str, &str)> =
            samples.iter().filter_map(|l| l.strip_prefix("# TYPE ")?.split_once(' ')).collect();
        let mut counted = 0;
        for line in samples.iter().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let (family, kind) =
                families.iter().filter(|(f, _)| name.starts_with(f)).max_by_key(|(f, _)| f.len()).unwrap();
            if *kind == "counter" {
                assert_eq!(name, format!("{family}_total"), "{line}");
                counted += 1;
            }
        }
        assert_eq!(counted, 5, "{samples:?}");
    }

    #[test]
    fn histograms_count_and_sum_observations() {
        let metrics = Metrics::new();
        metrics.observe_analysis_duration("test", "podinfo", 0.2);
        metrics.observe_analysis_duration("test", "podinfo", 3.0);
        metrics.observe_reconcile_duration(0.004);
        for line in [
            r#"fledge_canary_duration_seconds_count{name="podinfo",namespace="test"} 2"#,
            r#"fledge_canary_duration_seconds_sum{name="podinfo",namespace="test"} 3.2"#,
            r#"fledge_canary_duration_seconds_bucket{le="0.25",name="podinfo",namespace="test"} 1"#,
            r#"fledge_canary_duration_seconds_bucket{le="5.0",name="podinfo",namespace="test"} 2"#,
            "fledge_reconcile_duration_seconds_count 1",
            r#"fledge_reconcile_duration_seconds_bucket{le="0.005"} 1"#,
        ] {
            assert!(has(&metrics, line), "no line {line} in\n{}", metrics.render());
        }
    }

    #[test]
    fn forget_canary_removes_the_canarys_series_and_keeps_the_others() {
        let metrics = Metrics::new();
        for name in ["podinfo", "other"] {
            metrics.set_canary_status("test", name, STATUS_RUNNING);
            metrics.set_canary_weight("test", &format!("{name}-primary"), 90);
            metrics.set_canary_weight("test", name, 10);
            metrics.set_metric_analysis("test", name, "request-duration", 120.0);
            metrics.inc_success("test", name);
            metrics.inc_failure("test", name);
            metrics.observe_analysis_duration("test", name, 1.0);
        }
        metrics.set_canary_total("test", 2);
        metrics.forget_canary("test", "podinfo");
        let text = metrics.render();
        assert!(!text.contains(r#""podinfo""#), "{text}");
        assert!(!text.contains(r#""podinfo-primary""#), "{text}");
        for line in [
            r#"fledge_canary_status{name="other",namespace="test"} 0"#,
            r#"fledge_canary_weight{workload="other-primary",namespace="test"} 90"#,
            r#"fledge_canary_weight{workload="other",namespace="test"} 10"#,
            r#"fledge_canary_metric_analysis{name="other",namespace="test",metric="request-duration"} 120.0"#,
            r#"fledge_canary_successes_total{name="other",namespace="test"} 1"#,
            r#"fledge_canary_total{namespace="test"} 2"#,
        ] {
            assert!(has(&metrics, line), "no line {line} in\n{text}");
        }
    }

    #[test]
    fn forget_canary_of_an_unknown_canary_does_nothing() {
        let metrics = Metrics::new();
        metrics.set_canary_status("test", "podinfo", STATUS_FAILED);
        metrics.forget_canary("test", "missing");
        metrics.forget_canary("other", "podinfo");
        assert!(has(&metrics, r#"fledge_canary_status{name="podinfo",namespace="test"} 2"#));
    }

    #[test]
    fn forget_weight_removes_one_workload() {
        let metrics = Metrics::new();
        metrics.set_canary_weight("test", "backend", 10);
        metrics.set_canary_weight("test", "backend-primary", 90);
        metrics.forget_weight("test", "backend");
        let weights: Vec<_> = lines(&metrics).into_iter().filter(|l| l.starts_with("fledge_canary_weight{")).collect();
        assert_eq!(weights, [r#"fledge_canary_weight{workload="backend-primary",namespace="test"} 90"#]);
    }
}
