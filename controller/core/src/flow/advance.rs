//! Every check passed this interval: the next weight or iteration, through the
//! confirm-traffic-increase gates and the rollout windows, or the way to promotion. Pure.

use super::Draft;
use crate::conditions::{self, PROMOTED};
use crate::windows::state as window_state;
use crate::{EventType, NoticeKind, Stage, all_pass, describe, first_failure};
use fledge_crds::canary::{CheckResult, ConditionStatus, Phase};
use std::time::Duration;

impl Draft<'_, '_> {
    /// Every check passed this interval: the next weight or iteration, or promotion.
    pub(super) fn advance(&mut self) {
        if self.window_holds() {
            return;
        }
        if self.last_step_passed() {
            self.analysis_done();
        } else if self.i.spec.analysis.iterations() > 0 {
            self.next_iteration();
        } else {
            self.increase_weight();
        }
    }

    /// Counts the step that passed; whether it was the last one (every iteration done, or
    /// the maximum weight reached).
    fn last_step_passed(&mut self) -> bool {
        let analysis = &self.i.spec.analysis;
        let iterations = analysis.iterations();
        if iterations == 0 {
            return self.d.canary_weight >= analysis.max_weight();
        }
        // Never past the spec's count: intervals held at the end (a closed promotion gate, a
        // blue/green's interval at full traffic) are not iterations.
        let done = (self.d.status.iterations.unwrap_or(0) + 1).min(iterations);
        self.d.status.iterations = Some(done);
        done >= iterations
    }

    fn next_iteration(&mut self) {
        let id = self.id();
        let iterations = self.i.spec.analysis.iterations();
        let done = self.d.status.iterations.unwrap_or(0);
        self.event(EventType::Normal, "Advanced", format!("Advance {id} canary iteration {done}/{iterations}"));
        self.stepped();
    }

    /// The next weight, once the confirm-traffic-increase gates let it.
    fn increase_weight(&mut self) {
        let Some(gate) = self.results(Stage::ConfirmTrafficIncrease) else { return };
        // A weighted canary's mirrored step is over once it may take real requests.
        if all_pass(gate) {
            self.d.status.mirrored = None;
        }
        self.record(gate);
        self.stepped();
        if !all_pass(gate) {
            self.traffic_increase_held(gate);
            return;
        }
        let id = self.id();
        let next = next_weight(self.i.spec, self.d.canary_weight);
        self.set_weight(next);
        self.event(EventType::Normal, "Advanced", format!("Advance {id} canary weight {next}"));
    }

    /// A closed confirm-traffic-increase gate holds the weight, said once a hold: the
    /// `Promoted` condition carries the message meanwhile.
    fn traffic_increase_held(&mut self, gate: &[CheckResult]) {
        let id = self.id();
        let why = first_failure(gate).map(describe).unwrap_or_default();
        let message = format!("Traffic increase of {id} held: {why}");
        let said = conditions::get(&self.d.status, PROMOTED).and_then(|c| c.message.as_deref()) == Some(&message);
        if !said {
            self.event(EventType::Normal, "WaitingTrafficIncrease", message.clone());
            if !self.muted(gate) {
                self.notice(NoticeKind::Waiting, format!("Traffic increase of {id} is waiting for approval: {why}"));
            }
        }
        self.message = Some(message);
    }

    /// Every step passed: promotion, through the confirm-promotion gates. A blue/green first
    /// moves every user to the canary for one more interval.
    fn analysis_done(&mut self) {
        let blue_green = self.i.spec.analysis.iterations() > 0 && !self.ab_test();
        if blue_green && self.d.canary_weight == 100 {
            // A blue/green's interval at full traffic passed: the primary takes the version
            // every user now runs.
            self.start_promotion();
            return;
        }
        let Some(gate) = self.results(Stage::ConfirmPromotion) else { return };
        self.record(gate);
        if !all_pass(gate) {
            self.promotion_held(gate);
        } else if blue_green {
            self.all_traffic_to_the_canary();
        } else {
            self.start_promotion();
        }
    }

