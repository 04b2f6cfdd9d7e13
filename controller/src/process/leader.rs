//! Leader election on a `coordination.k8s.io/v1` Lease, with the semantics of client-go's
//! `leaderelection`, so that of several `fledge controller` replicas exactly one acts. Does I/O:
//! a spawned task reads and writes the Lease through the Kubernetes API.
//!
//! The holder renews the Lease every `renew_every`. The others read it on the same beat and take
//! it over when its holder gave it up, or when it has not changed for its `leaseDurationSeconds`
//! as measured on their own clock: like client-go, a contender trusts the moment it saw the
//! record change rather than the `renewTime` written in it, so clock skew between nodes cannot
//! make it take over early. Every write is an update that carries the `resourceVersion` that was
//! read, so of two contenders only one succeeds and the other gets 409 Conflict. The holder
//! reports that it no longer leads as soon as it sees another holder, and when it has failed to
//! renew for one renew interval less than the lease duration: it has stopped before anybody else
//! may start.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{Instrument, debug, info, warn};

/// The Lease's name unless configured otherwise.
pub const DEFAULT_LEASE_NAME: &str = "fledge-leader";

/// Which Lease to hold, as whom, and on what beat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    /// The Lease's name: `fledge-leader`.
    pub name: String,
    /// The namespace the controller runs in.
    pub namespace: String,
    /// Who this process is, unique among the replicas: see [`default_identity`].
    pub identity: String,
    /// How long the Lease stays valid without a renew (written as `leaseDurationSeconds`,
    /// rounded up to whole seconds): 15 s. This is how long a crashed leader's replacement waits.
    pub lease_duration: Duration,
    /// How often the Lease is renewed, and read by the others: 2 s. Also the timeout of each API
    /// call, and the margin by which the holder stops leading before the Lease can expire.
    pub renew_every: Duration,
}

impl LeaseConfig {
    /// `fledge-leader` in `namespace`, held by `identity` for 15 s and renewed every 2 s
    /// (client-go's defaults, which keep a Lease's traffic negligible).
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            name: DEFAULT_LEASE_NAME.to_owned(),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(2),
        }
    }

    /// How long the holder keeps leading without a successful renew (client-go's
    /// `RenewDeadline`): one renew interval less than the lease, so that a controller which
    /// notices within one interval has stopped before another replica can start.
    fn renew_deadline(&self) -> Duration {
        self.lease_duration.checked_sub(self.renew_every).filter(|d| !d.is_zero()).unwrap_or(self.lease_duration / 2)
    }

    fn lease_duration_seconds(&self) -> i32 {
        let seconds = self.lease_duration.as_secs() + u64::from(self.lease_duration.subsec_nanos() > 0);
        i32::try_from(seconds.max(1)).unwrap_or(i32::MAX)
    }
}

/// This process's identity: `POD_NAME` when set (from the Downward API; unique, and a restarted
/// container takes its own Lease back at once), otherwise the host name with a random suffix,
/// so that two processes on one machine never share an identity.
pub fn default_identity() -> String {
    if let Some(pod) = std::env::var("POD_NAME").ok().filter(|p| !p.is_empty()) {
        return pod;
    }
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "fledge".to_owned());
    // RandomState is seeded from the OS's randomness: enough for a suffix, without a dependency.
    let suffix = {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.finish() as u32
    };
    format!("{host}_{suffix:08x}")
}

/// Whether this process leads, as the elector last established. Clones watch the same election.
#[derive(Clone, Debug)]
pub struct Leadership {
    rx: watch::Receiver<bool>,
}

