//! Deciding whether a rollout step is healthy (metrics, access logs, the judge). Arrives with the analysis issue.