    /// Blue/green: every user moves to the checked version at once, and it is judged one more
    /// interval on their traffic (as in Flagger) before the primary takes it; a failure then
    /// rolls every user back to the primary.
    fn all_traffic_to_the_canary(&mut self) {
        let id = self.id();
        self.d.status.mirrored = None;
        self.set_weight(100);
        self.event(EventType::Normal, "Advanced", format!("Routing all traffic of {id} to the canary"));
        self.set_phase(Phase::Progressing);
        self.stepped();
    }

    /// A closed confirm-promotion gate: WaitingPromotion, said when it starts to wait; the
    /// checks go on every interval.
    fn promotion_held(&mut self, gate: &[CheckResult]) {
        self.stepped();
        if self.phase() != Phase::WaitingPromotion {
            let id = self.id();
            let why = first_failure(gate).map(describe).unwrap_or_default();
            self.event(EventType::Normal, "WaitingPromotion", format!("Waiting for the promotion of {id}: {why}"));
            if !self.muted(gate) {
                self.notice(NoticeKind::Waiting, format!("Promotion of {id} is waiting for approval: {why}"));
            }
        }
        self.set_phase(Phase::WaitingPromotion);
    }

    /// Whether the rollout windows let the rollout advance now (no windows: always).
    pub(super) fn window_open(&self) -> bool {
        let windows = self.i.spec.analysis.windows.as_deref().unwrap_or_default();
        windows.is_empty() || window_state(windows, self.i.now).is_ok_and(|s| s.open)
    }

    /// Outside the rollout windows the weight holds (the checks go on every interval), with
    /// the `RolloutWindow` condition saying when it may go on. Abort, rollback and promotion by
    /// annotation never come here.
    pub(super) fn window_holds(&mut self) -> bool {
        let windows = self.i.spec.analysis.windows.as_deref().unwrap_or_default();
        if windows.is_empty() {
            conditions::clear(&mut self.d.status, conditions::ROLLOUT_WINDOW);
            return false;
        }
        let now = self.i.now;
        let (reason, why, next) = match window_state(windows, now) {
            Ok(state) if state.open => {
                conditions::set(
                    &mut self.d.status,
                    conditions::ROLLOUT_WINDOW,
                    ConditionStatus::True,
                    "Open",
                    &state.reason,
                    now,
                );
                return false;
            }
            Ok(state) => ("OutsideWindow", state.reason, state.next_change),
            Err(e) => ("InvalidWindow", e.to_string(), None),
        };
        let was_held = conditions::get(&self.d.status, conditions::ROLLOUT_WINDOW)
            .is_some_and(|c| c.status == ConditionStatus::False);
        conditions::set(&mut self.d.status, conditions::ROLLOUT_WINDOW, ConditionStatus::False, reason, &why, now);
        let id = self.id();
        if !was_held {
            self.event(EventType::Normal, "Held", format!("Advancement of {id} held: {why}"));
        }
        self.message = Some(format!("Advancement of {id} held: {why}"));
        self.stepped();
        if let Some(next) = next {
            self.requeue(Duration::from_secs_f64(next.duration_since(now).as_secs_f64().max(0.0)));
        }
        true
    }
}

/// The weight after `current` along `stepWeights`, or by `stepWeight`, capped at the maximum.
pub(crate) fn next_weight(spec: &fledge_crds::canary::CanarySpec, current: i32) -> i32 {
    let analysis = &spec.analysis;
    let max = analysis.max_weight();
    let next = match analysis.step_weights.as_deref() {
        Some(steps) if !steps.is_empty() => steps.iter().copied().find(|w| *w > current).unwrap_or(max),
        _ => match analysis.step_weight.filter(|s| *s > 0) {
            Some(step) => current + step,
            None => max,
        },
    };
    next.min(max).clamp(0, 100)
}
