//! Checks of `spec.analysis`: pace, strategy, metrics, webhooks, alerts, access logs, windows.

use super::{Catalog, Problem, canary::check_matches, names, others::template_variables};
use crate::canary::access_log::{AccessLog, AccessLogSource};
use crate::canary::analysis::{METRIC_REQUEST_DURATION, METRIC_REQUEST_SUCCESS_RATE};
use crate::canary::{CanaryAnalysis, CanaryMetric, CanarySpec, RolloutWindow};
use crate::metric_template::MetricProviderType;
use crate::schedule::{parse_cron, parse_go_duration, parse_prom_duration};
use std::collections::BTreeSet;
use std::time::Duration;

/// Envoy's response flags (short form), as documented for `%RESPONSE_FLAGS%`.
const ENVOY_RESPONSE_FLAGS: &[&str] = &[
    "UH", "UF", "UO", "NR", "URX", "NC", "DT", "DC", "LH", "UT", "LR", "UR", "UC", "DI", "FI", "RL", "UAEX", "RLSE",
    "IH", "SI", "DPE", "UPE", "UMSDR", "OM", "DF", "DO", "DR",
];

pub(super) fn check_analysis(spec: &CanarySpec, namespace: &str, catalog: Option<&Catalog>, out: &mut Vec<Problem>) {
    let analysis = &spec.analysis;
    check_pace(analysis, out);
    check_strategy(analysis, out);
    if let Some(matches) = &analysis.r#match {
        check_matches("spec.analysis.match", matches, out);
    }
    let mut names_seen = BTreeSet::new();
    for (i, metric) in analysis.metrics.iter().flatten().enumerate() {
        let field = format!("spec.analysis.metrics[{i}]");
        if !names_seen.insert(metric.name.as_str()) {
            out.push(Problem::error(
                format!("{field}.name"),
                format!("{:?} is used by another metric; names must be unique", metric.name),
            ));
        }
        check_metric(&field, metric, namespace, catalog, out);
    }
    check_webhooks(analysis, out);
    for (i, alert) in analysis.alerts.iter().flatten().enumerate() {
        let reference = &alert.provider_ref;
        let key = (reference.namespace_or(namespace).to_owned(), reference.name.clone());
        if catalog.is_some_and(|c| !c.alert_providers.contains(&key)) {
            out.push(Problem::error(
                format!("spec.analysis.alerts[{i}].providerRef"),
                format!("AlertProvider {}/{} does not exist", key.0, key.1),
            ));
        }
    }
    if let Some(affinity) = &analysis.session_affinity {
        if let Err(e) = names::cookie_name(&affinity.cookie_name) {
            out.push(Problem::error("spec.analysis.sessionAffinity.cookieName", e));
        }
        if let Some(Err(e)) = affinity.primary_cookie_name.as_deref().map(names::cookie_name) {
            out.push(Problem::error("spec.analysis.sessionAffinity.primaryCookieName", e));
        }
        if analysis.iterations() > 0 {
            out.push(Problem::error(
                "spec.analysis.sessionAffinity",
                "works with weighted canaries (stepWeight or stepWeights), not with iterations (A/B testing, blue/green)",
            ));
        }
    }
    if let Some(access_log) = &analysis.access_log {
        check_access_log(access_log, out);
    }
    for (i, window) in analysis.windows.iter().flatten().enumerate() {
        check_window(&format!("spec.analysis.windows[{i}]"), window, out);
    }
}

