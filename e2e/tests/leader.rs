//! Leader election against the sandbox API server: of two replicas exactly one leads and the
//! Lease names it; a released Lease changes hands at once, a crashed leader's only once it has
//! expired; a leader that cannot reach the API server stops leading before its Lease expires.
//! Safety (never two leaders) is asserted at every sample; how fast things happen only where it
//! is the point, and then with a margin of a whole renew interval or more.

mod common;

use common::{client, eventually, kubectl_ok, sandbox};
use fledge_controller::process::leader::{self, LeaderHandle, Leadership, LeaseConfig};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::jiff::SignedDuration;
use kube::Api;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

const NAMESPACE: &str = "default";

/// One controller replica's election.
struct Replica {
    identity: &'static str,
    leadership: Leadership,
    handle: Option<LeaderHandle>,
}

/// Two replicas electing on the same Lease, with a `lease_duration` and `renew_every` short
/// enough for a test.
fn replicas(client: &kube::Client, lease_duration: Duration, renew_every: Duration) -> [Replica; 2] {
    ["replica-a", "replica-b"].map(|identity| {
        let config = LeaseConfig { lease_duration, renew_every, ..LeaseConfig::new(NAMESPACE, identity) };
        let (leadership, handle) = leader::spawn(client.clone(), config);
        Replica { identity, leadership, handle: Some(handle) }
    })
}

/// The index of the only replica that leads, if exactly one does.
fn only_leader(replicas: &[Replica; 2]) -> Option<usize> {
    match (replicas[0].leadership.is_leader(), replicas[1].leadership.is_leader()) {
        (true, false) => Some(0),
        (false, true) => Some(1),
        _ => None,
    }
}

async fn release_all(replicas: &mut [Replica; 2]) {
    for replica in replicas {
        if let Some(handle) = replica.handle.take() {
            handle.release().await;
        }
    }
}

async fn lease_spec(api: &Api<Lease>) -> LeaseSpec {
    api.get(leader::DEFAULT_LEASE_NAME).await.unwrap().spec.unwrap()
}