impl Leadership {
    /// Whether this process leads now. False once the elector has stopped, however it stopped.
    pub fn is_leader(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves when this process leads (at once if it does). Never resolves once the elector has
    /// stopped.
    pub async fn acquired(&mut self) {
        if self.rx.wait_for(|leading| *leading).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves when this process does not lead (at once if it does not): the controller must
    /// stop acting then.
    pub async fn lost(&mut self) {
        // An error means the elector is gone, and with it the leadership.
        let _ = self.rx.wait_for(|leading| !*leading).await;
    }

    /// The underlying channel, for callers that select on changes themselves.
    pub fn receiver(&self) -> watch::Receiver<bool> {
        self.rx.clone()
    }
}

/// The running elector. Dropping it leaves the election running; [`LeaderHandle::release`]
/// ends it.
#[derive(Debug)]
pub struct LeaderHandle {
    stop: Arc<Notify>,
    task: JoinHandle<()>,
}

impl LeaderHandle {
    /// For a graceful shutdown: stops leading at once (the [`Leadership`] turns false before
    /// anything else), then gives the Lease up if this process holds it, so that another replica
    /// takes over on its next read instead of after the lease duration. Takes at most two API
    /// calls of `renew_every` each.
    pub async fn release(self) {
        self.stop.notify_one();
        let _ = self.task.await;
    }

    /// Stops the elector at once without giving the Lease up, as a crash would: the
    /// [`Leadership`] turns false, and the others take over when the Lease expires.
    pub fn abort(self) {
        self.task.abort();
    }
}

/// Starts electing: a task that acquires and renews `config`'s Lease and publishes whether this
/// process leads. It starts as not leading. Call it within a Tokio runtime.
pub fn spawn(client: kube::Client, config: LeaseConfig) -> (Leadership, LeaderHandle) {
    let (tx, rx) = watch::channel(false);
    let stop = Arc::new(Notify::new());
    let span = tracing::info_span!("leader_election", lease = %config.name, namespace = %config.namespace);
    let elector = Elector::new(Api::namespaced(client, &config.namespace), config);
    let task = tokio::spawn(run(elector, Publisher(tx), stop.clone()).instrument(span));
    (Leadership { rx }, LeaderHandle { stop, task })
}

/// Publishes whether this process leads; publishes false when dropped, which is what happens
/// when the task is aborted or panics, so the controller never acts on a leadership that nobody
/// renews.
struct Publisher(watch::Sender<bool>);

impl Publisher {
    fn publish(&self, leading: bool) {
        self.0.send_if_modified(|current| std::mem::replace(current, leading) != leading);
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.publish(false);
    }
}

async fn run(mut elector: Elector, publisher: Publisher, stop: Arc<Notify>) {
    let mut ticks = tokio::time::interval(elector.config.renew_every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let deadline = elector.deadline();
        // The deadline is raced against the API calls, not checked between them: a call that
        // hangs until its timeout must not keep this process leading past its deadline.
        tokio::select! {
            biased;
            () = stop.notified() => break,
            () = sleep_until(deadline) => elector.step_down("the lease could not be renewed in time"),
            () = async {
                ticks.tick().await;
                elector.round().await;
            } => {}
        }
        publisher.publish(elector.leading());
    }
    // Stop acting before the Lease is given up: the other way round, a new leader could start
    // while this process still acts.
    elector.step_down("shutting down");
    publisher.publish(false);
    elector.release().await;
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("the API server did not answer within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Api(#[from] kube::Error),
}

impl CallError {
    fn is_conflict(&self) -> bool {
        matches!(self, CallError::Api(kube::Error::Api(status)) if status.code == 409)
    }
}

/// What to do with the Lease as it was read.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Write it with this process as the holder: it holds it already, or may take it.
    Hold,
    /// Leave it to this holder.
    Follow(String),
}

/// Client-go's rule: take the Lease when it has no holder, or when it has not changed for its
/// duration (`unchanged_for`, measured by this process since it first saw the current record);
/// keep it when it is ours; otherwise leave it alone.
fn decide(spec: &LeaseSpec, identity: &str, unchanged_for: Duration, default_duration: Duration) -> Decision {
    match spec.holder_identity.as_deref() {
        None | Some("") => Decision::Hold,
        Some(holder) if holder == identity => Decision::Hold,
        Some(holder) => {
            // A record without a usable duration is judged by ours rather than as expired at once.
            let duration = spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .filter(|s| *s > 0)
                .map_or(default_duration, Duration::from_secs);
            if unchanged_for >= duration { Decision::Hold } else { Decision::Follow(holder.to_owned()) }
        }
    }
}

/// The spec that makes `identity` the holder as of `now`: a renew keeps the acquire time and the
/// transition count, a takeover sets the acquire time and counts one more transition.
fn held_spec(current: Option<&LeaseSpec>, identity: &str, duration_seconds: i32, now: Timestamp) -> LeaseSpec {
    let now = Some(MicroTime(now));
    let base = current.cloned().unwrap_or_default();
    let renewing = base.holder_identity.as_deref() == Some(identity);
    LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(duration_seconds),
        acquire_time: if renewing { base.acquire_time.clone().or(now.clone()) } else { now.clone() },
        renew_time: now,
        lease_transitions: match current {
            None => Some(0),
            Some(_) if renewing => Some(base.lease_transitions.unwrap_or(0)),
            Some(_) => Some(base.lease_transitions.unwrap_or(0).saturating_add(1)),
        },
        ..base
    }
}

/// The spec of a Lease given up as of `now`, as client-go writes it: no holder and a one-second
/// duration, so that the others take it on their next read.
fn released_spec(current: &LeaseSpec, now: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        ..current.clone()
    }
}

struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    /// The Lease's spec as last read or written, and when this process first saw it so.
    observed: Option<(LeaseSpec, Instant)>,
    /// While this process leads: when the write that last renewed the Lease was sent. Taken
    /// before sending, because the others start counting from a moment after the write.
    renewed: Option<Instant>,
}

impl Elector {
    fn new(api: Api<Lease>, config: LeaseConfig) -> Self {
        Self { api, config, observed: None, renewed: None }
    }

