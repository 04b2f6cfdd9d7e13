//! Too little data to judge: the weight holds and the evidence accumulates, up to the progress deadline.

use super::*;

#[test]
fn too_little_data_holds_the_weight_and_the_evidence_accumulates_until_it_is_judged() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(10));
    let step = sim.status.last_step_time.clone();
    sim.answer = no_data("request-success-rate");
    for waited in [10, 20, 30] {
        sim.after(10);
        assert_eq!(sim.status.canary_weight, Some(10), "the step waits");
        assert_eq!(sim.status.phase, Phase::Progressing);
        assert_eq!(sim.status.failed_checks, Some(0), "too little data is never a failed check");
        assert_eq!(sim.status.no_data_since, step, "the window reaches back to the start of the step");
        let message = format!(
            "Waiting for data for podinfo.test at weight 10 ({waited}s of 60s): metric request-success-rate: no \
             data: the query returned no series"
        );
        assert_eq!(sim.promoted().message.as_deref(), Some(message.as_str()), "the condition says how long");
    }
    let said: Vec<_> = sim.events.iter().filter(|(r, _)| *r == "NoData").collect();
    assert_eq!(said.len(), 1, "the event is said when the wait starts: {:?}", sim.events);
    assert!(said[0].1.starts_with("Waiting for data for podinfo.test at weight 10 (10s of 60s): "));
    // Enough data at last: the step is judged and the run goes on.
    sim.answer = pass();
    sim.after(10);
    assert_eq!(sim.status.canary_weight, Some(20));
    assert_eq!(sim.status.no_data_since, None);
    assert_eq!(sim.status.failed_checks, Some(0));
}

#[test]
fn a_canary_without_traffic_for_its_whole_progress_deadline_is_rolled_back_and_told_why() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.answer = no_data("request-success-rate");
    sim.run_until(&[Phase::Failed], 8);
    assert_eq!(sim.now, 71, "60s of no data after the first step at 11s");
    assert_eq!(sim.promoted().reason, "NoData");
    assert_eq!(
        sim.promoted().message.as_deref(),
        Some(
            "Rolling back podinfo.test: too little data to judge the canary at weight 10 for 60s, its progress \
             deadline (metric request-success-rate: no data: the query returned no series)"
        )
    );
    assert_eq!(sim.status.canary_weight, Some(0));
    assert!(sim.reasons().contains(&"RolledBack"));
}

#[test]
fn no_data_then_a_failure_counts_only_the_failure() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.answer = no_data("request-success-rate");
    sim.after(10);
    sim.after(10);
    sim.answer = fail_at(Stage::Analysis);
    sim.after(10);
    assert_eq!((sim.status.failed_checks, sim.status.no_data_since.as_ref()), (Some(1), None));
    assert_eq!(sim.status.phase, Phase::Progressing, "one failed check of a threshold of 2");
}

#[test]
fn time_suspended_or_unready_does_not_count_against_a_step_waiting_for_data() {
    let mut sim = Sim::initialized(spec(""));
    sim.release("rev2");
    sim.after(1);
    sim.after(10);
    sim.answer = no_data("request-success-rate");
    sim.after(10);
    sim.after(10);
    // Suspended for an hour, then resumed: the wait starts again.
    sim.spec.suspend = Some(true);
    sim.after(3600);
    sim.spec.suspend = None;
    sim.after(1);
    assert_eq!(sim.status.phase, Phase::Progressing, "{:?}", sim.events);
    assert_eq!(sim.status.no_data_since, Some(Time(at(sim.now))));
    // Unready for 45s of the 60s deadline, then ready: the wait starts again too.
    sim.observed.canary = unready("1 of 2 updated replicas are available");
    sim.after(45);
    sim.observed.canary = ready();
    sim.after(10);
    assert_eq!(sim.status.phase, Phase::Progressing, "{:?}", sim.events);
    sim.run_until(&[Phase::Failed], 10);
    assert_eq!(sim.promoted().reason, "NoData");
}

#[test]
fn no_data_at_a_blue_green_s_full_traffic_says_so() {
    let mut sim = Sim::initialized(spec("analysisExtra: {iterations: 2, stepWeight: null}"));
    sim.release("rev2");
    sim.after(1);
    sim.run_until(&[Phase::Progressing], 1);
    for _ in 0..3 {
        sim.after(10);
    }
    assert_eq!((sim.status.canary_weight, sim.status.iterations), (Some(100), Some(2)));
    sim.answer = no_data("request-success-rate");
    sim.after(10);
    let message = sim.promoted().message.clone().unwrap();
    assert!(message.starts_with("Waiting for data for podinfo.test at full traffic (10s of 60s)"), "{message}");
}