/// Watches two replicas for as long as it lives and remembers whether they ever both led,
/// sampling every millisecond, far more often than leadership can change.
struct NeverTwo {
    both: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl NeverTwo {
    fn watch(replicas: &[Replica; 2]) -> Self {
        let [a, b] = [replicas[0].leadership.receiver(), replicas[1].leadership.receiver()];
        let both = Arc::new(AtomicBool::new(false));
        let seen = both.clone();
        let task = tokio::spawn(async move {
            loop {
                if *a.borrow() && *b.borrow() {
                    seen.store(true, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        Self { both, task }
    }

    fn check(&self) {
        assert!(!self.both.load(Ordering::SeqCst), "two replicas led at the same time");
    }
}

impl Drop for NeverTwo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_replicas_leads_and_the_lease_names_it() {
    let sb = sandbox().await;
    let client = client(&sb).await;
    let api: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    // A lease long enough that a slow machine cannot miss it: the leader would have to fail to
    // renew for 4.8 s running.
    let mut replicas = replicas(&client, Duration::from_secs(5), Duration::from_millis(200));
    let safety = NeverTwo::watch(&replicas);

    let leader = eventually(Duration::from_secs(30), "a leader", || async { only_leader(&replicas) }).await;
    // Fifteen renews later the same replica still leads, alone.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert_eq!(only_leader(&replicas), Some(leader), "leadership must stay with one replica");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let identity = replicas[leader].identity;
    let spec = lease_spec(&api).await;
    assert_eq!(spec.holder_identity.as_deref(), Some(identity));
    assert_eq!(spec.lease_duration_seconds, Some(5));
    assert_eq!(spec.lease_transitions, Some(0));
    assert!(spec.acquire_time.is_some());
    let renewed = spec.renew_time.clone().expect("a renew time");
    eventually(Duration::from_secs(30), "the leader to renew the lease", || async {
        (lease_spec(&api).await.renew_time.expect("a renew time") > renewed).then_some(())
    })
    .await;
    // A person sees it too.
    let table = kubectl_ok(&sb, &["get", "lease", leader::DEFAULT_LEASE_NAME, "-n", NAMESPACE], None).await;
    assert!(table.contains(identity), "{table}");

    safety.check();
    release_all(&mut replicas).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_lease_changes_hands_at_once() {
    let sb = sandbox().await;
    let client = client(&sb).await;
    let api: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    let lease_duration = Duration::from_secs(5);
    let mut replicas = replicas(&client, lease_duration, Duration::from_millis(200));
    let safety = NeverTwo::watch(&replicas);
    let leader = eventually(Duration::from_secs(30), "a leader", || async { only_leader(&replicas) }).await;
    let other = 1 - leader;

    let released = Instant::now();
    replicas[leader].handle.take().unwrap().release().await;
    assert!(!replicas[leader].leadership.is_leader(), "a released replica no longer leads");
    // Given up, or already taken by the other: never still held by the released replica.
    let holder = lease_spec(&api).await.holder_identity;
    assert!(holder.is_none() || holder.as_deref() == Some(replicas[other].identity), "{holder:?}");

    eventually(Duration::from_secs(30), "the other replica to lead", || async {
        replicas[other].leadership.is_leader().then_some(())
    })
    .await;
    let handover = released.elapsed();
    assert!(handover < lease_duration, "the handover took {handover:?}, as long as waiting for the lease to expire");
    let spec = lease_spec(&api).await;
    assert_eq!(spec.holder_identity.as_deref(), Some(replicas[other].identity));
    assert_eq!(spec.lease_transitions, Some(1));

    safety.check();
    release_all(&mut replicas).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_leader_is_replaced_once_its_lease_has_expired() {
    let sb = sandbox().await;
    let client = client(&sb).await;
    let api: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    let mut replicas = replicas(&client, Duration::from_secs(2), Duration::from_millis(200));
    let safety = NeverTwo::watch(&replicas);
    let leader = eventually(Duration::from_secs(30), "a leader", || async { only_leader(&replicas) }).await;
    let other = 1 - leader;
    let (crashed, survivor) = (replicas[leader].identity, replicas[other].identity);

    replicas[leader].handle.take().unwrap().abort();
    eventually(Duration::from_secs(10), "the crashed replica to stop leading", || async {
        (!replicas[leader].leadership.is_leader()).then_some(())
    })
    .await;

    // Follow the Lease until it changes hands, remembering the crashed leader's last renew: the
    // survivor may take over only a full lease duration after it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last_renew = None;
    let taken = loop {
        let spec = lease_spec(&api).await;
        match spec.holder_identity.as_deref() {
            Some(holder) if holder == crashed => last_renew = spec.renew_time.clone(),
            Some(holder) if holder == survivor => break spec,
            holder => panic!("unexpected holder {holder:?}"),
        }
        assert!(Instant::now() < deadline, "the survivor never took the lease over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let last_renew = last_renew.expect("the crashed leader held the lease").0;
    let acquired = taken.acquire_time.expect("an acquire time").0;
    let waited = acquired.duration_since(last_renew);
    assert!(waited >= SignedDuration::from_secs(2), "taken over {waited:?} after the last renew, before it expired");
    assert_eq!(taken.lease_transitions, Some(1));
    eventually(Duration::from_secs(30), "the survivor to lead", || async {
        replicas[other].leadership.is_leader().then_some(())
    })
    .await;

    safety.check();
    release_all(&mut replicas).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_api_server_steps_down_before_its_lease_expires() {
    let mut sb = sandbox().await;
    let client = client(&sb).await;
    let lease_duration = Duration::from_secs(4);
    let mut replicas = replicas(&client, lease_duration, Duration::from_secs(1));
    let safety = NeverTwo::watch(&replicas);
    let leader = eventually(Duration::from_secs(30), "a leader", || async { only_leader(&replicas) }).await;

    let stopped = Instant::now();
    sb.stop_api().await;
    // Its last renew was sent before the API server stopped, so it must stop leading within the
    // lease duration of that moment: it stops one renew interval (1 s) earlier, which is the margin.
    let mut leadership = replicas[leader].leadership.clone();
    let stepped_down = tokio::time::timeout_at(stopped + lease_duration, leadership.lost()).await;
    assert!(stepped_down.is_ok(), "the leader still led {lease_duration:?} after the API server stopped");

    // Nobody can renew or take the lease while the API server is down.
    let until = Instant::now() + lease_duration;
    while Instant::now() < until {
        assert_eq!(replicas.iter().filter(|r| r.leadership.is_leader()).count(), 0, "a leader without an API server");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    sb.restart_api().await.unwrap();
    eventually(Duration::from_secs(60), "a leader once the API server is back", || async { only_leader(&replicas) })
        .await;

    safety.check();
    release_all(&mut replicas).await;
}
