//! Whether a metric's value passes: `thresholdRange` (fails below `min` or above `max`, the
//! bounds pass) or Flagger's deprecated `threshold` (for the success rate the least passing
//! value, otherwise the largest). Pure.

use fledge_crds::canary::CanaryMetric;
use fledge_crds::canary::analysis::METRIC_REQUEST_SUCCESS_RATE;

/// The outcome for a value, with a sentence that quotes the value and the limit.
pub fn judge(metric: &CanaryMetric, value: f64) -> (bool, String) {
    let name = &metric.name;
    let (min, max) = match (&metric.threshold_range, metric.threshold) {
        (Some(range), _) => (range.min, range.max),
        (None, Some(t)) if name == METRIC_REQUEST_SUCCESS_RATE => (Some(t), None),
        (None, Some(t)) => (None, Some(t)),
        (None, None) => (None, None),
    };
    let shown = shown(value);
    if let Some(min) = min.filter(|min| value < *min) {
        return (false, format!("{name} {shown} is below the minimum {min}"));
    }
    if let Some(max) = max.filter(|max| value > *max) {
        return (false, format!("{name} {shown} is above the maximum {max}"));
    }
    let limits = match (min, max) {
        (Some(min), Some(max)) => format!(" (within {min}..{max})"),
        (Some(min), None) => format!(" (minimum {min})"),
        (None, Some(max)) => format!(" (maximum {max})"),
        (None, None) => " (no limit set)".to_owned(),
    };
    (true, format!("{name} {shown}{limits}"))
}

/// A measured value for people: at most three decimals, no trailing zeros (`91.873`, `92`).
/// Rounding never hides a failure: the verdict is taken on the exact value.
pub fn shown(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_owned() } else { text.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fledge_crds::canary::ThresholdRange;

    fn metric(name: &str, min: Option<f64>, max: Option<f64>, threshold: Option<f64>) -> CanaryMetric {
        let range = (min.is_some() || max.is_some()).then_some(ThresholdRange { min, max });
        CanaryMetric { name: name.into(), threshold_range: range, threshold, ..CanaryMetric::default() }
    }

    #[test]
    fn a_range_fails_outside_and_passes_on_its_bounds() {
        let m = metric("request-success-rate", Some(99.0), None, None);
        assert_eq!(judge(&m, 92.0), (false, "request-success-rate 92 is below the minimum 99".into()));
        assert!(judge(&m, 99.0).0);
        assert_eq!(
            judge(&m, 91.873_456_1),
            (false, "request-success-rate 91.873 is below the minimum 99".into()),
            "values are shown to three decimals"
        );
        let m = metric("request-duration", None, Some(200.0), None);
        assert_eq!(judge(&m, 300.0), (false, "request-duration 300 is above the maximum 200".into()));
        assert_eq!(judge(&m, 200.0), (true, "request-duration 200 (maximum 200)".into()));
    }

    #[test]
    fn the_deprecated_threshold_is_a_minimum_for_the_success_rate_only() {
        assert!(!judge(&metric("request-success-rate", None, None, Some(99.0)), 98.0).0);
        assert!(judge(&metric("request-success-rate", None, None, Some(99.0)), 99.5).0);
        assert!(!judge(&metric("request-duration", None, None, Some(500.0)), 501.0).0);
        assert!(judge(&metric("errors", None, None, Some(5.0)), 5.0).0);
    }
}
