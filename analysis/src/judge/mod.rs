//! The statistical judge of a rollout step on access logs: the canary's requests, errors and
//! latencies against absolute limits and against the primary's. Pure: the counts come in,
//! a verdict with its reasons goes out.
//!
//! # What is checked
//!
//! 1. *Data*: each version needs `minRequests` requests (the primary only when comparing);
//!    otherwise the verdict is no data and the step waits.
//! 2. *Absolute limits*: the canary fails when its sample shows, at the configured
//!    `confidence`, that its error rate is above `maxErrorRate` percent or its latency at
//!    `maxLatency.percentile` is above `maxLatency.milliseconds`. A point estimate above the
//!    limit is not enough (see [the limits as evidence](#the-limits-as-evidence)).
//! 3. *Comparison with the primary*:
//!    - error rate: one-sided test that the canary's rate exceeds the primary's by more than
//!      `errorRateTolerance` points ([`proportions::rate_increase`]: Fisher's exact test for
//!      small counts, a continuity-corrected score z-test for large ones);
//!    - latency: one-sided Mann-Whitney U test that the canary's latencies are larger
//!      ([`ranks::mann_whitney_greater`]). A significant difference fails only when it is also
//!      material: the Hodges-Lehmann shift ([`ranks::hodges_lehmann_shift`], the median of
//!      canary-minus-primary differences) is more than `latencyTolerance` percent of the
//!      primary's median. This is Kayenta's Mann-Whitney judge: significant and beyond the
//!      effect-size tolerance.
//!
//! # The limits as evidence
//!
//! A limit compared with the point estimate fails good canaries: at a true 0.5% errors and a
//! 1% limit, 3 or more errors in 235 requests (1.28%) happen 11% of the time. So a limit is
//! a one-sided test, like the comparisons: the canary fails only when the sample is evidence
//! that the true value is above the limit.
//!
//! - Error rate: the exact binomial test of "true rate <= limit" ([`proportions::rate_above`]):
//!   the p-value is P(X >= errors) for X binomial with the canary's requests and the limit's
//!   rate. It is exact at any count, so no large-sample switch is needed. A limit of 0 fails
//!   on the first error (p = 0); a limit of 100% never fails.
//! - Latency: the percentile `q` is above `L` milliseconds exactly when more than `1 - q` of
//!   the requests are slower than `L`. So the requests slower than `L` are counted
//!   ([`slower_than`]) and put to the same binomial test against the share `1 - q`. This is
//!   the order-statistic confidence bound of a quantile read the other way round: the test
//!   rejects exactly when the one-sided lower bound of the percentile, an order statistic of
//!   the sample, is above `L`. A histogram bucket that straddles `L` counts as not slower, so
//!   the histogram's coarseness above 128 ms never fails a canary that is within the limit.
//!
//! The price is the few requests of a short interval. At 235 requests, a 1% limit and the
//! comparison on (three tests at 0.05/3 each), 7 errors (2.98%) are needed to fail, and the
//! limit's test catches a true 5% in 95.2% of intervals (the judge, with the comparison, in
//! 96.7%). No test at confidence 0.95 does much better there: the most powerful one, given
//! the whole 5% and randomized at the boundary, catches 98.3%. From about 350 requests the
//! limit alone catches 99%; and a canary that passes one interval in thirty does not pass
//! every step of a rollout.
//!
//! # How sure "significant" is
//!
//! `confidence` is how sure the judge must be before it calls the canary worse, and the judge
//! is one decision made from up to four tests: the two limits that are set and, when
//! comparing, the two comparisons. It fails when any test rejects. Testing each at
//! `1 - confidence` would raise the chance that a canary within its limits and no worse than
//! the primary fails towards `k` times that, so each of the `k` tests that run gets
//! `(1 - confidence) / k` (Bonferroni; Holm gives the same verdict when one rejection
//! suffices). By the union bound such a canary then fails at most `1 - confidence` of the
//! time, whatever the dependence between the tests (the error-rate limit and the error-rate
//! comparison both read the canary's errors). The shares are equal: no check is known in
//! advance to matter more. The bound holds as far as each test holds its level (exactly for
//! the binomial and Fisher tests, approximately for the z and Mann-Whitney tests). A limit's
//! test uses its whole share only on a canary right on the limit; one well within it (0.5%
//! errors against 1%) fails it far less often (0.02% at 235 requests). With the comparison
//! off, the limits keep the whole `1 - confidence` between them: a limit needs `confidence`
//! even then. At the default 0.95 with no limits set a comparison needs p <= 0.025; with
//! both limits set, every test needs p <= 0.0125.
//!
//! What an identical canary then fails is less than the 5% the confidence allows: the exact
//! test is conservative at the few errors a healthy interval has (its attainable p-values are
//! coarse), the z-test's continuity correction keeps it close to the exact test, and a
//! latency shift of 10% of the median is several standard errors at a thousand requests, so
//! the materiality rule leaves the latency comparison almost no false alarms. Measured over
//! 100,000 seeded intervals of 1,000 requests a version (`tests/judge_simulations.rs`): an
//! identical canary fails 1.1% at 0.5% errors and 1.3% at 1%; 3% errors against 0.5% fail
//! 99.3%; 30% slower fails 100%. The two error-rate numbers trade against each other, and
//! this design is at the trade's edge. Computed exactly from the binomial distributions for
//! the error comparison alone: testing it at 0.05 would fail 3% errors 99.75% of the time but
//! an identical canary 2.3% (0.5% errors) to 3.2% (1%); dropping the continuity correction,
//! 99.6% and 1.6% to 2.5%.
//!
//! # Materiality: point estimate, not the interval's bound
//!
//! The shift is compared with the tolerance by its point estimate. Requiring the lower bound of
//! its confidence interval to clear the tolerance would be a second significance test, of
//! "shift > tolerance", on top of the Mann-Whitney test, and would pass more real regressions
//! at small request counts, where the interval is wide and where a canary is usually judged.
//! Significance is the test's job, size the tolerance's (as in Kayenta).