fn check_pace(analysis: &CanaryAnalysis, out: &mut Vec<Problem>) {
    match parse_go_duration(analysis.interval()) {
        Err(e) => out.push(Problem::error("spec.analysis.interval", e)),
        Ok(d) if d < Duration::from_secs(1) => {
            out.push(Problem::error(
                "spec.analysis.interval",
                format!("{:?} is shorter than the least interval, 1s", analysis.interval()),
            ));
        }
        Ok(_) => {}
    }
    if analysis.threshold.is_some_and(|t| t < 0) {
        out.push(Problem::error("spec.analysis.threshold", "must not be negative"));
    }
    for (field, value, min) in [
        ("spec.analysis.maxWeight", analysis.max_weight, 1),
        ("spec.analysis.stepWeight", analysis.step_weight, 1),
        ("spec.analysis.stepWeightPromotion", analysis.step_weight_promotion, 1),
        ("spec.analysis.mirrorWeight", analysis.mirror_weight, 0),
        ("spec.analysis.primaryReadyThreshold", analysis.primary_ready_threshold, 0),
        ("spec.analysis.canaryReadyThreshold", analysis.canary_ready_threshold, 0),
    ] {
        if let Some(v) = value.filter(|v| !(min..=100).contains(v)) {
            out.push(Problem::error(field, format!("must be a percentage from {min} to 100, got {v}")));
        }
    }
    if analysis.iterations.is_some_and(|i| i < 0) {
        out.push(Problem::error("spec.analysis.iterations", "must not be negative"));
    }
}

fn check_strategy(analysis: &CanaryAnalysis, out: &mut Vec<Problem>) {
    let iterations = analysis.iterations() > 0;
    let steps = analysis.step_weights.as_deref().unwrap_or_default();
    if !iterations && analysis.step_weight.is_none() && steps.is_empty() {
        out.push(Problem::error(
            "spec.analysis",
            "set stepWeight or stepWeights for a weighted canary, or iterations for A/B testing and blue/green",
        ));
    }
    if analysis.r#match.is_some() && !iterations {
        out.push(Problem::error(
            "spec.analysis.match",
            "A/B testing needs iterations: the number of intervals to route matching requests to the canary",
        ));
    }
    if iterations && (analysis.step_weight.is_some() || !steps.is_empty()) {
        out.push(Problem::warning(
            "spec.analysis.iterations",
            "wins over stepWeight and stepWeights (A/B testing or blue/green); the weights are ignored",
        ));
    }
    if analysis.step_weight.is_some() && !steps.is_empty() {
        out.push(Problem::warning("spec.analysis.stepWeight", "is ignored because stepWeights is set"));
    }
    if let Some(v) = steps.iter().find(|w| !(1..=100).contains(*w)) {
        out.push(Problem::error(
            "spec.analysis.stepWeights",
            format!("weights are percentages from 1 to 100, got {v}"),
        ));
    }
    if steps.windows(2).any(|pair| pair[0] >= pair[1]) {
        out.push(Problem::error("spec.analysis.stepWeights", format!("must increase, got {steps:?}")));
    }
    if let (Some(max), Some(last)) = (analysis.max_weight, steps.last()) {
        if *last > max {
            out.push(Problem::error(
                "spec.analysis.stepWeights",
                format!("{last} is above maxWeight {max}; end the steps at {max} or drop maxWeight"),
            ));
        } else if *last < max {
            out.push(Problem::error(
                "spec.analysis.maxWeight",
                format!("{max} is never reached: stepWeights ends at {last}; end the steps at {max} or drop maxWeight"),
            ));
        }
    }
    if let (Some(step), Some(max), true) = (analysis.step_weight, analysis.max_weight, steps.is_empty())
        && step > max
    {
        out.push(Problem::warning(
            "spec.analysis.stepWeight",
            format!("{step} is above maxWeight {max}: the first step goes straight to {max}"),
        ));
    }
    if analysis.mirror == Some(true) && analysis.r#match.is_some() {
        out.push(Problem::error(
            "spec.analysis.mirror",
            "mirroring is for blue/green and weighted canaries, not A/B testing (match)",
        ));
    }
    if analysis.mirror_weight.is_some() && analysis.mirror != Some(true) {
        out.push(Problem::warning("spec.analysis.mirrorWeight", "is ignored without mirror: true"));
    }
}

