//! Seeded simulations of the judge with the default settings: identical versions pass, a
//! worse error rate or a 30% slower canary fails, a 2% slower one passes. Each scenario runs
//! 200 intervals of 1,000 requests per version.
//!
//! The thresholds (196 of 200 passes, 198 of 200 failures) sit about a run or two from what
//! the true rates give, so whether a 200-run check holds depends on the seed. The ignored
//! `true_rates` and `seed_sensitivity` measure the rates over 10,000 intervals and how many
//! seeds hold; run them with
//! `cargo test --release -p fledge-analysis --test judge_simulations -- --ignored --nocapture`.
//! Measured: A/A passes 98.9% (0.5% errors) and 98.7% (1%), 3% against 0.5% errors fails
//! 99.3%, 30% slower fails 100%, 2% slower passes 98.8%; each 200-run check holds for 84-100
//! of 100 seeds, all five together for about half. [`SEED`] is the first seed for which all
//! five hold: a failure after a change of seed alone is not a regression, a change in
//! `true_rates` is.

use fledge_analysis::judge::{Check, Outcome, Sample, Settings, judge};
use fledge_analysis::latency::Latencies;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const REQUESTS: u64 = 1_000;
const RUNS: usize = 200;
/// The seed of the 200-run checks.
const SEED: u64 = 1;

/// One version's traffic: the share of failing requests and how much slower than the base
/// latency distribution it is.
#[derive(Clone, Copy)]
struct Version {
    error_rate: f64,
    slowdown: f64,
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A latency in milliseconds: log-normal with a median of 40 ms, and a heavy tail of 2% slow
/// requests (median 400 ms, wider), times the slowdown, in whole milliseconds as Envoy logs.
fn latency(rng: &mut StdRng, slowdown: f64) -> u64 {
    let (median, sigma): (f64, f64) = if rng.random_bool(0.02) { (400.0, 0.8) } else { (40.0, 0.5) };
    (median * (sigma * normal(rng)).exp() * slowdown).round() as u64
}

/// An interval of one version: requests, errors and latencies.
fn interval(rng: &mut StdRng, version: Version) -> (u64, Latencies) {
    let mut latencies = Latencies::new();
    let mut errors = 0;
    for _ in 0..REQUESTS {
        errors += u64::from(rng.random_bool(version.error_rate));
        latencies.record(latency(rng, version.slowdown));
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
}

/// Judges `runs` intervals of the two versions with the default settings.
fn outcomes(seed: u64, runs: usize, canary: Version, primary: Version) -> Tally {
    let mut rng = StdRng::seed_from_u64(seed);
    let settings = Settings::default();
    let mut tally = Tally::default();
    for _ in 0..runs {
        let (canary_errors, canary_latencies) = interval(&mut rng, canary);
        let (primary_errors, primary_latencies) = interval(&mut rng, primary);
        let judgement = judge(
            &Sample { requests: REQUESTS, errors: canary_errors, latencies: &canary_latencies },
            &Sample { requests: REQUESTS, errors: primary_errors, latencies: &primary_latencies },
            &settings,
        );
        match judgement.outcome {
            Outcome::Pass => tally.pass += 1,
            Outcome::Fail => tally.fail += 1,
            Outcome::NoData => tally.no_data += 1,
        }
        let failed = |check| judgement.findings.iter().any(|f| f.check == check && !f.passed);
        tally.error_rate_failed += usize::from(failed(Check::ErrorRateVsPrimary));
        tally.latency_failed += usize::from(failed(Check::LatencyVsPrimary));
    }
    tally
}

const BASE: Version = Version { error_rate: 0.005, slowdown: 1.0 };

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
}