pub mod proportions;
pub mod ranks;

use crate::latency::Latencies;
use fledge_crds::canary::AccessLog;
use fledge_crds::canary::Verdict;
use fledge_crds::canary::access_log::{DEFAULT_CONFIDENCE, DEFAULT_LATENCY_TOLERANCE_PERCENT, DEFAULT_MIN_REQUESTS};
use proportions::Proportion;

/// The latency percentile limited and reported when `maxLatency.percentile` is not set.
pub const DEFAULT_LATENCY_PERCENTILE: f64 = 99.0;
/// The bounds of `comparison.confidence`.
pub const CONFIDENCE_RANGE: (f64, f64) = (0.5, 0.999);
/// The number of comparisons with the primary; with the limits that are set, the tests among
/// which `1 - confidence` is shared.
const COMPARISONS: usize = 2;

/// What one version served in the interval.
#[derive(Clone, Copy, Debug)]
pub struct Sample<'a> {
    /// Requests served.
    pub requests: u64,
    /// Failed requests (more than `requests` count as `requests`).
    pub errors: u64,
    /// How long the requests took.
    pub latencies: &'a Latencies,
}

/// The judge's settings, from `spec.analysis.accessLog`.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Requests each version needs to be judged (0 counts as 1).
    pub min_requests: u64,
    /// The largest passing error rate of the canary, in percent.
    pub max_error_rate: Option<f64>,
    /// The largest passing latency of the canary: `(percentile, milliseconds)`.
    pub max_latency: Option<(f64, f64)>,
    /// Whether to compare the canary with the primary.
    pub compare: bool,
    /// How sure the judge must be before it calls the canary worse than the primary.
    pub confidence: f64,
    /// Percentage points by which the canary's error rate may exceed the primary's.
    pub error_rate_tolerance: f64,
    /// Percent of the primary's median latency by which the canary's may be higher.
    pub latency_tolerance: f64,
}

impl Settings {
    /// The settings of a spec, with the CRD's defaults for what it leaves out.
    pub fn from_spec(spec: &AccessLog) -> Self {
        let comparison = spec.comparison.clone().unwrap_or_default();
        Self {
            min_requests: u64::try_from(spec.min_requests.unwrap_or(DEFAULT_MIN_REQUESTS)).unwrap_or(0),
            max_error_rate: spec.max_error_rate,
            max_latency: spec
                .max_latency
                .as_ref()
                .map(|l| (l.percentile.unwrap_or(DEFAULT_LATENCY_PERCENTILE), l.milliseconds)),
            compare: comparison.enabled.unwrap_or(true),
            confidence: comparison.confidence.unwrap_or(DEFAULT_CONFIDENCE),
            error_rate_tolerance: comparison.error_rate_tolerance.unwrap_or(0.0),
            latency_tolerance: comparison.latency_tolerance.unwrap_or(DEFAULT_LATENCY_TOLERANCE_PERCENT),
        }
    }

    /// The settings with every number in its range: a NaN limit is no limit, a NaN setting
    /// its default. The CRD's schema keeps such values out; the judge must not panic on them
    /// anyway.
    fn sanitized(&self) -> Self {
        let finite = |v: f64| v.is_finite().then_some(v);
        Self {
            min_requests: self.min_requests.max(1),
            max_error_rate: self.max_error_rate.and_then(finite),
            max_latency: self.max_latency.and_then(|(percentile, ms)| {
                let percentile = finite(percentile).unwrap_or(DEFAULT_LATENCY_PERCENTILE).clamp(0.0, 100.0);
                finite(ms).map(|ms| (percentile, ms))
            }),
            compare: self.compare,
            confidence: finite(self.confidence)
                .unwrap_or(DEFAULT_CONFIDENCE)
                .clamp(CONFIDENCE_RANGE.0, CONFIDENCE_RANGE.1),
            error_rate_tolerance: finite(self.error_rate_tolerance).unwrap_or(0.0).clamp(0.0, 100.0),
            latency_tolerance: if self.latency_tolerance.is_nan() {
                DEFAULT_LATENCY_TOLERANCE_PERCENT
            } else {
                self.latency_tolerance.max(0.0)
            },
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::from_spec(&AccessLog::default())
    }
}

/// The verdict on the canary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Healthy: within the limits and not shown to be worse than the primary.
    Pass,
    /// Broke a limit, or is shown to be worse than the primary.
    Fail,
    /// Too few requests to judge; the step waits.
    NoData,
}

impl From<Outcome> for Verdict {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Pass => Verdict::Pass,
            Outcome::Fail => Verdict::Fail,
            Outcome::NoData => Verdict::NoData,
        }
    }
}

/// One of the judge's checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The canary's error rate against `maxErrorRate`.
    ErrorRate,
    /// The canary's latency percentile against `maxLatency`.
    Latency,
    /// The canary's error rate against the primary's.
    ErrorRateVsPrimary,
    /// The canary's latencies against the primary's.
    LatencyVsPrimary,
}

impl Check {
    /// A short name for the status and events.
    pub fn name(&self) -> &'static str {
        match self {
            Check::ErrorRate => "error-rate",
            Check::Latency => "latency",
            Check::ErrorRateVsPrimary => "error-rate-vs-primary",
            Check::LatencyVsPrimary => "latency-vs-primary",
        }
    }
}