fn check_metric(
    field: &str,
    metric: &CanaryMetric,
    namespace: &str,
    catalog: Option<&Catalog>,
    out: &mut Vec<Problem>,
) {
    if metric.name.is_empty() {
        out.push(Problem::error(format!("{field}.name"), "required"));
    }
    if let Some(Err(e)) = metric.interval.as_deref().map(parse_prom_duration) {
        out.push(Problem::error(format!("{field}.interval"), e));
    }
    let builtin = [METRIC_REQUEST_SUCCESS_RATE, METRIC_REQUEST_DURATION].contains(&metric.name.as_str());
    match (&metric.template_ref, &metric.query) {
        (None, None) if !builtin => out.push(Problem::error(
            field,
            format!(
                "{:?} is not a built-in metric ({METRIC_REQUEST_SUCCESS_RATE}, {METRIC_REQUEST_DURATION}); set templateRef or query",
                metric.name
            ),
        )),
        (Some(_), Some(_)) => out.push(Problem::warning(format!("{field}.query"), "is ignored because templateRef is set")),
        _ => {}
    }
    if let Some(query) = &metric.query {
        for problem in super::others::check_query(query) {
            out.push(Problem::error(format!("{field}.query"), problem));
        }
    }
    match &metric.threshold_range {
        Some(range) => {
            if let (Some(min), Some(max)) = (range.min, range.max)
                && min > max
            {
                out.push(Problem::error(
                    format!("{field}.thresholdRange"),
                    format!("min {min} is greater than max {max}"),
                ));
            }
            if range.min.is_none() && range.max.is_none() && metric.threshold.is_none() {
                out.push(Problem::error(
                    format!("{field}.thresholdRange"),
                    "set min, max or both; without them the check can never fail",
                ));
            }
            if metric.threshold.is_some() {
                out.push(Problem::warning(
                    format!("{field}.threshold"),
                    "is deprecated and ignored because thresholdRange is set",
                ));
            }
        }
        None if metric.threshold.is_none() => {
            out.push(Problem::error(
                format!("{field}.thresholdRange"),
                "set min, max or both; without them the check can never fail",
            ));
        }
        None => {}
    }
    let Some(reference) = &metric.template_ref else { return };
    let key = (reference.namespace_or(namespace).to_owned(), reference.name.clone());
    let Some(catalog) = catalog else { return };
    let Some(template) = catalog.metric_templates.get(&key) else {
        out.push(Problem::error(
            format!("{field}.templateRef"),
            format!("MetricTemplate {}/{} does not exist", key.0, key.1),
        ));
        return;
    };
    if template.provider.r#type != MetricProviderType::Prometheus {
        out.push(Problem::error(
            format!("{field}.templateRef"),
            format!(
                "MetricTemplate {}/{} uses provider {}; Fledge queries Prometheus only",
                key.0,
                key.1,
                template.provider.r#type.as_str()
            ),
        ));
    }
    for variable in template_variables(&template.query) {
        if !metric.template_variables.as_ref().is_some_and(|vars| vars.contains_key(&variable)) {
            out.push(Problem::error(
                format!("{field}.templateVariables"),
                format!(
                    "MetricTemplate {}/{} uses {{{{ variables.{variable} }}}}, which is not set here",
                    key.0, key.1
                ),
            ));
        }
    }
}

fn check_webhooks(analysis: &CanaryAnalysis, out: &mut Vec<Problem>) {
    let mut seen = BTreeSet::new();
    for (i, hook) in analysis.webhooks.iter().flatten().enumerate() {
        let field = format!("spec.analysis.webhooks[{i}]");
        if hook.name.is_empty() {
            out.push(Problem::error(format!("{field}.name"), "required"));
        } else if !seen.insert(hook.name.as_str()) {
            out.push(Problem::warning(
                format!("{field}.name"),
                format!("{:?} is used by another webhook; events will not tell them apart", hook.name),
            ));
        }
        if let Err(e) = names::http_url(&hook.url) {
            out.push(Problem::error(format!("{field}.url"), e));
        }
        if let Some(Err(e)) = hook.timeout.as_deref().map(parse_go_duration) {
            out.push(Problem::error(format!("{field}.timeout"), e));
        }
        if let Some(retries) = hook.retries.filter(|r| !(0..=10).contains(r)) {
            out.push(Problem::error(format!("{field}.retries"), format!("must be from 0 to 10, got {retries}")));
        }
    }
}

