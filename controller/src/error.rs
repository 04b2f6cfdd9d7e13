//! Errors of a reconcile, one variant per kind a caller acts on, each with a short category
//! for metric labels. Their messages name the object and the field.

use crate::cluster::objects::ObjectError;

/// Why a reconcile did not finish.
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// The target Deployment is missing or cannot be used (no selector label Fledge can
    /// rewrite): traffic cannot go to it. Reported to the user, not retried quickly.
    #[error("{0}")]
    TargetUnavailable(String),
    /// An object Fledge must write belongs to someone else and cannot be taken over (a
    /// VirtualService another controller owns). Reported, not retried quickly.
    #[error("{0}")]
    Foreign(String),
    /// Fields of the spec are wrong (`spec.service.port: ...`). Reported, not retried quickly.
    #[error("{0}")]
    InvalidSpec(String),
    /// An object could not be built from the spec.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// Fledge built or read something it cannot use: a bug, or an object edited by hand into
    /// a shape Fledge never writes. Retried.
    #[error("internal error: {0}")]
    Internal(String),
    /// Reading from the API server failed.
    #[error("reading {what}: {source}")]
    Observe {
        /// What was being read.
        what: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Writing an object failed.
    #[error("writing {what}: {source}")]
    Act {
        /// What was being written.
        what: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Writing the Canary's status failed.
    #[error("writing the status: {0}")]
    Status(#[source] kube::Error),
}

impl Error {
    /// A read failure.
    pub fn observe(what: impl Into<String>, source: kube::Error) -> Self {
        Self::Observe { what: what.into(), source }
    }

    /// A write failure.
    pub fn act(what: impl Into<String>, source: kube::Error) -> Self {
        Self::Act { what: what.into(), source }
    }

    /// Whether the user must change something (the spec, the target, another controller's
    /// object) before a retry can succeed: such errors wait for a change, not a timer.
    pub fn needs_user(&self) -> bool {
        matches!(self, Self::TargetUnavailable(_) | Self::Foreign(_) | Self::InvalidSpec(_) | Self::Object(_))
    }

    /// A short static name for metric labels.
    pub fn category(&self) -> &'static str {
        match self {
            Self::TargetUnavailable(_) => "target",
            Self::Foreign(_) => "foreign",
            Self::InvalidSpec(_) | Self::Object(_) => "spec",
            Self::Internal(_) => "internal",
            Self::Observe { .. } => "observe",
            Self::Act { .. } => "act",
            Self::Status(_) => "status",
        }
    }
}