/// The result of one check.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Which check.
    pub check: Check,
    /// Whether the canary passed it.
    pub passed: bool,
    /// The canary's value: the error rate in percent (error checks), the latency at the
    /// percentile in milliseconds (`Latency`, the point estimate; the test is on the share of
    /// requests slower than the limit), or the Hodges-Lehmann shift in percent of the
    /// primary's median (`LatencyVsPrimary`).
    pub value: f64,
    /// The primary's value in the comparisons: its error rate in percent, or its median
    /// latency in milliseconds.
    pub primary: Option<f64>,
    /// The limit `value` is held to: the maximum (absolute checks) or the tolerance
    /// (comparisons, in points or percent).
    pub limit: f64,
    /// The one-sided p-value of the check's test: that the canary is above the limit (the
    /// exact binomial test), or worse than the primary (the comparisons).
    pub p_value: Option<f64>,
    /// One line quoting the numbers.
    pub message: String,
}

/// The judge's verdict on one interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    /// Pass, fail or no data.
    pub outcome: Outcome,
    /// The headline value: the canary's error rate in percent (`None` without data).
    pub value: Option<f64>,
    /// One line for a person: the failed checks, or the numbers that passed, or who had too
    /// few requests.
    pub message: String,
    /// Every check that ran.
    pub findings: Vec<Finding>,
}

/// Judges the canary's interval against the settings and the primary's interval.
pub fn judge(canary: &Sample, primary: &Sample, settings: &Settings) -> Judgement {
    let settings = settings.sanitized();
    let (canary_errors, primary_errors) =
        (Proportion::new(canary.errors, canary.requests), Proportion::new(primary.errors, primary.requests));
    if let Some(message) = missing_data(canary, primary, &settings) {
        return Judgement { outcome: Outcome::NoData, value: None, message, findings: Vec::new() };
    }
    let percentile = settings.max_latency.map_or(DEFAULT_LATENCY_PERCENTILE, |(p, _)| p);
    let alpha = (1.0 - settings.confidence) / tests(&settings) as f64;
    let mut findings = Vec::new();
    if let Some(max) = settings.max_error_rate {
        findings.push(error_rate_limit(canary_errors, max, &settings, alpha));
    }
    if let Some((percentile, max)) = settings.max_latency {
        findings.extend(latency_limit(canary.latencies, percentile, max, &settings, alpha));
    }
    if settings.compare {
        findings.push(error_rate_comparison(canary_errors, primary_errors, &settings, alpha));
        findings.extend(latency_comparison(canary.latencies, primary.latencies, &settings, alpha));
    }
    let failed: Vec<&str> = findings.iter().filter(|f| !f.passed).map(|f| f.message.as_str()).collect();
    let (outcome, message) = if failed.is_empty() {
        (Outcome::Pass, summary(canary, primary, &settings, percentile, &findings))
    } else {
        (Outcome::Fail, join_failures(&failed, settings.confidence))
    };
    Judgement { outcome, value: Some(canary_errors.rate() * 100.0), message, findings }
}

/// How many tests share `1 - confidence`: the limits that are set and the comparisons (at
/// least one, so that a judge with nothing to test divides by something).
fn tests(settings: &Settings) -> usize {
    let limits = usize::from(settings.max_error_rate.is_some()) + usize::from(settings.max_latency.is_some());
    let comparisons = if settings.compare { COMPARISONS } else { 0 };
    (limits + comparisons).max(1)
}

/// The failed checks' sentences, with a subject said once, and the confidence once for it:
/// `canary error rate 9% (9 of 100) above limit 1%, p<0.0001 and above primary 0% (0 of 100),
/// ... at confidence 0.95` rather than the same numbers twice.
fn join_failures(failed: &[&str], confidence: f64) -> String {
    let at = format!(" at confidence {}", num(confidence));
    let mut out = String::new();
    let mut subject: Option<&str> = None;
    for message in failed {
        let own = message.find(") above ").map(|i| &message[..i + 2]);
        match (subject, own) {
            (Some(said), Some(this)) if said == this => {
                let rest = &message[this.len()..];
                if out.ends_with(&at) && rest.contains(&at) {
                    out.truncate(out.len() - at.len());
                }
                out.push_str(" and ");
                out.push_str(rest);
            }
            _ => {
                if !out.is_empty() {
                    out.push_str("; ");
                }
                out.push_str(message);
            }
        }
        subject = own;
    }
    out
}

/// Why there is nothing to judge, if so: too few requests, or no latencies where they are
/// needed.
fn missing_data(canary: &Sample, primary: &Sample, settings: &Settings) -> Option<String> {
    let min = settings.min_requests;
    let canary_short = canary.requests < min;
    let primary_short = settings.compare && primary.requests < min;
    let (c, p) = (canary.requests, primary.requests);
    match (canary_short, primary_short) {
        (true, true) => return Some(format!("canary had {c} and primary {p} requests, fewer than the {min} needed")),
        (true, false) => return Some(format!("canary had {c} requests, fewer than the {min} needed")),
        (false, true) => return Some(format!("primary had {p} requests, fewer than the {min} needed to compare")),
        (false, false) => {}
    }
    let needs_canary = settings.max_latency.is_some() || settings.compare;
    if needs_canary && canary.latencies.is_empty() {
        return Some(format!("canary had {c} requests but no latencies"));
    }
    if settings.compare && primary.latencies.is_empty() {
        return Some(format!("primary had {p} requests but no latencies"));
    }
    None
}

