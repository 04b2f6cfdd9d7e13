//! A latency distribution with memory bounded by the range of values, not by their count:
//! the shape the access-log aggregation keeps per version and the judge compares.
//!
//! Envoy logs `%DURATION%` in whole milliseconds. Values below 128 ms get a bucket each
//! (exact); above, every power of two is split into 64 buckets, so a bucket is at most 1/64
//! (1.6%) of its values wide. Every `u64` fits in under 3,800 buckets (30 KB). Written here
//! rather than taken from `hdrhistogram` because the judge needs the buckets themselves (ranks
//! and pairwise shifts over them), and the scheme is twenty lines.

/// Values below this are counted exactly.
const EXACT: u64 = 128;
/// Buckets per power of two above [`EXACT`].
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;

/// A histogram of latencies in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Latencies {
    counts: Vec<u64>,
    total: u64,
}

/// One non-empty bucket: values in `[lower, upper)` milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// The smallest value in the bucket.
    pub lower: u64,
    /// One past the largest value in the bucket.
    pub upper: u64,
    /// How many values fell in it.
    pub count: u64,
}

impl Bucket {
    /// The value that stands for the bucket: the value itself for an exact bucket, the middle
    /// of the range otherwise.
    pub fn value(&self) -> f64 {
        if self.upper - self.lower == 1 {
            self.lower as f64
        } else {
            (self.lower as f64 + (self.upper - 1) as f64) / 2.0
        }
    }
}

/// The bucket a value falls in.
fn index(value: u64) -> usize {
    if value < EXACT {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros(); // >= 7
    let sub = (value >> (exponent - SUB_BITS)) - SUB; // the 6 bits after the leading one
    (EXACT + u64::from(exponent - 7) * SUB + sub) as usize
}

/// The smallest value of a bucket.
fn lower(index: usize) -> u64 {
    let index = index as u64;
    if index < EXACT {
        return index;
    }
    let exponent = (index - EXACT) / SUB + 7;
    let sub = (index - EXACT) % SUB;
    (SUB + sub) << (exponent - u64::from(SUB_BITS))
}

/// One past the largest value of a bucket.
fn upper(index: usize) -> u64 {
    if (index as u64) < EXACT { index as u64 + 1 } else { lower(index).saturating_add(width(index)) }
}

fn width(index: usize) -> u64 {
    let exponent = (index as u64 - EXACT) / SUB + 7;
    1 << (exponent - u64::from(SUB_BITS))
}

impl Latencies {
    /// An empty distribution.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request that took `millis` milliseconds.
    pub fn record(&mut self, millis: u64) {
        self.record_n(millis, 1);
    }

    /// Counts `n` requests that took `millis` milliseconds each.
    pub fn record_n(&mut self, millis: u64, n: u64) {
        if n == 0 {
            return;
        }
        let i = index(millis);
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += n;
        self.total += n;
    }

    /// Adds another distribution (for example another pod's) to this one.
    pub fn merge(&mut self, other: &Latencies) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The non-empty buckets, smallest values first.
    pub fn buckets(&self) -> impl Iterator<Item = Bucket> + '_ {
        self.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(i, &count)| Bucket {
            lower: lower(i),
            upper: upper(i),
            count,
        })
    }

    /// The `percentile` (0 to 100) in milliseconds, by the nearest-rank rule; `None` when
    /// empty. Exact below 128 ms, within 1.6% above.
    pub fn percentile(&self, percentile: f64) -> Option<f64> {
        if self.total == 0 || percentile.is_nan() {
            return None;
        }
        // Rounded before the ceiling: 0.07 x 100 is 7.000000000000001 in floating point, and
        // the 7th of 100 values must not become the 8th.
        let exact = (percentile.clamp(0.0, 100.0) / 100.0) * self.total as f64;
        let rank = ((exact * 1e9).round() / 1e9).ceil().max(1.0) as u64;
        let mut seen = 0;
        self.buckets().find_map(|b| {
            seen += b.count;
            (seen >= rank).then(|| b.value())
        })
    }

    /// The mean, using each bucket's middle; `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.total > 0).then(|| self.buckets().map(|b| b.value() * b.count as f64).sum::<f64>() / self.total as f64)
    }

    /// Memory held by the buckets, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.counts.capacity() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_rank_is_not_pushed_up_by_floating_point() {
        let mut latencies = Latencies::new();
        for v in 1..=100 {
            latencies.record(v);
        }
        // 0.07 x 100 and 0.57 x 100 are just above 7 and 57 in floating point.
        assert_eq!(latencies.percentile(7.0).map(|v| v.round()), Some(7.0));
        assert_eq!(latencies.percentile(57.0).map(|v| v.round()), Some(57.0));
        assert_eq!(latencies.percentile(7.5).map(|v| v.round()), Some(8.0));
    }

    #[test]
    fn buckets_are_exact_below_128_and_within_two_percent_above() {
        for v in 0..128 {
            assert_eq!((lower(index(v)), upper(index(v))), (v, v + 1));
        }
        for v in (128..5_000_000u64).step_by(7).chain([u64::MAX / 3, u64::MAX]) {
            let i = index(v);
            assert!(lower(i) <= v && (v < upper(i) || upper(i) == u64::MAX), "{v} in bucket {i}");
            assert!((upper(i) - lower(i)) as f64 / lower(i) as f64 <= 1.0 / 64.0 + 1e-12, "{v}");
        }
        assert!(index(u64::MAX) < 3800);
        // Buckets follow each other without gaps.
        for i in 0..index(1 << 40) {
            assert_eq!(upper(i), lower(i + 1), "bucket {i}");
        }
    }

    #[test]
    fn percentiles_follow_the_nearest_rank_rule() {
        let mut l = Latencies::new();
        for v in 1..=100 {
            l.record(v);
        }
        assert_eq!(l.percentile(50.0), Some(50.0));
        assert_eq!(l.percentile(99.0), Some(99.0));
        assert_eq!(l.percentile(100.0), Some(100.0));
        assert_eq!(l.percentile(0.0), Some(1.0));
        assert_eq!(Latencies::new().percentile(99.0), None);
        l.record_n(300, 10);
        let p99 = l.percentile(99.0).unwrap();
        assert!((p99 - 300.0).abs() / 300.0 < 0.02, "{p99}");
    }

    #[test]
    fn merging_adds_counts() {
        let (mut a, mut b) = (Latencies::new(), Latencies::new());
        a.record_n(10, 3);
        b.record_n(10, 2);
        b.record(1000);
        a.merge(&b);
        assert_eq!(a.count(), 6);
        assert_eq!(a.buckets().next(), Some(Bucket { lower: 10, upper: 11, count: 5 }));
        let mean = a.mean().unwrap();
        assert!((mean - 1050.0 / 6.0).abs() < 1.0, "{mean}");
    }
}
