//! Webhooks, gates and notifications for a rollout. Arrives with the webhooks issue.
