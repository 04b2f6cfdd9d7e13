//! Rank statistics of two latency histograms: the one-sided Mann-Whitney U test and the
//! Hodges-Lehmann shift. They are computed on buckets, not values, so the work is bounded by
//! the number of non-empty buckets (under 3,800 per histogram), not by the number of
//! requests. Values in one bucket are ties; buckets are exact below 128 ms and 1.6% wide
//! above, so the ties cost little power. Pure.

use crate::latency::{Bucket, Latencies};
use statrs::distribution::{ContinuousCDF, Normal};

/// The Mann-Whitney U test of "the canary is stochastically larger than the primary".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MannWhitney {
    /// U of the canary: the pairs (canary, primary) where the canary is larger, ties half.
    pub u: f64,
    /// The standardised U, with tie and continuity corrections.
    pub z: f64,
    /// The one-sided p-value from the normal approximation.
    pub p_value: f64,
}

/// The one-sided Mann-Whitney U test that `canary` is larger than `primary`, by the normal
/// approximation with tie correction and a continuity correction of 1/2 (as scipy's
/// `mannwhitneyu(method="asymptotic")`). `None` when either histogram is empty. When every
/// value is tied there is no spread to judge against, and the p-value is 1.
pub fn mann_whitney_greater(canary: &Latencies, primary: &Latencies) -> Option<MannWhitney> {
    if canary.is_empty() || primary.is_empty() {
        return None;
    }
    let (n1, n2) = (canary.count() as f64, primary.count() as f64);
    let (mut u, mut ties, mut primary_below) = (0.0, 0.0, 0.0);
    for (c, p) in side_by_side(canary, primary) {
        let (c, p) = (c as f64, p as f64);
        u += c * (primary_below + p / 2.0);
        primary_below += p;
        let t = c + p;
        ties += t * t * t - t;
    }
    let n = n1 + n2;
    let mean = n1 * n2 / 2.0;
    let variance = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if variance.is_nan() || variance <= 0.0 {
        return Some(MannWhitney { u, z: 0.0, p_value: 1.0 });
    }
    let z = (u - mean - 0.5) / variance.sqrt();
    Some(MannWhitney { u, z, p_value: Normal::standard().sf(z).clamp(0.0, 1.0) })
}

/// The counts of each histogram per bucket, smallest values first, over the buckets where
/// either has values. Both histograms use the same buckets, so a bucket is its lower bound.
fn side_by_side(canary: &Latencies, primary: &Latencies) -> Vec<(u64, u64)> {
    let (mut cs, mut ps) = (canary.buckets().peekable(), primary.buckets().peekable());
    let mut out = Vec::new();
    loop {
        let row = match (cs.peek(), ps.peek()) {
            (None, None) => return out,
            (Some(c), Some(p)) if c.lower == p.lower => (cs.next().map(|b| b.count), ps.next().map(|b| b.count)),
            (Some(c), Some(p)) if c.lower < p.lower => (cs.next().map(|b| b.count), None),
            (Some(_), None) => (cs.next().map(|b| b.count), None),
            (_, Some(_)) => (None, ps.next().map(|b| b.count)),
        };
        out.push((row.0.unwrap_or(0), row.1.unwrap_or(0)));
    }
}

/// The Hodges-Lehmann estimate of how much larger the canary's latencies are than the
/// primary's, in milliseconds: the median of all canary-minus-primary differences. `None`
/// when either histogram is empty.
///
/// The differences are those of bucket values (a bucket's [`Bucket::value`]), each pair of
/// buckets weighted by the product of their counts. Rather than list the up to 3,800 x 3,800
/// bucket pairs, the median is found by a binary search over the shift: how many pairs differ
/// by at most `d` takes one merge-like pass over both histograms. Bucket values are whole or
/// half milliseconds, so the search runs over half milliseconds and is exact.
pub fn hodges_lehmann_shift(canary: &Latencies, primary: &Latencies) -> Option<f64> {
    let canary: Vec<(i128, u128)> = canary.buckets().map(|b| (twice_value(&b), u128::from(b.count))).collect();
    let primary: Vec<(i128, u128)> = primary.buckets().map(|b| (twice_value(&b), u128::from(b.count))).collect();
    if canary.is_empty() || primary.is_empty() {
        return None;
    }
    let pairs = canary.iter().map(|c| c.1).sum::<u128>() * primary.iter().map(|p| p.1).sum::<u128>();
    let (lower, upper) = (pairs.div_ceil(2), pairs / 2 + 1);
    let low = kth_difference(&canary, &primary, lower);
    let high = if upper == lower { low } else { kth_difference(&canary, &primary, upper) };
    // Two half-millisecond values, averaged.
    Some((low + high) as f64 / 4.0)
}

/// Twice a bucket's value, exactly: `2 * lower` for an exact bucket, `lower + upper - 1`
/// (twice the middle) otherwise.
fn twice_value(bucket: &Bucket) -> i128 {
    let (lower, upper) = (i128::from(bucket.lower), i128::from(bucket.upper));
    if upper - lower == 1 { 2 * lower } else { lower + upper - 1 }
}