fn error_rate_limit(canary: Proportion, max: f64, settings: &Settings, alpha: f64) -> Finding {
    let rate = canary.rate() * 100.0;
    let p_value = proportions::rate_above(canary, max / 100.0);
    let passed = p_value > alpha;
    let (p, confidence) = (p_num(p_value), num(settings.confidence));
    let message = if !passed {
        format!(
            "canary error rate {}% ({} of {}) above limit {}%, {p} at confidence {confidence}",
            num(rate),
            canary.events,
            canary.trials,
            num(max)
        )
    } else if rate > max {
        format!("error rate {}% within limit {}% ({})", num(rate), num(max), not_shown(canary, "", p_value))
    } else {
        format!("error rate {}% within limit {}%, {p}", num(rate), num(max))
    };
    Finding { check: Check::ErrorRate, passed, value: rate, primary: None, limit: max, p_value: Some(p_value), message }
}

fn latency_limit(canary: &Latencies, percentile: f64, max: f64, settings: &Settings, alpha: f64) -> Option<Finding> {
    let value = canary.percentile(percentile)?;
    let slower = Proportion::new(slower_than(canary, max), canary.count());
    let p_value = proportions::rate_above(slower, 1.0 - percentile / 100.0);
    let passed = p_value > alpha;
    let (q, p, confidence) = (num(percentile), p_num(p_value), num(settings.confidence));
    let message = if !passed {
        format!(
            "p{q} latency {}ms above limit {}ms ({}% of {} requests slower than {}ms, {p} at confidence {confidence})",
            num(value),
            num(max),
            num(slower.rate() * 100.0),
            slower.trials,
            num(max),
        )
    } else if value > max {
        let why = not_shown(slower, &format!(" requests slower than {}ms", num(max)), p_value);
        format!("p{q} latency {}ms within limit {}ms ({why})", num(value), num(max))
    } else {
        format!("p{q} latency {}ms within limit {}ms, {p}", num(value), num(max))
    };
    Some(Finding { check: Check::Latency, passed, value, primary: None, limit: max, p_value: Some(p_value), message })
}

/// Why a point estimate above its limit passed: `3 of 235 not enough to say it is above,
/// p=0.4176`, with `what` after the count.
fn not_shown(observed: Proportion, what: &str, p_value: f64) -> String {
    format!("{} of {}{what} not enough to say it is above, {}", observed.events, observed.trials, p_num(p_value))
}

/// The requests slower than `max` milliseconds. Envoy logs whole milliseconds, so a bucket's
/// values are `lower..upper` and all of them are slower when `lower > max`. A bucket that
/// straddles `max` (possible only above 128 ms, where a bucket is up to 1.6% wide) may hold
/// values on both sides; it counts as not slower, the way that cannot fail a canary that is
/// within its limit. The price is power: the requests of that one bucket are not evidence.
pub fn slower_than(latencies: &Latencies, max: f64) -> u64 {
    latencies.buckets().filter(|b| b.lower as f64 > max).map(|b| b.count).sum()
}

fn error_rate_comparison(canary: Proportion, primary: Proportion, settings: &Settings, alpha: f64) -> Finding {
    let tolerance = settings.error_rate_tolerance;
    let (p_value, _) = proportions::rate_increase(canary, primary, tolerance / 100.0);
    let (rate, primary_rate) = (canary.rate() * 100.0, primary.rate() * 100.0);
    let passed = p_value > alpha;
    let tolerated = if tolerance > 0.0 { format!(" and tolerance {} points", num(tolerance)) } else { String::new() };
    let message = if passed {
        format!("error rate {}% vs primary {}%, {}", num(rate), num(primary_rate), p_num(p_value))
    } else {
        format!(
            "canary error rate {}% ({} of {}) above primary {}% ({} of {}), {} at confidence {}{tolerated}",
            num(rate),
            canary.events,
            canary.trials,
            num(primary_rate),
            primary.events,
            primary.trials,
            p_num(p_value),
            num(settings.confidence),
        )
    };
    Finding {
        check: Check::ErrorRateVsPrimary,
        passed,
        value: rate,
        primary: Some(primary_rate),
        limit: tolerance,
        p_value: Some(p_value),
        message,
    }
}

fn latency_comparison(canary: &Latencies, primary: &Latencies, settings: &Settings, alpha: f64) -> Option<Finding> {
    let test = ranks::mann_whitney_greater(canary, primary)?;
    let shift = ranks::hodges_lehmann_shift(canary, primary)?;
    let median = primary.percentile(50.0)?;
    // Envoy logs whole milliseconds: a median of 0 is "under a millisecond", and a shift is
    // judged against at least that.
    let relative = shift / median.max(1.0) * 100.0;
    let significant = test.p_value <= alpha;
    let material = relative > settings.latency_tolerance;
    let passed = !(significant && material);
    let p = p_num(test.p_value);
    let (tolerance, confidence) = (num(settings.latency_tolerance), num(settings.confidence));
    let message = if passed {
        format!("latency shift {}% ({}ms on median {}ms), {p}", signed(relative), signed(shift), num(median))
    } else {
        format!(
            "canary latency {}% above primary ({}ms on median {}ms), {p} at confidence {confidence} and tolerance {tolerance}%",
            num(relative),
            num(shift),
            num(median),
        )
    };
    Some(Finding {
        check: Check::LatencyVsPrimary,
        passed,
        value: relative,
        primary: Some(median),
        limit: settings.latency_tolerance,
        p_value: Some(test.p_value),
        message,
    })
}

