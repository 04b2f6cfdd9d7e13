//! Seeded simulations of the judge with the default settings: identical versions pass, a
//! worse error rate or a 30% slower canary fails, a 2% slower one passes. Each scenario runs
//! 200 intervals of 1,000 requests per version.
//!
//! Then the absolute limits, on the small intervals where a point estimate misleads (235
//! canary and 365 primary requests, comparison on): a canary within `maxErrorRate: 1` (0.5%
//! errors) or within a p99 limit of 700 ms (0.48% of requests slower) passes, and one about
//! five times over (5% errors; 4.8% slower) fails. 190 of 200 must pass, 186 of 200 fail and
//! the limit's own test make 180 of those failures. At 235 requests no test at confidence
//! 0.95 catches a true 5% in 99% of intervals (the most powerful one, given the whole 5%,
//! 98%; the exact binomial test at its Bonferroni share 0.05/3, 95.2%), so the failure
//! thresholds are set by what the data allow, not by the 99% a larger interval gives.
//!
//! The thresholds (196 of 200 passes, 198 of 200 failures) sit about a run or two from what
//! the true rates give, so whether a 200-run check holds depends on the seed. The ignored
//! `true_rates` and `seed_sensitivity` measure the rates over 10,000 intervals and how many
//! seeds hold; run them with
//! `cargo test --release -p fledge-analysis --test judge_simulations -- --ignored --nocapture`.
//! Measured: A/A passes 98.9% (0.5% errors) and 98.7% (1%), 3% against 0.5% errors fails
//! 99.3%, 30% slower fails 100%, 2% slower passes 98.8%; each 200-run check holds for 84-100
//! of 100 seeds, all five together for about half. With the limits (100,000 intervals): A/A
//! passes 98.6% with either limit (the limits' own tests fail 0.02-0.03%, the rest is the
//! comparisons); 5% errors fail 96.7% (the limit alone 95.2%), and at 400 requests 99.8%; the
//! slow tail fails 98.9% (the limit alone 93.8%); these checks hold for 98-100 of 100 seeds.
//! [`SEED`] is the first seed for which all hold: a failure after a change of seed alone is
//! not a regression, a change in `true_rates` is.

use fledge_analysis::judge::{Check, Outcome, Sample, Settings, judge};
use fledge_analysis::latency::Latencies;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const REQUESTS: u64 = 1_000;
const RUNS: usize = 200;
/// The seed of the 200-run checks.
const SEED: u64 = 1;
/// Passes of 200 that an A/A canary within a limit needs, on 235 requests.
const AA_LIMIT_PASSES: usize = 190;
/// Failures of 200 that a canary five times over a limit needs, on 235 requests...
const OVER_LIMIT_FAILS: usize = 186;
/// ...and how many of them the limit's own test must make.
const OVER_LIMIT_LIMIT_FAILS: usize = 180;