    fn leading(&self) -> bool {
        self.renewed.is_some()
    }

    fn deadline(&self) -> Option<Instant> {
        self.renewed.map(|renewed| renewed + self.config.renew_deadline())
    }

    fn step_down(&mut self, reason: &str) {
        if self.renewed.take().is_some() {
            warn!(identity = %self.config.identity, reason, "stopped leading");
        }
    }

    fn renewed(&mut self, sent: Instant) {
        if self.renewed.replace(sent).is_none() {
            info!(identity = %self.config.identity, "became leader");
        }
    }

    fn observe(&mut self, spec: LeaseSpec) {
        if self.observed.as_ref().is_none_or(|(seen, _)| *seen != spec) {
            self.observed = Some((spec, Instant::now()));
        }
    }

    async fn call<T>(&self, request: impl Future<Output = Result<T, kube::Error>>) -> Result<T, CallError> {
        let limit = self.config.renew_every;
        tokio::time::timeout(limit, request).await.map_err(|_| CallError::Timeout(limit))?.map_err(CallError::from)
    }

    /// One beat: read the Lease, then create, renew or take it, or leave it to its holder.
    /// Failures are logged and retried on the next beat; the deadline ends a leadership that
    /// cannot be renewed.
    async fn round(&mut self) {
        let lease = match self.call(self.api.get_opt(&self.config.name)).await {
            Ok(lease) => lease,
            Err(error) => {
                warn!(%error, "could not read the lease");
                return;
            }
        };
        let Some(lease) = lease else {
            // Whoever deleted it, another replica may create it next: stop first.
            self.step_down("the lease was deleted");
            self.create().await;
            return;
        };
        let spec = lease.spec.clone().unwrap_or_default();
        self.observe(spec.clone());
        let unchanged_for = self.observed.as_ref().map_or(Duration::ZERO, |(_, since)| since.elapsed());
        match decide(&spec, &self.config.identity, unchanged_for, self.config.lease_duration) {
            Decision::Follow(holder) => {
                self.step_down("another replica holds the lease");
                debug!(%holder, "the lease is held");
            }
            Decision::Hold => self.hold(lease).await,
        }
    }

