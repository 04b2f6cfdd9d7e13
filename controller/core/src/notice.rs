//! What people are told about a rollout (the notification hook point): the decision says
//! what happened; the controller delivers it.

/// Something people should be told about (the notification hook point).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// What happened.
    pub kind: NoticeKind,
    /// A sentence for people.
    pub message: String,
    /// Facts shown beside the message (revision, image, failed checks, duration), in order.
    pub facts: Vec<(String, String)>,
}

/// The kinds of notice, with the severity Flagger's alert filtering uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// A new revision started its analysis.
    Started,
    /// A rollout waits for a gate or a person.
    Waiting,
    /// The new revision is now the primary.
    Promoted,
    /// The new revision was rolled back.
    Failed,
    /// Someone acted by annotation (promote, abort, retry).
    Manual,
    /// Something needs attention but nothing changed (a deadline passed while holding).
    Warning,
}

impl NoticeKind {
    /// A headline about the canary `id` (`podinfo.test`).
    pub fn title(self, id: &str) -> String {
        match self {
            Self::Started => format!("{id}: new revision"),
            Self::Waiting => format!("{id} is waiting for approval"),
            Self::Promoted => format!("{id} promoted"),
            Self::Failed => format!("{id} rolled back"),
            Self::Manual => format!("{id}: manual action"),
            Self::Warning => format!("{id} needs attention"),
        }
    }
}