fn check_access_log(log: &AccessLog, out: &mut Vec<Problem>) {
    let field = "spec.analysis.accessLog";
    match (log.source.unwrap_or_default(), &log.loki) {
        (AccessLogSource::Loki, None) => {
            out.push(Problem::error(format!("{field}.loki"), "required with source loki: at least the Loki address"))
        }
        (AccessLogSource::Loki, Some(loki)) => {
            if let Err(e) = names::http_url(&loki.address) {
                out.push(Problem::error(format!("{field}.loki.address"), e));
            }
        }
        (AccessLogSource::Kubernetes, Some(_)) => {
            out.push(Problem::warning(format!("{field}.loki"), "is ignored because source is kubernetes"));
        }
        (AccessLogSource::Kubernetes, None) => {}
    }
    if let Some(Err(e)) = log.container.as_deref().map(|c| names::dns_label(c, 63)) {
        out.push(Problem::error(format!("{field}.container"), e));
    }
    if log.min_requests.is_some_and(|m| m < 1) {
        out.push(Problem::error(format!("{field}.minRequests"), "must be at least 1"));
    }
    for (i, flag) in log.error_response_flags.iter().flatten().enumerate() {
        if !ENVOY_RESPONSE_FLAGS.contains(&flag.as_str()) {
            out.push(Problem::error(
                format!("{field}.errorResponseFlags[{i}]"),
                format!("{flag:?} is not an Envoy response flag; known flags: {}", ENVOY_RESPONSE_FLAGS.join(", ")),
            ));
        }
    }
    if let Some(rate) = log.max_error_rate.filter(|r| !(0.0..=100.0).contains(r)) {
        out.push(Problem::error(
            format!("{field}.maxErrorRate"),
            format!("must be a percentage from 0 to 100, got {rate}"),
        ));
    }
    if let Some(limit) = &log.max_latency {
        if let Some(p) = limit.percentile.filter(|p| !(*p > 0.0 && *p <= 100.0)) {
            out.push(Problem::error(
                format!("{field}.maxLatency.percentile"),
                format!("must be above 0 and at most 100, got {p}"),
            ));
        }
        if limit.milliseconds.is_nan() || limit.milliseconds < 0.0 {
            out.push(Problem::error(format!("{field}.maxLatency.milliseconds"), "must not be negative"));
        }
    }
    if let Some(cmp) = &log.comparison {
        if let Some(c) = cmp.confidence.filter(|c| !(0.5..=0.999).contains(c)) {
            out.push(Problem::error(
                format!("{field}.comparison.confidence"),
                format!("must be from 0.5 to 0.999, got {c}"),
            ));
        }
        if cmp.latency_tolerance.is_some_and(|t| t.is_nan() || t < 0.0) {
            out.push(Problem::error(format!("{field}.comparison.latencyTolerance"), "must not be negative"));
        }
        if cmp.error_rate_tolerance.is_some_and(|t| !(0.0..=100.0).contains(&t)) {
            out.push(Problem::error(
                format!("{field}.comparison.errorRateTolerance"),
                "must be from 0 to 100 percentage points",
            ));
        }
    }
    let comparing = log.comparison.as_ref().is_none_or(|c| c.enabled != Some(false));
    if !comparing && log.max_error_rate.is_none() && log.max_latency.is_none() {
        out.push(Problem::error(
            field,
            "with comparison disabled, set maxErrorRate or maxLatency; otherwise the check can never fail",
        ));
    }
}

fn check_window(field: &str, window: &RolloutWindow, out: &mut Vec<Problem>) {
    if let Err(e) = parse_cron(&window.schedule) {
        out.push(Problem::error(format!("{field}.schedule"), e));
    }
    match parse_go_duration(&window.duration) {
        Err(e) => out.push(Problem::error(format!("{field}.duration"), e)),
        Ok(d) if d.is_zero() => out.push(Problem::error(format!("{field}.duration"), "must be longer than zero")),
        Ok(_) => {}
    }
    if let Some(zone) = &window.time_zone
        && zone.parse::<chrono_tz::Tz>().is_err()
    {
        out.push(Problem::error(
            format!("{field}.timeZone"),
            format!("{zone:?} is not an IANA time zone such as Europe/Berlin or UTC"),
        ));
    }
}
