//! Reading the results of a stage's checks: did they pass, and what to say of those that did not.

use fledge_crds::canary::{CheckKind, CheckResult, Verdict};

/// Whether every result of a stage lets the rollout go on.
pub fn all_pass(results: &[CheckResult]) -> bool {
    results.iter().all(|r| r.verdict == Verdict::Pass)
}

/// The first result that did not pass, for messages.
pub fn first_failure(results: &[CheckResult]) -> Option<&CheckResult> {
    results.iter().find(|r| r.verdict != Verdict::Pass)
}

/// Every result that failed or could not run, described and joined: what a Halted event
/// quotes, so two failing metrics are both named.
pub fn describe_failures(results: &[CheckResult]) -> String {
    let failed: Vec<String> =
        results.iter().filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error)).map(describe).collect();
    if failed.is_empty() { first_failure(results).map(describe).unwrap_or_default() } else { failed.join("; ") }
}

/// A sentence about a result that did not pass: `request-success-rate: 91.3 (min 99)`.
pub fn describe(result: &CheckResult) -> String {
    let kind = match result.kind {
        CheckKind::Readiness => "readiness",
        CheckKind::Metric => "metric",
        CheckKind::AccessLog => "access log",
        CheckKind::Webhook => "webhook",
    };
    match (&result.message, result.value) {
        (Some(message), _) => format!("{kind} {}: {message}", result.name),
        (None, Some(value)) => format!("{kind} {}: {:?} with value {value}", result.name, result.verdict),
        (None, None) => format!("{kind} {}: {:?}", result.name, result.verdict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, verdict: Verdict, message: &str) -> CheckResult {
        CheckResult {
            name: name.into(),
            kind: CheckKind::Metric,
            verdict,
            value: None,
            message: Some(message.into()),
            time: None,
        }
    }

    #[test]
    fn every_failed_check_is_named() {
        let results = [
            result("request-success-rate", Verdict::Fail, "request-success-rate 90 is below the minimum 99"),
            result("latency", Verdict::Pass, "latency 40 (maximum 500)"),
            result("errors", Verdict::Error, "query \"x\" to http://p:9090: connection refused"),
        ];
        assert_eq!(
            describe_failures(&results),
            "metric request-success-rate: request-success-rate 90 is below the minimum 99; \
             metric errors: query \"x\" to http://p:9090: connection refused"
        );
        let waiting = [result("latency", Verdict::NoData, "no data: empty result")];
        assert_eq!(describe_failures(&waiting), "metric latency: no data: empty result");
    }
}
