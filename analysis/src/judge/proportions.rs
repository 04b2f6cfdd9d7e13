//! One-sided tests on proportions: that the canary's error proportion is above a fixed limit
//! (the exact binomial test, [`rate_above`]), and that it is higher than the primary's plus a
//! margin (Fisher's exact test for small counts, a score z-test for large ones). Pure.
//!
//! Against a limit there is one sample and a known null rate, so the exact test is cheap at
//! any count and no approximation is needed: the p-value is the binomial upper tail, the
//! chance of at least as many events if the true rate were the limit (Clopper and Pearson
//! (1934): rejecting at `alpha` is the same as the one-sided `1 - alpha` Clopper-Pearson lower
//! bound lying above the limit). The tail is also the test of a percentile against a limit,
//! with "slower than the limit" as the event (see the judge's module doc).
//!
//! Against the primary, which test: the large-sample z-test is trusted only when every expected cell of the 2x2
//! table (errors and successes of each version, under "both have the same rate") is at least
//! 5, Cochran's rule. Below that the normal approximation is badly anti-conservative (a
//! handful of errors can give p=0.01 by chance) and Fisher's exact test is used instead: its
//! one-sided p is a hypergeometric tail, exact given the total number of errors, and never
//! below the nominal level, only above it (it is conservative because the p-values it can
//! reach are few).
//!
//! The z-test carries Yates' continuity correction so that it approximates the exact test
//! rather than the uncorrected Wald test: without it the verdict would jump from conservative
//! to liberal as the counts cross the Cochran line, and at the error rates seen in practice
//! (0.5-1% of a thousand requests, a dozen errors) the uncorrected test fails an identical
//! canary about twice as often as the corrected one.
//!
//! With a margin (the `errorRateTolerance`, "the canary may be this much worse"), the null
//! hypothesis is `canary = primary + margin`, not equality, so the pooled proportion is the
//! wrong variance: the score test of Farrington and Manning (1990) uses the maximum-likelihood
//! rates under that null instead. With no margin that estimate is the pooled proportion, so the
//! one statistic covers both cases. For small counts with a margin there is no exact
//! conditional test; the score test is used and Fisher's test of plain "higher" must reject
//! too (a canary that is not shown to be worse at all is not shown to be worse by a margin).

use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, Hypergeometric, Normal};

/// Expected cell counts below this switch to the exact test (Cochran's rule).
pub const MIN_EXPECTED_CELL: f64 = 5.0;

/// Events (errors) out of trials (requests) for one version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proportion {
    /// Trials with the event, at most `trials` (more are counted as `trials`).
    pub events: u64,
    /// All trials.
    pub trials: u64,
}

impl Proportion {
    /// `events` of `trials`, with `events` capped at `trials`.
    pub fn new(events: u64, trials: u64) -> Self {
        Self { events: events.min(trials), trials }
    }

    /// The share of trials with the event, 0 without trials.
    pub fn rate(&self) -> f64 {
        if self.trials == 0 { 0.0 } else { self.events as f64 / self.trials as f64 }
    }
}

/// Which test produced a p-value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Fisher's exact test (small counts, no margin).
    FisherExact,
    /// The score z-test with continuity correction (large counts).
    ScoreZ,
    /// The larger p of the score z-test with a margin and Fisher's exact test without one
    /// (small counts, with a margin).
    ScoreZAndFisherExact,
}

/// The one-sided p-value that `canary`'s rate exceeds `primary`'s by more than `margin` (a
/// fraction, 0 to 1), and the test used. 1 when either has no trials.
pub fn rate_increase(canary: Proportion, primary: Proportion, margin: f64) -> (f64, Method) {
    let margin = if margin.is_finite() { margin.clamp(0.0, 1.0) } else { 0.0 };
    if !small_counts(canary, primary) {
        return (score_z_greater(canary, primary, margin), Method::ScoreZ);
    }
    let exact = fisher_exact_greater(canary, primary);
    if margin == 0.0 {
        (exact, Method::FisherExact)
    } else {
        (exact.max(score_z_greater(canary, primary, margin)), Method::ScoreZAndFisherExact)
    }
}