/// The passing line: the canary's error rate and latency next to the primary's or the limits.
/// A value above its limit that passed says why, so that the line does not read as a broken
/// limit let through.
fn summary(canary: &Sample, primary: &Sample, settings: &Settings, percentile: f64, findings: &[Finding]) -> String {
    let rate = |s: &Sample| Proportion::new(s.errors, s.requests).rate() * 100.0;
    let above = |check: Check| findings.iter().find(|f| f.check == check && f.value > f.limit).and_then(|f| f.p_value);
    let mut errors = format!("error rate {}%", num(rate(canary)));
    if settings.compare {
        errors += &format!(" vs primary {}%", num(rate(primary)));
    }
    if let Some(max) = settings.max_error_rate {
        errors += &match above(Check::ErrorRate) {
            Some(p) => {
                format!(" (limit {}%, {})", num(max), not_shown(Proportion::new(canary.errors, canary.requests), "", p))
            }
            None => format!(" (limit {}%)", num(max)),
        };
    }
    let mut parts = vec![errors];
    if let Some(value) = canary.latencies.percentile(percentile) {
        let mut latency = format!("p{} {}ms", num(percentile), num(value));
        if let Some(other) = primary.latencies.percentile(percentile).filter(|_| settings.compare) {
            latency += &format!(" vs {}ms", num(other));
        }
        if let Some((_, max)) = settings.max_latency {
            latency += &match above(Check::Latency) {
                Some(p) => {
                    let slower = Proportion::new(slower_than(canary.latencies, max), canary.latencies.count());
                    format!(" (limit {}ms, {})", num(max), not_shown(slower, " requests slower", p))
                }
                None => format!(" (limit {}ms)", num(max)),
            };
        }
        parts.push(latency);
    }
    if !settings.compare && settings.max_error_rate.is_none() && settings.max_latency.is_none() {
        parts.push("no limits set, comparison off".to_owned());
    }
    parts.join(", ")
}

/// A number for a message: at most two decimals, fewer for large values, no trailing zeros.
fn num(v: f64) -> String {
    let s = match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    };
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s };
    if s == "-0" { "0".to_owned() } else { s }
}

fn signed(v: f64) -> String {
    let s = num(v);
    if v > 0.0 && s != "0" { format!("+{s}") } else { s }
}

