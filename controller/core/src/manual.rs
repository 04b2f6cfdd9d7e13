//! The manual annotations (`fledge.dev/promote`, `abort`, `retry`): which are pending in a
//! decision, and the sentence that explains why one is refused in a phase. Pure.

use super::Manual;
use fledge_crds::canary::Phase;
use fledge_crds::{ANNOTATION_ABORT, ANNOTATION_PROMOTE, ANNOTATION_RETRY};

/// How the promote annotation is written, for messages.
pub const PROMOTE: &str = "fledge.dev/promote=true";
/// How the abort annotation is written, for messages.
pub const ABORT: &str = "fledge.dev/abort=true";
/// How the retry annotation is written, for messages.
pub const RETRY: &str = "fledge.dev/retry=true";

/// Which annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Promote,
    Abort,
    Retry,
}

impl Which {
    fn written(self) -> &'static str {
        match self {
            Self::Promote => PROMOTE,
            Self::Abort => ABORT,
            Self::Retry => RETRY,
        }
    }
}

/// Annotations present and not yet acted on or refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    pub promote: bool,
    pub abort: bool,
    pub retry: bool,
}

impl From<Manual> for Pending {
    fn from(m: Manual) -> Self {
        Self { promote: m.promote, abort: m.abort, retry: m.retry }
    }
}

impl Pending {
    /// The pending annotations as written.
    pub fn names(&self) -> Vec<&'static str> {
        self.list().into_iter().map(|(_, w)| w.written()).collect()
    }

    fn list(&self) -> Vec<(&'static str, Which)> {
        let mut out = Vec::new();
        if self.abort {
            out.push((ANNOTATION_ABORT, Which::Abort));
        }
        if self.promote {
            out.push((ANNOTATION_PROMOTE, Which::Promote));
        }
        if self.retry {
            out.push((ANNOTATION_RETRY, Which::Retry));
        }
        out
    }

    /// Take every pending annotation: (annotation key, which).
    pub fn take_all(&mut self) -> Vec<(&'static str, Which)> {
        let out = self.list();
        *self = Self::default();
        out
    }
}

/// Whether an abort means something in a phase: something is waiting or under analysis.
pub fn can_abort(phase: Phase) -> bool {
    matches!(phase, Phase::Waiting | Phase::Progressing | Phase::WaitingPromotion)
}

/// Why an annotation was not acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The Canary is still being initialized.
    NotStarted,
    /// Nothing is under analysis in this phase.
    Idle(Phase),
    /// An analysis is running (retry makes no sense).
    Busy(Phase),
    /// The primary already has the new revision.
    Promoting,
}

impl Refusal {
    /// The sentence of the Warning event.
    pub fn message(self, which: Which, id: &str) -> String {
        let what = which.written();
        match (self, which) {
            (Self::NotStarted, _) => {
                format!("{what} ignored: {id} is still initializing; nothing is being released yet")
            }
            (Self::Idle(Phase::Failed), Which::Promote) => format!(
                "{what} ignored: {id} is Failed and its canary is scaled down; \
                 annotate fledge.dev/retry=true to analyse the revision again"
            ),
            (Self::Idle(phase), _) => {
                format!("{what} ignored: nothing is progressing for {id} (phase {})", phase_name(phase))
            }
            (Self::Busy(phase), _) => format!(
                "{what} ignored: {id} is already being analysed (phase {}); retry applies to a Failed canary",
                phase_name(phase)
            ),
            (Self::Promoting, Which::Abort) => format!(
                "{what} ignored: the promotion of {id} has started and the primary already runs the new revision; \
                 release the previous version as a new revision to go back"
            ),
            (Self::Promoting, _) => format!("{what} ignored: {id} is already being promoted"),
        }
    }
}

fn phase_name(phase: Phase) -> &'static str {
    if phase == Phase::Unset { "Initializing" } else { phase.as_str() }
}
