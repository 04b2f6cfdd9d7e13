//! The metric checks of each analysis interval (`analysis.metrics`): the built-in Istio
//! metrics, inline queries and MetricTemplates, asked of Prometheus and judged against their
//! thresholds. Plugs into the lifecycle through [`Checks`]. Does I/O (the MetricTemplate, its
//! Secret, Prometheus).

use crate::checks::{CheckContext, Checks};
use crate::checks::{credentials, lookup};
use fledge_analysis::prometheus::{Prometheus, Settings};
use fledge_analysis::promql::Answer;
use fledge_analysis::template::{Vars, render};
use fledge_analysis::{builtin, threshold};
use fledge_core::Stage;
use fledge_crds::MetricTemplate;
use fledge_crds::canary::analysis::DEFAULT_METRIC_INTERVAL;
use fledge_crds::canary::{Canary, CanaryMetric, CheckKind, CheckResult, Verdict};
use fledge_crds::metric_template::MetricProviderType;
use fledge_crds::schedule::parse_go_duration;
use futures::future::BoxFuture;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Client, ResourceExt};
use std::time::Duration;

/// Runs `analysis.metrics` at the Analysis stage.
#[derive(Clone)]
pub struct MetricChecks {
    client: Client,
    default_address: String,
    timeout: Duration,
}

impl std::fmt::Debug for MetricChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricChecks").field("default_address", &self.default_address).finish_non_exhaustive()
    }
}

impl MetricChecks {
    /// Checks that ask `default_address` (the controller's `--metrics-server`) unless a
    /// Canary or MetricTemplate names another Prometheus.
    pub fn new(client: Client, default_address: impl Into<String>) -> Self {
        Self { client, default_address: default_address.into(), timeout: Duration::from_secs(10) }
    }

    async fn check(&self, canary: &Canary, metric: &CanaryMetric, ctx: &CheckContext<'_>) -> CheckResult {
        let (verdict, value, message) = match self.measure(canary, metric, ctx).await {
            Ok(Answer::Value(value)) => {
                let (passed, message) = threshold::judge(metric, value);
                (if passed { Verdict::Pass } else { Verdict::Fail }, Some(value), message)
            }
            Ok(Answer::NoData(why)) => (Verdict::NoData, None, format!("no data: {why}")),
            Err(why) => (Verdict::Error, None, why),
        };
        CheckResult {
            name: metric.name.clone(),
            kind: CheckKind::Metric,
            verdict,
            value,
            message: Some(message),
            time: Some(Time(ctx.now)),
        }
    }

    /// The metric's value, or why there is none (a sentence for the status).
    async fn measure(&self, canary: &Canary, metric: &CanaryMetric, ctx: &CheckContext<'_>) -> Result<Answer, String> {
        let namespace = canary.namespace().unwrap_or_default();
        let mut settings = Settings::new(
            canary
                .spec
                .metrics_server
                .clone()
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| self.default_address.clone()),
        );
        settings.timeout = self.timeout;
        let query = match (&metric.template_ref, &metric.query) {
            (Some(reference), _) => {
                let template_namespace = reference.namespace_or(&namespace).to_owned();
                let template: MetricTemplate = lookup::named(&self.client, &template_namespace, &reference.name)
                    .await
                    .map_err(|e| e.to_string())?;
                let provider = &template.spec.provider;
                if provider.r#type != MetricProviderType::Prometheus {
                    return Err(format!(
                        "provider {} is not supported; Fledge asks Prometheus",
                        provider.r#type.as_str()
                    ));
                }
                if let Some(address) = provider.address.clone().filter(|a| !a.is_empty()) {
                    settings.address = address;
                }
                settings.insecure_skip_verify = provider.insecure_skip_verify.unwrap_or(false);
                settings.headers = provider
                    .headers
                    .iter()
                    .flatten()
                    .flat_map(|(name, values)| values.iter().map(move |v| (name.clone(), v.clone())))
                    .collect();
                if let Some(secret) = &provider.secret_ref {
                    let auth = credentials::auth(&self.client, &template_namespace, &secret.name).await;
                    settings.auth = Some(auth.map_err(|e| e.to_string())?);
                }
                template.spec.query
            }
            (None, Some(query)) => query.clone(),
            (None, None) => builtin::query(&metric.name)
                .ok_or_else(|| format!("{} is not a built-in metric and has no query or templateRef", metric.name))?
                .to_owned(),
        };
        let service = canary.spec.apex_name().to_owned();
        let interval = range(metric.interval.as_deref().unwrap_or(DEFAULT_METRIC_INTERVAL), ctx);
        let variables = metric.template_variables.clone().unwrap_or_default();
        let vars =
            Vars::new(&canary.name_any(), &namespace, &canary.spec.target_ref.name, &service, &interval, variables)
                .map_err(|e| e.to_string())?;
        let query = render(&query, &vars).map_err(|e| e.to_string())?;
        let prometheus = Prometheus::new(settings).map_err(|e| e.to_string())?;
        prometheus.query(&query).await.map_err(|e| e.to_string())
    }
}