    async fn create(&mut self) {
        let sent = Instant::now();
        let spec = held_spec(None, &self.config.identity, self.config.lease_duration_seconds(), Timestamp::now());
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(spec),
        };
        match self.call(self.api.create(&PostParams::default(), &lease)).await {
            Ok(created) => {
                self.observe(created.spec.unwrap_or_default());
                self.renewed(sent);
            }
            Err(error) if error.is_conflict() => debug!("another replica created the lease first"),
            Err(error) => warn!(%error, "could not create the lease"),
        }
    }

    /// Renews or takes `lease` by an update carrying the `resourceVersion` it was read with.
    async fn hold(&mut self, mut lease: Lease) {
        let sent = Instant::now();
        let spec = held_spec(
            lease.spec.as_ref(),
            &self.config.identity,
            self.config.lease_duration_seconds(),
            Timestamp::now(),
        );
        lease.spec = Some(spec);
        match self.call(self.api.replace(&self.config.name, &PostParams::default(), &lease)).await {
            Ok(written) => {
                self.observe(written.spec.unwrap_or_default());
                self.renewed(sent);
            }
            // Somebody wrote the Lease since it was read; the next read tells who holds it. Until
            // then a leader keeps leading: nobody can have taken it before the deadline.
            Err(error) if error.is_conflict() => debug!("the lease changed since it was read"),
            Err(error) => warn!(%error, "could not write the lease"),
        }
    }

    /// Gives the Lease up if this process still holds it.
    async fn release(&mut self) {
        let lease = match self.call(self.api.get_opt(&self.config.name)).await {
            Ok(Some(lease)) => lease,
            Ok(None) => return,
            Err(error) => {
                warn!(%error, "could not read the lease to release it");
                return;
            }
        };
        let Some(spec) = lease.spec.as_ref().filter(|s| s.holder_identity.as_ref() == Some(&self.config.identity))
        else {
            return;
        };
        let released = Lease { spec: Some(released_spec(spec, Timestamp::now())), ..lease };
        match self.call(self.api.replace(&self.config.name, &PostParams::default(), &released)).await {
            Ok(_) => info!(identity = %self.config.identity, "released the lease"),
            Err(error) => warn!(%error, "could not release the lease; the others take over when it expires"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn held_by(holder: &str, duration_seconds: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            lease_duration_seconds: Some(duration_seconds),
            acquire_time: Some(MicroTime(at(0))),
            renew_time: Some(MicroTime(at(10))),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn a_lease_without_a_holder_is_taken_at_once() {
        let released = released_spec(&held_by("b", 15), at(20));
        assert_eq!(decide(&released, "a", Duration::ZERO, 15 * SECOND), Decision::Hold);
        let empty = LeaseSpec { holder_identity: Some(String::new()), ..held_by("b", 15) };
        assert_eq!(decide(&empty, "a", Duration::ZERO, 15 * SECOND), Decision::Hold);
        assert_eq!(decide(&LeaseSpec::default(), "a", Duration::ZERO, 15 * SECOND), Decision::Hold);
    }

    #[test]
    fn our_own_lease_is_renewed_whatever_its_age() {
        assert_eq!(decide(&held_by("a", 15), "a", Duration::ZERO, 15 * SECOND), Decision::Hold);
        assert_eq!(decide(&held_by("a", 15), "a", 60 * SECOND, 15 * SECOND), Decision::Hold);
    }

    #[test]
    fn anothers_lease_is_taken_only_once_unchanged_for_its_duration() {
        let spec = held_by("b", 15);
        let follow = Decision::Follow("b".to_owned());
        assert_eq!(decide(&spec, "a", Duration::ZERO, 5 * SECOND), follow);
        assert_eq!(decide(&spec, "a", 14 * SECOND, 5 * SECOND), follow);
        assert_eq!(decide(&spec, "a", 15 * SECOND - Duration::from_millis(1), 5 * SECOND), follow);
        assert_eq!(decide(&spec, "a", 15 * SECOND, 5 * SECOND), Decision::Hold);
    }

    #[test]
    fn a_lease_without_a_usable_duration_is_judged_by_ours() {
        for duration in [None, Some(0), Some(-3)] {
            let spec = LeaseSpec { lease_duration_seconds: duration, ..held_by("b", 15) };
            assert_eq!(decide(&spec, "a", 9 * SECOND, 10 * SECOND), Decision::Follow("b".to_owned()));
            assert_eq!(decide(&spec, "a", 10 * SECOND, 10 * SECOND), Decision::Hold);
        }
    }

    #[test]
    fn a_new_lease_starts_with_no_transitions() {
        let spec = held_spec(None, "a", 15, at(5));
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(5))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(5))));
        assert_eq!(spec.lease_transitions, Some(0));
    }

    #[test]
    fn a_renew_keeps_the_acquire_time_and_transitions() {
        let spec = held_spec(Some(&held_by("a", 15)), "a", 15, at(12));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(0))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(12))));
        assert_eq!(spec.lease_transitions, Some(3));
    }

    #[test]
    fn a_takeover_counts_a_transition_and_resets_the_acquire_time() {
        let spec = held_spec(Some(&held_by("b", 15)), "a", 15, at(40));
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(40))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(40))));
        assert_eq!(spec.lease_transitions, Some(4));
        let after_release = held_spec(Some(&released_spec(&held_by("b", 15), at(20))), "a", 15, at(21));
        assert_eq!(after_release.lease_transitions, Some(4));
    }

    #[test]
    fn a_released_lease_has_no_holder_and_keeps_its_transitions() {
        let spec = released_spec(&held_by("a", 15), at(30));
        assert_eq!(spec.holder_identity, None);
        assert_eq!(spec.lease_duration_seconds, Some(1));
        assert_eq!(spec.renew_time, Some(MicroTime(at(30))));
        assert_eq!(spec.lease_transitions, Some(3));
    }

    #[test]
    fn renew_times_are_written_with_microseconds() {
        let spec = held_spec(None, "a", 15, at(0));
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["renewTime"], "2023-11-14T22:13:20.000000Z");
        assert_eq!(json["holderIdentity"], "a");
        assert_eq!(json["leaseDurationSeconds"], 15);
    }

    #[test]
    fn the_holder_stops_one_renew_interval_before_the_lease_expires() {
        let config = LeaseConfig::new("fledge-system", "a");
        assert_eq!(config.renew_deadline(), 13 * SECOND);
        let odd = LeaseConfig { renew_every: 20 * SECOND, ..config.clone() };
        assert_eq!(odd.renew_deadline(), Duration::from_millis(7500));
    }

    #[test]
    fn the_written_duration_rounds_up_to_whole_seconds() {
        let config = LeaseConfig::new("fledge-system", "a");
        assert_eq!(config.lease_duration_seconds(), 15);
        let short = LeaseConfig { lease_duration: Duration::from_millis(1500), ..config.clone() };
        assert_eq!(short.lease_duration_seconds(), 2);
        let tiny = LeaseConfig { lease_duration: Duration::from_millis(10), ..config };
        assert_eq!(tiny.lease_duration_seconds(), 1);
    }

    #[test]
    fn identities_are_unique_without_a_pod_name() {
        // POD_NAME is not set under `cargo test` unless the environment sets it on purpose.
        if std::env::var_os("POD_NAME").is_none() {
            assert_ne!(default_identity(), default_identity());
        }
    }
}