/// The one-sided p-value of the exact binomial test that `observed`'s true rate is above
/// `limit` (a fraction, 0 to 1): the probability of at least `observed.events` events in
/// `observed.trials` trials at the rate `limit`. 1 without events or trials.
///
/// At a limit of 0 a single event is impossible under the null, so it is conclusive (p = 0);
/// at a limit of 1 nothing is evidence (p = 1). statrs computes the tail as a regularized
/// incomplete beta function, which keeps small p-values' precision (the tail is summed
/// directly, not as one minus the rest); the tests check it against the summed probabilities
/// up to a million trials, where it agrees to 1e-7. Beyond about 1e8 trials its p-values at or below
/// the expected count drift above 1/2, which cannot change a verdict; a value that is not a
/// number is taken as no evidence.
pub fn rate_above(observed: Proportion, limit: f64) -> f64 {
    let observed = Proportion::new(observed.events, observed.trials);
    if observed.events == 0 || limit.is_nan() || limit >= 1.0 {
        return 1.0;
    }
    if limit <= 0.0 {
        return 0.0;
    }
    match Binomial::new(limit, observed.trials) {
        // P(X >= e) = P(X > e - 1).
        Ok(b) => {
            let p = b.sf(observed.events - 1);
            if p.is_finite() { p.clamp(0.0, 1.0) } else { 1.0 }
        }
        Err(_) => 1.0,
    }
}

/// Whether any expected cell of the 2x2 table is below [`MIN_EXPECTED_CELL`].
pub fn small_counts(canary: Proportion, primary: Proportion) -> bool {
    let (canary, primary) =
        (Proportion::new(canary.events, canary.trials), Proportion::new(primary.events, primary.trials));
    let trials = canary.trials as f64 + primary.trials as f64;
    let events = canary.events as f64 + primary.events as f64;
    if trials == 0.0 {
        return true;
    }
    let smallest_group = canary.trials.min(primary.trials) as f64;
    let smallest_margin = events.min(trials - events);
    smallest_group * smallest_margin / trials < MIN_EXPECTED_CELL
}

/// Fisher's exact one-sided p that the canary's rate is higher: the probability, given the
/// total number of events, that the canary gets at least as many as it did.
pub fn fisher_exact_greater(canary: Proportion, primary: Proportion) -> f64 {
    let (canary, primary) =
        (Proportion::new(canary.events, canary.trials), Proportion::new(primary.events, primary.trials));
    if canary.events == 0 {
        return 1.0;
    }
    let (Some(population), Some(events)) =
        (canary.trials.checked_add(primary.trials), canary.events.checked_add(primary.events))
    else {
        return 1.0;
    };
    match Hypergeometric::new(population, events, canary.trials) {
        // P(X >= e) = P(X > e - 1); statrs sums the upper tail directly, so small p keep
        // their precision.
        Ok(h) => h.sf(canary.events - 1).clamp(0.0, 1.0),
        Err(_) => 1.0,
    }
}

/// The score z-test (Farrington-Manning; the pooled two-proportion test when `margin` is 0)
/// with Yates' continuity correction: the one-sided p that the canary's rate exceeds the
/// primary's by more than `margin` (a fraction).
pub fn score_z_greater(canary: Proportion, primary: Proportion, margin: f64) -> f64 {
    let (canary, primary) =
        (Proportion::new(canary.events, canary.trials), Proportion::new(primary.events, primary.trials));
    if canary.trials == 0 || primary.trials == 0 {
        return 1.0;
    }
    let margin = if margin.is_finite() { margin.clamp(0.0, 1.0) } else { 0.0 };
    let (n1, n2) = (canary.trials as f64, primary.trials as f64);
    let (p1, p2) = restricted_rates(canary, primary, margin);
    let se = (p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2).sqrt();
    let excess = canary.rate() - primary.rate() - margin;
    let correction = 0.5 * (1.0 / n1 + 1.0 / n2);
    let corrected = excess.signum() * (excess.abs() - correction).max(0.0);
    if se.is_nan() || se <= 0.0 {
        // Both rates sit on 0 or 1 under the null: nothing varies, so only a difference
        // that the null cannot produce at all is evidence.
        return if corrected > 0.0 { 0.0 } else { 1.0 };
    }
    Normal::standard().sf(corrected / se)
}