/// One version's traffic: the share of failing requests, how much slower than the base
/// latency distribution it is, and the share of its requests on the slow path.
#[derive(Clone, Copy)]
struct Version {
    error_rate: f64,
    slowdown: f64,
    slow_share: f64,
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A latency in milliseconds: log-normal with a median of 40 ms, and a heavy tail of slow
/// requests (2% in the base; median 400 ms, wider), times the slowdown, in whole milliseconds
/// as Envoy logs.
fn latency(rng: &mut StdRng, version: Version) -> u64 {
    let (median, sigma): (f64, f64) = if rng.random_bool(version.slow_share) { (400.0, 0.8) } else { (40.0, 0.5) };
    (median * (sigma * normal(rng)).exp() * version.slowdown).round() as u64
}

/// An interval of one version: requests, errors and latencies.
fn interval(rng: &mut StdRng, version: Version, requests: u64) -> (u64, Latencies) {
    let mut latencies = Latencies::new();
    let mut errors = 0;
    for _ in 0..requests {
        errors += u64::from(rng.random_bool(version.error_rate));
        latencies.record(latency(rng, version));
    }
    (errors, latencies)
}

/// How the intervals of a scenario ended.
#[derive(Debug, Default)]
struct Tally {
    pass: usize,
    fail: usize,
    no_data: usize,
    /// Failed intervals where the error-rate comparison failed.
    error_rate_failed: usize,
    /// Failed intervals where the latency comparison failed.
    latency_failed: usize,
    /// Failed intervals where the `maxErrorRate` limit failed.
    error_limit_failed: usize,
    /// Failed intervals where the `maxLatency` limit failed.
    latency_limit_failed: usize,
}

/// Judges `runs` intervals of the two versions with the default settings, 1,000 requests each.
fn outcomes(seed: u64, runs: usize, canary: Version, primary: Version) -> Tally {
    judged(seed, runs, (canary, REQUESTS), (primary, REQUESTS), &Settings::default())
}

/// Judges `runs` intervals of the two versions, each with its number of requests.
fn judged(seed: u64, runs: usize, canary: (Version, u64), primary: (Version, u64), settings: &Settings) -> Tally {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    for _ in 0..runs {
        let (canary_errors, canary_latencies) = interval(&mut rng, canary.0, canary.1);
        let (primary_errors, primary_latencies) = interval(&mut rng, primary.0, primary.1);
        let judgement = judge(
            &Sample { requests: canary.1, errors: canary_errors, latencies: &canary_latencies },
            &Sample { requests: primary.1, errors: primary_errors, latencies: &primary_latencies },
            settings,
        );
        match judgement.outcome {
            Outcome::Pass => tally.pass += 1,
            Outcome::Fail => tally.fail += 1,
            Outcome::NoData => tally.no_data += 1,
        }
        let failed = |check| judgement.findings.iter().any(|f| f.check == check && !f.passed);
        tally.error_rate_failed += usize::from(failed(Check::ErrorRateVsPrimary));
        tally.latency_failed += usize::from(failed(Check::LatencyVsPrimary));
        tally.error_limit_failed += usize::from(failed(Check::ErrorRate));
        tally.latency_limit_failed += usize::from(failed(Check::Latency));
    }
    tally
}

const BASE: Version = Version { error_rate: 0.005, slowdown: 1.0, slow_share: 0.02 };

/// The interval of the A/A release that was rolled back on the point estimate: 20 requests a
/// second for 30 s, 235 of them to the canary.
const SMALL: (u64, u64) = (235, 365);

/// `accessLog: {maxErrorRate: 1}`, comparison on.
fn error_limit() -> Settings {
    Settings { max_error_rate: Some(1.0), ..Settings::default() }
}

/// `accessLog: {maxLatency: {percentile: 99, milliseconds: 700}}`, comparison on. The base has
/// 0.48% of its requests slower than 700 ms (its p99 is about 400 ms): within the limit by
/// as much as 0.5% errors are within 1%.
fn latency_limit() -> Settings {
    Settings { max_latency: Some((99.0, 700.0)), ..Settings::default() }
}

/// A canary with a fifth of its requests on the slow path: 4.8% slower than 700 ms, about 5
/// times what a p99 of 700 ms allows, as 5% errors are against a 1% limit.
const SLOW_TAIL: Version = Version { slow_share: 0.2, ..BASE };

/// A scenario on [`SMALL`] intervals with its settings.
fn small(seed: u64, runs: usize, canary: Version, settings: &Settings) -> Tally {
    judged(seed, runs, (canary, SMALL.0), (BASE, SMALL.1), settings)
}

#[test]
fn identical_versions_pass() {
    let tally = outcomes(SEED, RUNS, BASE, BASE);
    assert!(tally.pass >= 196, "A/A: {tally:?}");
}

#[test]
fn identical_versions_at_one_percent_errors_pass() {
    let v = Version { error_rate: 0.01, ..BASE };
    let tally = outcomes(SEED, RUNS, v, v);
    assert!(tally.pass >= 196, "A/A at 1%: {tally:?}");
}

#[test]
fn three_percent_errors_against_half_a_percent_fail() {
    let tally = outcomes(SEED, RUNS, Version { error_rate: 0.03, ..BASE }, BASE);
    assert!(tally.error_rate_failed >= 198, "{tally:?}");
}

#[test]
fn a_thirty_percent_slower_canary_fails() {
    let tally = outcomes(SEED, RUNS, Version { slowdown: 1.3, ..BASE }, BASE);
    assert!(tally.latency_failed >= 190, "{tally:?}");
}

#[test]
fn a_two_percent_slower_canary_passes() {
    let tally = outcomes(SEED, RUNS, Version { slowdown: 1.02, ..BASE }, BASE);
    assert!(tally.pass >= 196, "{tally:?}");
}

#[test]
fn identical_versions_within_the_error_limit_pass() {
    let tally = small(SEED, RUNS, BASE, &error_limit());
    assert!(tally.pass >= AA_LIMIT_PASSES, "A/A at 0.5% errors, maxErrorRate 1: {tally:?}");
}

#[test]
fn five_percent_errors_break_the_error_limit() {
    let tally = small(SEED, RUNS, Version { error_rate: 0.05, ..BASE }, &error_limit());
    assert!(tally.fail >= OVER_LIMIT_FAILS, "5% errors, maxErrorRate 1: {tally:?}");
    assert!(tally.error_limit_failed >= OVER_LIMIT_LIMIT_FAILS, "5% errors, maxErrorRate 1: {tally:?}");
}

#[test]
fn identical_versions_within_the_latency_limit_pass() {
    let tally = small(SEED, RUNS, BASE, &latency_limit());
    assert!(tally.pass >= AA_LIMIT_PASSES, "A/A with a p99 limit of 700ms: {tally:?}");
}

#[test]
fn a_slow_tail_breaks_the_latency_limit() {
    let tally = small(SEED, RUNS, SLOW_TAIL, &latency_limit());
    assert!(tally.fail >= OVER_LIMIT_FAILS, "4.8% slower than a p99 limit of 700ms: {tally:?}");
    assert!(tally.latency_limit_failed >= OVER_LIMIT_LIMIT_FAILS, "4.8% slower than a p99 limit of 700ms: {tally:?}");
}

/// The rates behind the assertions above, over 10,000 intervals each (or
/// `JUDGE_SIMULATION_RUNS`).
#[test]
#[ignore = "a measurement, not a check: run with --release -- --ignored --nocapture"]
fn true_rates() {
    let runs = std::env::var("JUDGE_SIMULATION_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let scenarios = [
        ("A/A at 0.5% errors (pass)", BASE, BASE),
        ("A/A at 1% errors (pass)", Version { error_rate: 0.01, ..BASE }, Version { error_rate: 0.01, ..BASE }),
        ("3% errors vs 0.5% (fail)", Version { error_rate: 0.03, ..BASE }, BASE),
        ("30% slower (fail)", Version { slowdown: 1.3, ..BASE }, BASE),
        ("2% slower (pass)", Version { slowdown: 1.02, ..BASE }, BASE),
    ];
    for (seed, (name, canary, primary)) in scenarios.into_iter().enumerate() {
        let tally = outcomes(1000 + seed as u64, runs, canary, primary);
        let pct = |n: usize| n as f64 / runs as f64 * 100.0;
        println!(
            "{name:28} pass {:6.2}%  fail {:6.2}% (error rate {:6.2}%, latency {:6.2}%)  no data {:.2}%",
            pct(tally.pass),
            pct(tally.fail),
            pct(tally.error_rate_failed),
            pct(tally.latency_failed),
            pct(tally.no_data),
        );
    }
    let five_percent = Version { error_rate: 0.05, ..BASE };
    let limits = [
        ("A/A, maxErrorRate 1 (pass)", BASE, error_limit(), SMALL),
        ("5% errors, maxErrorRate 1 (fail)", five_percent, error_limit(), SMALL),
        ("A/A, p99 limit 700ms (pass)", BASE, latency_limit(), SMALL),
        ("slow tail, p99 limit 700ms (fail)", SLOW_TAIL, latency_limit(), SMALL),
        ("5% errors, 400 requests (fail)", five_percent, error_limit(), (400, 600)),
    ];
    for (seed, (name, canary, settings, (requests, primary))) in limits.into_iter().enumerate() {
        let tally = judged(2000 + seed as u64, runs, (canary, requests), (BASE, primary), &settings);
        let pct = |n: usize| n as f64 / runs as f64 * 100.0;
        println!(
            "{name:34} pass {:6.2}%  fail {:6.2}% (error limit {:6.2}%, latency limit {:6.2}%, \
             error rate {:6.2}%, latency {:6.2}%)  no data {:.2}%",
            pct(tally.pass),
            pct(tally.fail),
            pct(tally.error_limit_failed),
            pct(tally.latency_limit_failed),
            pct(tally.error_rate_failed),
            pct(tally.latency_failed),
            pct(tally.no_data),
        );
    }
}

/// How often the 200-run assertions above hold over 100 seeds (or `JUDGE_SIMULATION_SEEDS`):
/// with true rates this close to the thresholds, a few seeds out of each hundred miss by a
/// run or two.
#[test]
#[ignore = "a measurement, not a check: run with --release -- --ignored --nocapture"]
fn seed_sensitivity() {
    let seeds = std::env::var("JUDGE_SIMULATION_SEEDS").ok().and_then(|n| n.parse().ok()).unwrap_or(100u64);
    type Holds = fn(&Tally) -> bool;
    let scenarios: [(&str, Version, Version, Holds); 5] = [
        ("A/A at 0.5%: >= 196 pass", BASE, BASE, |t| t.pass >= 196),
        ("A/A at 1%: >= 196 pass", Version { error_rate: 0.01, ..BASE }, Version { error_rate: 0.01, ..BASE }, |t| {
            t.pass >= 196
        }),
        ("3% vs 0.5%: >= 198 fail", Version { error_rate: 0.03, ..BASE }, BASE, |t| t.error_rate_failed >= 198),
        ("30% slower: >= 190 fail", Version { slowdown: 1.3, ..BASE }, BASE, |t| t.latency_failed >= 190),
        ("2% slower: >= 196 pass", Version { slowdown: 1.02, ..BASE }, BASE, |t| t.pass >= 196),
    ];
    for (name, canary, primary, holds) in scenarios {
        let held = (0..seeds).filter(|seed| holds(&outcomes(10_000 + seed, RUNS, canary, primary))).count();
        println!("{name:26} holds for {held} of {seeds} seeds");
    }
    let limits: [(&str, Version, Settings, Holds); 4] = [
        ("A/A, error limit: pass", BASE, error_limit(), |t| t.pass >= AA_LIMIT_PASSES),
        ("5% errors: fail", Version { error_rate: 0.05, ..BASE }, error_limit(), |t| {
            t.fail >= OVER_LIMIT_FAILS && t.error_limit_failed >= OVER_LIMIT_LIMIT_FAILS
        }),
        ("A/A, latency limit: pass", BASE, latency_limit(), |t| t.pass >= AA_LIMIT_PASSES),
        ("slow tail: fail", SLOW_TAIL, latency_limit(), |t| {
            t.fail >= OVER_LIMIT_FAILS && t.latency_limit_failed >= OVER_LIMIT_LIMIT_FAILS
        }),
    ];
    for (name, canary, settings, holds) in limits {
        let held = (0..seeds).filter(|seed| holds(&small(10_000 + seed, RUNS, canary, &settings))).count();
        println!("{name:26} holds for {held} of {seeds} seeds");
    }
}