/// A p-value for a message: `p=` with four decimals, or `p<0.0001`.
fn p_num(p: f64) -> String {
    if p < 0.0001 {
        return "p<0.0001".to_owned();
    }
    let s = format!("{p:.4}");
    format!("p={}", s.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fledge_crds::canary::{AccessLogComparison, LatencyLimit};

    /// `requests` latencies cycling through `low..=high` milliseconds.
    fn spread(requests: u64, low: u64, high: u64) -> Latencies {
        let mut l = Latencies::new();
        (0..requests).for_each(|i| l.record(low + i % (high - low + 1)));
        l
    }

    fn sample(requests: u64, errors: u64, latencies: &Latencies) -> Sample<'_> {
        Sample { requests, errors, latencies }
    }

    fn absolute_only() -> Settings {
        Settings { compare: false, ..Settings::default() }
    }

    #[test]
    fn settings_take_the_crd_defaults() {
        let s = Settings::default();
        assert_eq!((s.min_requests, s.compare, s.confidence), (50, true, 0.95));
        assert_eq!(
            (s.max_error_rate, s.max_latency, s.error_rate_tolerance, s.latency_tolerance),
            (None, None, 0.0, 10.0)
        );
        let spec = AccessLog {
            min_requests: Some(10),
            max_error_rate: Some(1.0),
            max_latency: Some(LatencyLimit { percentile: None, milliseconds: 200.0 }),
            comparison: Some(AccessLogComparison {
                enabled: Some(false),
                confidence: Some(0.99),
                ..Default::default()
            }),
            ..AccessLog::default()
        };
        let s = Settings::from_spec(&spec);
        assert_eq!((s.min_requests, s.max_error_rate, s.max_latency), (10, Some(1.0), Some((99.0, 200.0))));
        assert_eq!((s.compare, s.confidence), (false, 0.99));
    }

    #[test]
    fn too_few_requests_is_no_data_naming_who() {
        let l = spread(100, 30, 50);
        let s = Settings::default();
        let j = judge(&sample(12, 0, &l), &sample(500, 0, &l), &s);
        assert_eq!(
            (j.outcome, j.value, j.message.as_str()),
            (Outcome::NoData, None, "canary had 12 requests, fewer than the 50 needed")
        );
        let j = judge(&sample(500, 0, &l), &sample(30, 0, &l), &s);
        assert_eq!(j.message, "primary had 30 requests, fewer than the 50 needed to compare");
        let j = judge(&sample(12, 0, &l), &sample(30, 0, &l), &s);
        assert_eq!(j.message, "canary had 12 and primary 30 requests, fewer than the 50 needed");
        let j = judge(&sample(500, 0, &Latencies::new()), &sample(500, 0, &l), &s);
        assert_eq!((j.outcome, j.message.as_str()), (Outcome::NoData, "canary had 500 requests but no latencies"));
    }

    #[test]
    fn without_comparison_a_quiet_primary_does_not_matter() {
        let l = spread(100, 30, 50);
        let settings = Settings { max_error_rate: Some(1.0), ..absolute_only() };
        let j = judge(&sample(100, 5, &l), &sample(3, 0, &Latencies::new()), &settings);
        assert_eq!(j.outcome, Outcome::Fail);
        // P(X >= 5) for 100 requests at 1%: 0.0034, below the whole 0.05 the one test gets.
        assert_eq!(j.message, "canary error rate 5% (5 of 100) above limit 1%, p=0.0034 at confidence 0.95");
        assert_eq!(j.value, Some(5.0));
    }

    /// P(X >= events) for X binomial with `trials` and `rate`, summed from the probability of
    /// each count: the reference the judge's p-values are checked against.
    fn binomial_tail(events: u64, trials: u64, rate: f64) -> f64 {
        let mut pmf = (1.0 - rate).powf(trials as f64);
        let mut tail = 0.0;
        for k in 0..=trials {
            if k >= events {
                tail += pmf;
            }
            pmf *= (trials - k) as f64 / (k + 1) as f64 * rate / (1.0 - rate);
        }
        tail
    }

    fn finding(j: &Judgement, check: Check) -> &Finding {
        j.findings.iter().find(|f| f.check == check).unwrap()
    }

    #[test]
    fn absolute_limits_fail_clearly_above_and_pass_on_the_bound() {
        let mut slow = spread(90, 30, 50);
        slow.record_n(100, 10);
        let settings = Settings { max_error_rate: Some(1.0), max_latency: Some((99.0, 80.0)), ..absolute_only() };
        let j = judge(&sample(100, 1, &slow), &sample(0, 0, &Latencies::new()), &settings);
        assert_eq!(
            (j.outcome, j.message.as_str()),
            (
                Outcome::Fail,
                "p99 latency 100ms above limit 80ms (10% of 100 requests slower than 80ms, p<0.0001 at confidence 0.95)"
            )
        );
        let latency = finding(&j, Check::Latency);
        assert_eq!((latency.value, latency.limit, latency.passed), (100.0, 80.0, false));
        let p = latency.p_value.unwrap();
        assert!((p / binomial_tail(10, 100, 0.01) - 1.0).abs() < 1e-9, "{p}");

        let settings = Settings { max_latency: Some((99.0, 100.0)), ..settings };
        let j = judge(&sample(100, 1, &slow), &sample(0, 0, &Latencies::new()), &settings);
        assert_eq!(j.outcome, Outcome::Pass);
        assert_eq!(j.message, "error rate 1% (limit 1%), p99 100ms (limit 100ms)");
        assert_eq!(j.findings.len(), 2);
        assert_eq!(finding(&j, Check::ErrorRate).message, "error rate 1% within limit 1%, p=0.634");
        assert_eq!(finding(&j, Check::Latency).message, "p99 latency 100ms within limit 100ms, p=1");
    }

    #[test]
    fn an_error_rate_above_the_limit_by_chance_passes() {
        // The A/A release that was rolled back: both versions at 0.5% errors, a 1% limit, and
        // 3 errors in the canary's 235 requests, which a true 0.5% gives 11% of the time.
        let l = spread(300, 20, 60);
        let limited = Settings { max_error_rate: Some(1.0), ..Settings::default() };
        let j = judge(&sample(235, 3, &l), &sample(365, 2, &l), &limited);
        assert_eq!(j.outcome, Outcome::Pass, "{j:?}");
        assert_eq!(
            j.message,
            "error rate 1.28% vs primary 0.55% (limit 1%, 3 of 235 not enough to say it is above, p=0.4176), \
             p99 60ms vs 60ms"
        );
        let limit = finding(&j, Check::ErrorRate);
        assert_eq!(
            limit.message,
            "error rate 1.28% within limit 1% (3 of 235 not enough to say it is above, p=0.4176)"
        );
        assert_eq!((limit.passed, limit.limit), (true, 1.0));
        let p = limit.p_value.unwrap();
        assert!((p / binomial_tail(3, 235, 0.01) - 1.0).abs() < 1e-9, "{p}");

        // 12 of 235 is evidence; alone, and said once with the comparison that fails too.
        let j = judge(&sample(235, 12, &l), &sample(365, 2, &l), &Settings { compare: false, ..limited.clone() });
        assert_eq!(
            (j.outcome, j.message.as_str()),
            (Outcome::Fail, "canary error rate 5.11% (12 of 235) above limit 1%, p<0.0001 at confidence 0.95")
        );
        let p = finding(&j, Check::ErrorRate).p_value.unwrap();
        assert!((p / binomial_tail(12, 235, 0.01) - 1.0).abs() < 1e-9, "{p}");
        let j = judge(&sample(235, 12, &l), &sample(365, 0, &l), &limited);
        assert_eq!(
            j.message,
            "canary error rate 5.11% (12 of 235) above limit 1%, p<0.0001 and above primary 0% (0 of 365), \
             p<0.0001 at confidence 0.95"
        );
    }

    #[test]
    fn limits_of_zero_and_a_hundred_percent_are_conclusive() {
        let l = spread(235, 20, 60);
        let zero = Settings { max_error_rate: Some(0.0), ..absolute_only() };
        let j = judge(&sample(235, 1, &l), &sample(0, 0, &l), &zero);
        assert_eq!(
            (j.outcome, j.message.as_str()),
            (Outcome::Fail, "canary error rate 0.43% (1 of 235) above limit 0%, p<0.0001 at confidence 0.95")
        );
        assert_eq!(finding(&j, Check::ErrorRate).p_value, Some(0.0));
        assert_eq!(judge(&sample(235, 0, &l), &sample(0, 0, &l), &zero).outcome, Outcome::Pass);
        let hundred = Settings { max_error_rate: Some(100.0), ..absolute_only() };
        let j = judge(&sample(235, 235, &l), &sample(0, 0, &l), &hundred);
        assert_eq!((j.outcome, finding(&j, Check::ErrorRate).p_value), (Outcome::Pass, Some(1.0)));
        // A p100 limit is a maximum: one request slower fails.
        let mut one_slow = spread(234, 20, 60);
        one_slow.record(61);
        let max = Settings { max_latency: Some((100.0, 60.0)), ..absolute_only() };
        let j = judge(&sample(235, 0, &one_slow), &sample(0, 0, &l), &max);
        assert_eq!(
            j.message,
            "p100 latency 61ms above limit 60ms (0.43% of 235 requests slower than 60ms, p<0.0001 at confidence 0.95)"
        );
    }

    #[test]
    fn a_percentile_above_the_limit_fails_only_on_evidence() {
        // The point p99 of 235 requests is the 233rd: 3 slow ones put it above the limit, but
        // 3 of 235 slower than 500 ms is no evidence that more than 1% are.
        let with_slow = |slow: u64| {
            let mut l = spread(235 - slow, 30, 50);
            l.record_n(620, slow);
            l
        };
        let settings = Settings { max_latency: Some((99.0, 500.0)), ..absolute_only() };
        let few = with_slow(3);
        let j = judge(&sample(235, 0, &few), &sample(0, 0, &few), &settings);
        assert_eq!(j.outcome, Outcome::Pass, "{j:?}");
        assert_eq!(
            j.message,
            "error rate 0%, p99 620ms (limit 500ms, 3 of 235 requests slower not enough to say it is above, p=0.4176)"
        );
        assert_eq!(
            finding(&j, Check::Latency).message,
            "p99 latency 620ms within limit 500ms (3 of 235 requests slower than 500ms not enough to say it is above, \
             p=0.4176)"
        );
        // 6 of 235 is p=0.032: evidence when the limit is the only test, not when it shares
        // 1 - confidence with the error-rate limit.
        let six = with_slow(6);
        let j = judge(&sample(235, 0, &six), &sample(0, 0, &six), &settings);
        assert_eq!(
            j.message,
            "p99 latency 620ms above limit 500ms (2.55% of 235 requests slower than 500ms, p=0.032 at confidence 0.95)"
        );
        let p = finding(&j, Check::Latency).p_value.unwrap();
        assert!((p / binomial_tail(6, 235, 0.01) - 1.0).abs() < 1e-9, "{p}");
        let both = Settings { max_error_rate: Some(1.0), ..settings.clone() };
        assert_eq!(judge(&sample(235, 0, &six), &sample(0, 0, &six), &both).outcome, Outcome::Pass);
    }

    #[test]
    fn a_bucket_straddling_the_limit_counts_as_within() {
        // Above 512 ms a bucket is 8 ms wide: 517 ms is recorded in [512, 520), which may as
        // well hold 515 ms, so against a 515 ms limit it is not counted as slower.
        let mut l = spread(215, 30, 50);
        l.record_n(517, 20);
        assert_eq!(slower_than(&l, 515.0), 0);
        assert_eq!(slower_than(&l, 511.0), 20);
        assert_eq!(slower_than(&l, 511.5), 20);
        let settings = Settings { max_latency: Some((99.0, 515.0)), ..absolute_only() };
        let j = judge(&sample(235, 0, &l), &sample(0, 0, &l), &settings);
        assert_eq!(j.outcome, Outcome::Pass, "{j:?}");
        assert_eq!(finding(&j, Check::Latency).p_value, Some(1.0));
        // In the next bucket, [520, 528), they are slower; below 128 ms every value is exact.
        let mut l = spread(215, 30, 50);
        l.record_n(520, 20);
        assert_eq!(slower_than(&l, 515.0), 20);
        assert_eq!(judge(&sample(235, 0, &l), &sample(0, 0, &l), &settings).outcome, Outcome::Fail);
        assert_eq!((slower_than(&l, 49.0), slower_than(&l, 50.0)), (30, 20));
    }

    #[test]
    fn the_limits_share_one_minus_confidence_with_the_comparisons() {
        // 7 of 235 at a 1% limit is p=0.01.
        let l = spread(235, 20, 60);
        let alone = Settings { max_error_rate: Some(1.0), ..absolute_only() };
        let judged =
            |errors: u64, settings: &Settings| judge(&sample(235, errors, &l), &sample(235, errors, &l), settings);
        assert_eq!(judged(6, &alone).outcome, Outcome::Fail, "p=0.032 against 0.05");
        // With the comparisons, three tests share 0.05: the same p passes.
        let comparing = Settings { compare: true, ..alone.clone() };
        assert_eq!(judged(6, &comparing).outcome, Outcome::Pass, "p=0.032 against 0.0167");
        assert_eq!(judged(7, &comparing).outcome, Outcome::Fail, "p=0.01 against 0.0167");
        // The confidence holds with the comparison off.
        let sure = Settings { confidence: 0.99, ..alone };
        assert_eq!(judged(7, &sure).outcome, Outcome::Pass, "p=0.01003 against 0.01");
        assert_eq!(judged(8, &sure).outcome, Outcome::Fail, "p=0.0028 against 0.01");
        assert_eq!(
            judged(8, &sure).message,
            "canary error rate 3.4% (8 of 235) above limit 1%, p=0.0028 at confidence 0.99"
        );
    }

    #[test]
    fn with_nothing_to_check_data_is_enough() {
        let l = spread(100, 30, 50);
        let j = judge(&sample(100, 40, &l), &sample(0, 0, &l), &absolute_only());
        assert_eq!(j.outcome, Outcome::Pass);
        assert_eq!(j.message, "error rate 40%, p99 50ms, no limits set, comparison off");
        assert!(j.findings.is_empty());
    }

    #[test]
    fn a_significantly_higher_error_rate_fails_with_the_numbers() {
        let l = spread(500, 20, 60);
        let j = judge(&sample(500, 51, &l), &sample(500, 2, &l), &Settings::default());
        assert_eq!(j.outcome, Outcome::Fail);
        assert_eq!(
            j.message,
            "canary error rate 10.2% (51 of 500) above primary 0.4% (2 of 500), p<0.0001 at confidence 0.95"
        );
        let finding = j.findings.iter().find(|f| f.check == Check::ErrorRateVsPrimary).unwrap();
        assert_eq!((finding.value, finding.primary, finding.limit), (10.2, Some(0.4), 0.0));
        assert!(finding.p_value.unwrap() < 1e-6);
        // With an absolute limit too, the canary's numbers are said once.
        let limited = Settings { max_error_rate: Some(1.0), ..Settings::default() };
        assert_eq!(
            judge(&sample(500, 51, &l), &sample(500, 2, &l), &limited).message,
            "canary error rate 10.2% (51 of 500) above limit 1%, p<0.0001 and above primary 0.4% (2 of 500), \
             p<0.0001 at confidence 0.95"
        );
        // The same difference within a 10-point tolerance passes.
        let tolerant = Settings { error_rate_tolerance: 10.0, ..Settings::default() };
        assert_eq!(judge(&sample(500, 51, &l), &sample(500, 2, &l), &tolerant).outcome, Outcome::Pass);
    }

    #[test]
    fn a_passing_step_quotes_both_versions() {
        let (canary, primary) = (spread(1000, 21, 41), spread(1000, 20, 40));
        let j = judge(&sample(1000, 3, &canary), &sample(1000, 4, &primary), &Settings::default());
        assert_eq!(j.outcome, Outcome::Pass, "{j:?}");
        assert_eq!(j.message, "error rate 0.3% vs primary 0.4%, p99 41ms vs 40ms");
        assert_eq!(j.value, Some(0.3));
        let latency = j.findings.iter().find(|f| f.check == Check::LatencyVsPrimary).unwrap();
        // One millisecond on a 30 ms median: significant at a thousand requests, but not
        // material.
        assert!(latency.p_value.unwrap() < 0.025 && latency.passed, "{latency:?}");
        assert_eq!(latency.message, "latency shift +3.33% (+1ms on median 30ms), p=0.0002");
    }

    #[test]
    fn a_slower_canary_fails_only_beyond_the_tolerance() {
        let primary = spread(1000, 30, 50);
        let j = judge(&sample(1000, 0, &spread(1000, 36, 56)), &sample(1000, 0, &primary), &Settings::default());
        assert_eq!(j.outcome, Outcome::Fail);
        assert_eq!(
            j.message,
            "canary latency 15% above primary (6ms on median 40ms), p<0.0001 at confidence 0.95 and tolerance 10%"
        );
        let lenient = Settings { latency_tolerance: 20.0, ..Settings::default() };
        let j = judge(&sample(1000, 0, &spread(1000, 36, 56)), &sample(1000, 0, &primary), &lenient);
        assert_eq!(j.outcome, Outcome::Pass);
        // A large shift on too few requests to be significant passes too.
        let few = Settings { min_requests: 3, ..Settings::default() };
        let j = judge(&sample(3, 0, &spread(3, 40, 60)), &sample(3, 0, &spread(3, 30, 50)), &few);
        assert_eq!(j.outcome, Outcome::Pass, "{j:?}");
    }

    #[test]
    fn no_input_makes_it_panic() {
        let histograms = [Latencies::new(), spread(1, 0, 0), spread(100, 0, 3), spread(100, 30, 50), {
            let mut l = Latencies::new();
            l.record_n(u64::MAX, u64::MAX / 4);
            l.record_n(0, 3);
            l
        }];
        let counts = [(0, 0), (0, 5), (5, 0), (100, 100), (100, 1000), (u64::MAX, u64::MAX), (u64::MAX, 1)];
        let settings = [
            Settings::default(),
            Settings {
                min_requests: 0,
                max_error_rate: Some(f64::NAN),
                max_latency: Some((f64::NAN, f64::NAN)),
                compare: true,
                confidence: f64::NAN,
                error_rate_tolerance: f64::NAN,
                latency_tolerance: f64::NAN,
            },
            Settings {
                min_requests: u64::MAX,
                max_error_rate: Some(-1.0),
                max_latency: Some((f64::INFINITY, -5.0)),
                compare: true,
                confidence: 2.0,
                error_rate_tolerance: -3.0,
                latency_tolerance: f64::INFINITY,
            },
            Settings { min_requests: 0, max_error_rate: Some(0.0), max_latency: Some((0.0, 0.0)), ..absolute_only() },
        ];
        for c in &histograms {
            for p in &histograms {
                for &(requests, errors) in &counts {
                    for &(p_requests, p_errors) in &counts {
                        for s in &settings {
                            let j = judge(&sample(requests, errors, c), &sample(p_requests, p_errors, p), s);
                            assert!(!j.message.is_empty());
                            assert!(j.value.is_none_or(|v| (0.0..=100.0).contains(&v)), "{j:?}");
                            for f in &j.findings {
                                assert!(f.p_value.is_none_or(|p| (0.0..=1.0).contains(&p)), "{f:?}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn outcomes_map_to_the_status_verdicts() {
        assert_eq!(Verdict::from(Outcome::NoData), Verdict::NoData);
        assert_eq!(Verdict::from(Outcome::Fail), Verdict::Fail);
        assert_eq!(Verdict::from(Outcome::Pass), Verdict::Pass);
    }
}
