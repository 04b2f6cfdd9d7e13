//! When in a rollout a set of checks runs.

use std::fmt;

/// When in a rollout a set of checks runs, in Flagger's order of an analysis interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Before a new revision is scaled up (confirm-rollout gates). Not passing: phase Waiting.
    ConfirmRollout,
    /// Once, when the analysis of a run starts (pre-rollout hooks). Not passing: a failed check.
    PreRollout,
    /// Every analysis interval (rollout hooks, metrics, access logs). Not passing: a failed check.
    Analysis,
    /// Before each weight increase (confirm-traffic-increase gates). Not passing: hold.
    ConfirmTrafficIncrease,
    /// Before promotion (confirm-promotion gates). Not passing: phase WaitingPromotion.
    ConfirmPromotion,
    /// Each interval while a revision is progressing or waiting (rollback hooks). Passing (a
    /// 2xx answer) rolls back; anything else lets the rollout go on.
    Rollback,
    /// Once a run has ended, Succeeded or Failed (post-rollout hooks). Only logged.
    PostRollout,
}

impl Stage {
    /// The name used in logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfirmRollout => "confirm-rollout",
            Self::PreRollout => "pre-rollout",
            Self::Analysis => "analysis",
            Self::ConfirmTrafficIncrease => "confirm-traffic-increase",
            Self::ConfirmPromotion => "confirm-promotion",
            Self::Rollback => "rollback",
            Self::PostRollout => "post-rollout",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
