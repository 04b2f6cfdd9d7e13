//! Rollout windows in a rollout: a release started outside its allow window holds at weight 0
//! with the `RolloutWindow` condition saying when the window opens, and advances once it does.

mod common;

use common::{release, started};

use common::{events, kubectl_ok, podinfo, wait_for};
use fledge_crds::canary::{ConditionStatus, Phase};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What follows `podinfo(1)`.
const MANIFEST: &str = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 30
  service: {port: 9898}
  analysis:
    interval: 2s
    threshold: 2
    maxWeight: 20
    stepWeight: 10
    windows:
    - name: soon
      schedule: "SCHEDULE"
      duration: 10m
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_outside_its_window_holds_at_weight_zero_until_the_window_opens() {
    let schedule = schedule_at(now_seconds() + 3600);
    let run = started(&format!("{}---{}", podinfo(1), MANIFEST.replace("SCHEDULE", &schedule)), &[]).await;
    let (sb, canaries) = (&run.sandbox, &run.canaries);

    // Now that everything runs: a daily window (UTC, with seconds) that opens 30 s from now.
    let opens = now_seconds() + 30;
    let patch = format!(
        r#"{{"spec":{{"analysis":{{"windows":[{{"name":"soon","schedule":"{}","duration":"10m"}}]}}}}}}"#,
        schedule_at(opens)
    );
    kubectl_ok(sb, &["-n", "test", "patch", "canary", "podinfo", "--type", "merge", "-p", &patch], None).await;
    release(sb, "6.0.1").await;
    let held = wait_for(canaries, "the RolloutWindow condition", |s| {
        s.conditions.iter().flatten().any(|c| c.r#type == "RolloutWindow" && c.status == ConditionStatus::False)
    })
    .await;
    assert!(
        SystemTime::now() < UNIX_EPOCH + Duration::from_secs(opens),
        "the test needs the window still closed here; the machine is too slow"
    );
    assert_eq!((held.phase, held.canary_weight), (Phase::Progressing, Some(0)), "{held:?}");
    let condition = held.conditions.iter().flatten().find(|c| c.r#type == "RolloutWindow").unwrap();
    assert_eq!(condition.reason, "OutsideWindow");
    let message = condition.message.clone().unwrap_or_default();
    assert!(message.starts_with("outside the allow window soon; it opens at "), "{message}");

    // The window opens: the release advances and is promoted.
    let done =
        wait_for(canaries, "the end of the release", |s| matches!(s.phase, Phase::Succeeded | Phase::Failed)).await;
    assert_eq!(done.phase, Phase::Succeeded, "{done:?}");
    assert!(SystemTime::now() >= UNIX_EPOCH + Duration::from_secs(opens), "promoted before the window opened");
    let events = events(sb).await;
    assert!(events.contains("Advancement of podinfo.test held: outside the allow window soon"), "{events}");
}

fn now_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A daily six-field cron schedule (seconds first) firing at the Unix time `at`, in UTC.
fn schedule_at(at: u64) -> String {
    format!("{} {} {} * * *", at % 60, at / 60 % 60, at / 3600 % 24)
}
