//! Errors of a reconcile, one variant per step, each with a short category for metric labels
//! and event reasons.

/// Why a reconcile did not finish.
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// The spec (or the target it names) is wrong: reported to the user, not retried quickly.
    #[error("{0}")]
    Spec(String),
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

    /// A short static name for metric labels.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Spec(_) => "spec",
            Self::Observe { .. } => "observe",
            Self::Act { .. } => "act",
            Self::Status(_) => "status",
        }
    }
}