/// The maximum-likelihood rates `(canary, primary)` under the null `canary = primary +
/// margin`. The log-likelihood is concave in the primary's rate, so its derivative is found
/// by bisection; with no margin the answer is the pooled rate.
pub fn restricted_rates(canary: Proportion, primary: Proportion, margin: f64) -> (f64, f64) {
    let (x1, n1) = (canary.events as f64, canary.trials as f64);
    let (x2, n2) = (primary.events as f64, primary.trials as f64);
    if margin <= 0.0 {
        let pooled = if n1 + n2 > 0.0 { (x1 + x2) / (n1 + n2) } else { 0.0 };
        return (pooled, pooled);
    }
    let slope = |p2: f64| {
        let p1 = p2 + margin;
        // 0 * ln(0) terms vanish: skip them instead of dividing by zero.
        let term = |count: f64, rate: f64| if count > 0.0 { count / rate } else { 0.0 };
        term(x1, p1) - term(n1 - x1, 1.0 - p1) + term(x2, p2) - term(n2 - x2, 1.0 - p2)
    };
    let (mut lo, mut hi) = (0.0_f64, 1.0 - margin);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if mid <= lo || mid >= hi {
            break;
        }
        if slope(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let p2 = (lo + hi) / 2.0;
    (p2 + margin, p2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn fisher_matches_the_tea_tasting_lady() {
        // Fisher's own example: 3 of 4 cups right; one-sided p = (16 + 1) / 70.
        let p = fisher_exact_greater(Proportion::new(3, 4), Proportion::new(1, 4));
        assert!(close(p, 17.0 / 70.0, 1e-12), "{p}");
        // 8 of 10 against 2 of 10: sum of C(10,k)C(10,10-k) for k >= 8, over C(20,10).
        let tail = (45.0 * 45.0 + 10.0 * 10.0 + 1.0) / 184_756.0;
        let p = fisher_exact_greater(Proportion::new(8, 10), Proportion::new(2, 10));
        assert!(close(p, tail, 1e-12), "{p} {tail}");
    }

    #[test]
    fn fisher_agrees_with_statrs_own_test() {
        use statrs::stats_tests::{Alternative, fishers_exact};
        for (a, n1, b, n2) in [(3, 50, 0, 60), (7, 1000, 2, 1000), (0, 10, 4, 10), (12, 300, 12, 900)] {
            let table = [a, n1 - a, b, n2 - b];
            let theirs = fishers_exact(&table, Alternative::Greater).unwrap();
            let ours = fisher_exact_greater(Proportion::new(a, n1), Proportion::new(b, n2));
            assert!(close(ours, theirs, 1e-9), "{table:?}: {ours} vs {theirs}");
        }
    }

    /// P(X >= events) for X binomial, summed from the probabilities themselves, in logs so
    /// that (1 - p)^n does not underflow at large n: independent of statrs's incomplete beta.
    fn summed_tail(events: u64, trials: u64, p: f64) -> f64 {
        let mut ln_pmf = trials as f64 * (1.0 - p).ln();
        let mut tail = 0.0;
        for k in 0..=trials {
            if k >= events {
                let term = ln_pmf.exp();
                tail += term;
                if k > events + 50 && term < tail * 1e-17 {
                    break;
                }
            }
            ln_pmf += ((trials - k) as f64 / (k + 1) as f64 * p / (1.0 - p)).ln();
        }
        tail
    }

    #[test]
    fn the_binomial_tail_matches_exact_values() {
        // Computed in exact rational arithmetic: 1 - sum of C(235,k) 0.01^k 0.99^(235-k) for
        // k below the count.
        for (events, exact) in [(3, 0.4176375305207518), (7, 0.010029306227681008), (12, 5.7068199339563725e-6)] {
            let p = rate_above(Proportion::new(events, 235), 0.01);
            assert!(close(p / exact, 1.0, 1e-9), "{events} of 235: {p} vs {exact}");
        }
    }

    #[test]
    fn the_binomial_tail_matches_the_summed_probabilities() {
        for (trials, limit) in [(50, 0.05), (235, 0.01), (1000, 0.01), (1000, 0.5), (600_000, 0.001), (1_000_000, 0.01)]
        {
            let mean = trials as f64 * limit;
            let sd = (mean * (1.0 - limit)).sqrt();
            for z in [0.0, 1.0, 2.0, 3.0, 5.0, 8.0] {
                let events = (mean + z * sd).round().max(1.0) as u64;
                let (ours, summed) =
                    (rate_above(Proportion::new(events, trials), limit), summed_tail(events, trials, limit));
                assert!(close(ours / summed, 1.0, 1e-7), "{events} of {trials} at {limit}: {ours} vs {summed}");
            }
        }
    }

    #[test]
    fn the_binomial_test_has_conclusive_edges() {
        // At a limit of 0, one error is impossible under the null; at 1 nothing is evidence.
        assert_eq!(rate_above(Proportion::new(1, 10_000), 0.0), 0.0);
        assert_eq!(rate_above(Proportion::new(0, 10_000), 0.0), 1.0);
        assert_eq!(rate_above(Proportion::new(100, 100), 1.0), 1.0);
        for limit in [f64::NAN, -1.0, 2.0, f64::INFINITY] {
            let p = rate_above(Proportion::new(3, 100), limit);
            assert!((0.0..=1.0).contains(&p), "{limit}: {p}");
        }
        for (events, trials) in [(0, 0), (5, 0), (u64::MAX, u64::MAX), (u64::MAX / 100, u64::MAX), (1, u64::MAX)] {
            let p = rate_above(Proportion::new(events, trials), 0.01);
            assert!((0.0..=1.0).contains(&p), "{events} of {trials}: {p}");
        }
    }

    #[test]
    fn the_pooled_z_test_matches_a_hand_computation() {
        // 60/1000 against 40/1000: pooled 0.05, se = sqrt(0.05 * 0.95 * 0.002) = 0.0097468,
        // corrected difference 0.02 - 0.001 = 0.019, z = 1.94935, one-sided p = 0.0256263.
        let p = score_z_greater(Proportion::new(60, 1000), Proportion::new(40, 1000), 0.0);
        assert!(close(p, 0.0256263, 1e-6), "{p}");
        assert_eq!(rate_increase(Proportion::new(60, 1000), Proportion::new(40, 1000), 0.0).1, Method::ScoreZ);
    }

    #[test]
    fn the_restricted_rates_maximise_the_likelihood_on_the_null() {
        let loglik = |p1: f64, p2: f64, c: Proportion, p: Proportion| {
            let ll = |x: f64, n: f64, r: f64| x * r.ln() + (n - x) * (1.0 - r).ln();
            ll(c.events as f64, c.trials as f64, p1) + ll(p.events as f64, p.trials as f64, p2)
        };
        for (c, p, margin) in [
            (Proportion::new(30, 1000), Proportion::new(5, 1000), 0.01),
            (Proportion::new(5, 200), Proportion::new(9, 800), 0.02),
            (Proportion::new(1, 100), Proportion::new(20, 100), 0.05),
        ] {
            let (p1, p2) = restricted_rates(c, p, margin);
            assert!(close(p1 - p2, margin, 1e-12));
            let best = loglik(p1, p2, c, p);
            for i in 1..1000 {
                let q2 = f64::from(i) / 1000.0 * (1.0 - margin);
                assert!(loglik(q2 + margin, q2, c, p) <= best + 1e-9, "{c:?} {p:?} {q2}");
            }
        }
    }

    #[test]
    fn a_margin_makes_the_test_harder_to_fail() {
        let (c, p) = (Proportion::new(30, 1000), Proportion::new(5, 1000));
        let strict = rate_increase(c, p, 0.0).0;
        let lenient = rate_increase(c, p, 0.02).0;
        let beyond = rate_increase(c, p, 0.03).0;
        assert!(strict < 1e-4 && lenient > strict && beyond > 0.5, "{strict} {lenient} {beyond}");
    }

    #[test]
    fn small_counts_use_the_exact_test() {
        let (c, p) = (Proportion::new(4, 1000), Proportion::new(1, 1000));
        assert!(small_counts(c, p));
        assert_eq!(rate_increase(c, p, 0.0).1, Method::FisherExact);
        assert_eq!(rate_increase(c, p, 0.001).1, Method::ScoreZAndFisherExact);
        assert!(!small_counts(Proportion::new(8, 1000), Proportion::new(4, 1000)));
    }

    #[test]
    fn degenerate_tables_are_not_evidence() {
        let none = Proportion::new(0, 0);
        for (c, p) in [
            (none, none),
            (Proportion::new(5, 10), none),
            (none, Proportion::new(5, 10)),
            (Proportion::new(0, 100), Proportion::new(0, 100)),
            (Proportion::new(100, 100), Proportion::new(100, 100)),
            (Proportion::new(u64::MAX, u64::MAX), Proportion::new(u64::MAX, u64::MAX)),
        ] {
            for margin in [0.0, 0.01, f64::NAN, -1.0, 2.0] {
                let (p, _) = rate_increase(c, p, margin);
                assert!((0.0..=1.0).contains(&p), "{c:?} {p:?} {margin}");
                assert!(p >= 0.5, "{c:?} {p:?} {margin}: {p}");
            }
        }
        // More events than trials count as all trials failing.
        assert_eq!(Proportion::new(7, 5), Proportion { events: 5, trials: 5 });
    }
}