/// The metric's `{{ interval }}`: its own, or, while the evidence of a step accumulates (the
/// last interval had no data), the whole time since then when that is longer, so that a
/// canary with little traffic is judged on all of it rather than waiting for one interval to
/// hold enough. Queries that do not use `{{ interval }}` keep their own window.
fn range(interval: &str, ctx: &CheckContext<'_>) -> String {
    let Some(since) = ctx.accumulating_since else { return interval.to_owned() };
    let Ok(own) = parse_go_duration(interval) else { return interval.to_owned() };
    let waited = ctx.now.as_second().saturating_sub(since.as_second());
    // No further back than the access logs reach: the progress deadline and an interval.
    let spec = &ctx.canary.spec;
    let longest = (fledge_core::deadline(spec) + fledge_core::parse_interval(spec)).as_secs();
    let waited = u64::try_from(waited).unwrap_or(0).min(longest);
    if waited > own.as_secs() { format!("{waited}s") } else { interval.to_owned() }
}

impl Checks for MetricChecks {
    fn check<'a>(&'a self, stage: Stage, ctx: &'a CheckContext<'a>) -> BoxFuture<'a, Vec<CheckResult>> {
        Box::pin(async move {
            if stage != Stage::Analysis {
                return Vec::new();
            }
            let metrics = ctx.canary.spec.analysis.metrics.clone().unwrap_or_default();
            let mut results = Vec::with_capacity(metrics.len());
            for metric in &metrics {
                let result = self.check(ctx.canary, metric, ctx).await;
                tracing::info!(metric = %metric.name, verdict = ?result.verdict, value = ?result.value, "metric check");
                results.push(result);
            }
            results
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::fixtures::mk_canary;

    #[test]
    fn the_range_reaches_back_to_where_the_evidence_started_to_accumulate() {
        let canary = mk_canary(
            "
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  service: {port: 9898}
  analysis: {interval: 10s}
",
        );
        let now: k8s_openapi::jiff::Timestamp = "2026-12-02T04:00:00Z".parse().unwrap();
        let ctx = |since: Option<&str>| CheckContext {
            canary: &canary,
            now,
            since: None,
            accumulating_since: since.map(|s| s.parse().unwrap()),
        };
        assert_eq!(range("1m", &ctx(None)), "1m", "a judged step keeps the metric's own interval");
        assert_eq!(range("15s", &ctx(Some("2026-12-02T03:59:25Z"))), "35s");
        assert_eq!(range("1m", &ctx(Some("2026-12-02T03:59:25Z"))), "1m", "never shorter than its own");
        assert_eq!(range("oops", &ctx(Some("2026-12-02T03:59:25Z"))), "oops", "left to the template's error");
        assert_eq!(range("1m", &ctx(Some("2026-12-02T01:00:00Z"))), "610s", "at most the deadline and an interval");
    }
}