/// The `k`-th smallest (1-based) of the weighted pairwise differences, in half milliseconds.
fn kth_difference(canary: &[(i128, u128)], primary: &[(i128, u128)], k: u128) -> i128 {
    let (Some(c_first), Some(c_last), Some(p_first), Some(p_last)) =
        (canary.first(), canary.last(), primary.first(), primary.last())
    else {
        return 0;
    };
    let (mut lo, mut hi) = (c_first.0 - p_last.0, c_last.0 - p_first.0);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pairs_at_most(canary, primary, mid) >= k {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// How many weighted pairs have `canary - primary <= d`, that is `primary >= canary - d`.
fn pairs_at_most(canary: &[(i128, u128)], primary: &[(i128, u128)], d: i128) -> u128 {
    let total: u128 = primary.iter().map(|p| p.1).sum();
    let (mut j, mut below) = (0, 0u128);
    let mut count = 0u128;
    for &(value, weight) in canary {
        while j < primary.len() && primary[j].0 < value - d {
            below += primary[j].1;
            j += 1;
        }
        count += weight * (total - below);
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::stats_tests::Alternative;
    use statrs::stats_tests::mannwhitneyu::{MannWhitneyUMethod, mannwhitneyu};

    fn histogram(values: &[u64]) -> Latencies {
        let mut l = Latencies::new();
        values.iter().for_each(|v| l.record(*v));
        l
    }

    #[test]
    fn mann_whitney_matches_the_textbook_example() {
        // scipy's documentation example: U = 17; with continuity correction
        // z = (17 - 10 - 0.5) / sqrt(5 * 4 * 10 / 12) = 1.59217, p = 0.055673.
        let test = mann_whitney_greater(&histogram(&[19, 22, 16, 29, 24]), &histogram(&[20, 11, 17, 12])).unwrap();
        assert_eq!(test.u, 17.0);
        assert!((test.z - 1.592168).abs() < 1e-6, "{test:?}");
        assert!((test.p_value - 0.0556734).abs() < 1e-6, "{test:?}");
    }

    #[test]
    fn mann_whitney_with_ties_agrees_with_statrs_on_raw_values() {
        let canary = [40u64, 41, 41, 42, 45, 45, 45, 50, 60, 61, 39, 40, 44, 44];
        let primary = [38u64, 39, 40, 40, 41, 41, 41, 42, 43, 45, 50, 37, 36];
        let ours = mann_whitney_greater(&histogram(&canary), &histogram(&primary)).unwrap();
        let (u, p) = mannwhitneyu(
            &canary,
            &primary,
            MannWhitneyUMethod::AsymptoticInclContinuityCorrection,
            Alternative::Greater,
        )
        .unwrap();
        assert_eq!(ours.u, u);
        assert!((ours.p_value - p).abs() < 1e-12, "{ours:?} vs {p}");
    }

    #[test]
    fn mann_whitney_on_degenerate_histograms() {
        assert_eq!(mann_whitney_greater(&Latencies::new(), &histogram(&[1])), None);
        let same = histogram(&[40, 40, 40]);
        assert_eq!(mann_whitney_greater(&same, &same).unwrap().p_value, 1.0);
        let one = histogram(&[40]);
        assert_eq!(mann_whitney_greater(&one, &one).unwrap().p_value, 1.0);
    }

    #[test]
    fn the_shift_of_shifted_samples_is_the_shift() {
        let primary: Vec<u64> = (0..200).map(|i| 20 + (i * 37 % 61)).collect();
        let canary: Vec<u64> = primary.iter().map(|v| v + 7).collect();
        assert_eq!(hodges_lehmann_shift(&histogram(&canary), &histogram(&primary)), Some(7.0));
        assert_eq!(hodges_lehmann_shift(&histogram(&primary), &histogram(&canary)), Some(-7.0));
        assert_eq!(hodges_lehmann_shift(&histogram(&primary), &histogram(&primary)), Some(0.0));
    }

    #[test]
    fn the_shift_is_the_median_of_pairwise_differences() {
        // Differences of {1, 2, 10} - {0, 4}: 1, -3, 2, -2, 10, 6; the median is (1 + 2) / 2.
        assert_eq!(hodges_lehmann_shift(&histogram(&[1, 2, 10]), &histogram(&[0, 4])), Some(1.5));
        // Odd number of pairs: {5, 9, 30} - {3}: 2, 6, 27.
        assert_eq!(hodges_lehmann_shift(&histogram(&[5, 9, 30]), &histogram(&[3])), Some(6.0));
    }

    #[test]
    fn the_shift_is_within_a_bucket_above_128_ms() {
        let primary: Vec<u64> = (0..500).map(|i| 300 + (i * 53 % 400)).collect();
        let canary: Vec<u64> = primary.iter().map(|v| v * 13 / 10).collect();
        let shift = hodges_lehmann_shift(&histogram(&canary), &histogram(&primary)).unwrap();
        // The true median difference of the values, for comparison.
        let mut differences: Vec<i64> =
            canary.iter().flat_map(|c| primary.iter().map(move |p| *c as i64 - *p as i64)).collect();
        differences.sort_unstable();
        let exact = (differences[differences.len() / 2 - 1] + differences[differences.len() / 2]) as f64 / 2.0;
        assert!((shift - exact).abs() <= exact * 0.02, "{shift} vs {exact}");
    }

    #[test]
    fn the_search_is_bounded_by_buckets_not_requests() {
        let (mut canary, mut primary) = (Latencies::new(), Latencies::new());
        for v in (0..40_000_000u64).step_by(9_973) {
            canary.record_n(v + v / 10, 1_000_000);
            primary.record_n(v, 1_000_000);
        }
        let shift = hodges_lehmann_shift(&canary, &primary).unwrap();
        assert!(shift.is_finite() && shift > 0.0, "{shift}");
        assert!(mann_whitney_greater(&canary, &primary).unwrap().p_value < 1e-6);
    }
}
