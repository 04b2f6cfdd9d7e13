//! Flagger's built-in Istio metrics: `request-success-rate` (percentage of non-5xx requests to
//! the canary workload) and `request-duration` (p99 in milliseconds), with Flagger's PromQL
//! and one fix: a canary whose every request failed has no non-5xx series, and Flagger's
//! `sum(non-5xx) / sum(all)` then returns nothing (no data, a slow rollback) instead of 0.
//! The price: in a canary's first seconds, a 5xx series that already has two samples while
//! its 200 series has one measures 0%, a failed check where Flagger would wait; the threshold
//! absorbs a single one. Pure.

use fledge_crds::canary::analysis::{METRIC_REQUEST_DURATION, METRIC_REQUEST_SUCCESS_RATE};

/// Percentage of requests to the canary workload that did not answer 5xx: 0 when every request
/// failed (`or on() vector(0)`), no data only when there were no requests.
pub const REQUEST_SUCCESS_RATE: &str = r#"(sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload=~"{{ target }}",response_code!~"5.*"}[{{ interval }}])) or on() vector(0)) / sum(rate(istio_requests_total{reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload=~"{{ target }}"}[{{ interval }}])) * 100"#;

/// p99 request duration of the canary workload, in milliseconds.
pub const REQUEST_DURATION: &str = r#"histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="{{ namespace }}",destination_workload=~"{{ target }}"}[{{ interval }}])) by (le))"#;

/// The query template of a built-in metric, by its name.
pub fn query(name: &str) -> Option<&'static str> {
    match name {
        METRIC_REQUEST_SUCCESS_RATE => Some(REQUEST_SUCCESS_RATE),
        METRIC_REQUEST_DURATION => Some(REQUEST_DURATION),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Vars, render};

    #[test]
    fn the_success_rate_measures_the_canary_workload_only() {
        let vars = Vars::new("podinfo", "test", "podinfo", "podinfo", "1m", Default::default()).unwrap();
        let q = render(query("request-success-rate").unwrap(), &vars).unwrap();
        assert!(
            q.contains(r#"destination_workload=~"podinfo",response_code!~"5.*"}[1m])) or on() vector(0)) / "#),
            "{q}"
        );
        assert!(q.ends_with("* 100"));
        assert!(query("request-duration").unwrap().starts_with("histogram_quantile(0.99,"));
        assert_eq!(query("error-rate"), None);
    }
}
