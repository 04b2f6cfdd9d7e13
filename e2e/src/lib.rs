//! The Fledge sandbox cluster. Arrives with the sandbox issue.
