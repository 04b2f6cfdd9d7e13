//! kube-rs, as the controller uses it, against the sandbox: watches in order, recovery from
//! 410 Gone, optimistic concurrency, subresources.

mod common;

use common::{client, eventually, sandbox};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use std::collections::BTreeMap;
use std::time::Duration;

fn config_map(name: &str, value: &str) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.to_owned());
    cm.data = Some(BTreeMap::from([("v".to_owned(), value.to_owned())]));
    cm
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_every_change_in_order() {
    let sb = sandbox().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&sb).await, "default");
    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
    // Writes start once the watcher has listed (nothing) and is watching.
    loop {
        let event =
            tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("an event").unwrap().unwrap();
        if matches!(event, watcher::Event::InitDone) {
            break;
        }
    }
    let mut events = events.applied_objects().boxed();
    let pp = PostParams::default();
    let mut expected = Vec::new();
    for i in 0..20 {
        let name = format!("cm-{}", i % 5);
        let value = i.to_string();
        match api.get_opt(&name).await.unwrap() {
            None => {
                api.create(&pp, &config_map(&name, &value)).await.unwrap();
            }
            Some(mut cm) => {
                cm.data = Some(BTreeMap::from([("v".to_owned(), value.clone())]));
                api.replace(&name, &pp, &cm).await.unwrap();
            }
        }
        expected.push((name, value));
    }
    let mut seen = Vec::new();
    while seen.len() < expected.len() {
        let cm =
            tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("an event").unwrap().unwrap();
        seen.push((cm.metadata.name.clone().unwrap(), cm.data.unwrap()["v"].clone()));
    }
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reflector_recovers_from_410_gone_after_an_outage() {
    let mut sb = sandbox().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&sb).await, "default");
    let (reader, writer) = reflector::store::<ConfigMap>();
    let stream = reflector(writer, watcher(api.clone(), watcher::Config::default().timeout(2)).default_backoff());
    let driver = tokio::spawn(stream.for_each(|_| async {}));
    let pp = PostParams::default();
    api.create(&pp, &config_map("before", "1")).await.unwrap();
    eventually(Duration::from_secs(10), "the reflector to see `before`", || async {
        reader.get(&reflector::ObjectRef::new("before").within("default")).map(|_| ())
    })
    .await;

    // The API goes away; changes happen meanwhile (as through another server) and the
    // history the watcher would resume from is compacted away.
    sb.stop_api().await;
    let cm_type = sb.cluster.registry.get("", "v1", "configmaps").unwrap();
    let key = fledge_apiserver::objects::key(&cm_type, Some("default"), "before");
    sb.cluster.store.remove(&key);
    for i in 0..3 {
        let object = fledge_apiserver::objects::prepare_create(
            &cm_type,
            Some("default"),
            serde_json::to_value(config_map(&format!("during-{i}"), "2")).unwrap(),
        )
        .unwrap();
        let key = fledge_apiserver::objects::key(&cm_type, Some("default"), &format!("during-{i}"));
        sb.cluster.store.write::<()>(&key, |_, _| Ok(Some(object))).unwrap();
    }
    sb.cluster.store.compact();
    tokio::time::sleep(Duration::from_millis(500)).await;
    sb.restart_api().await.unwrap();

    let names = eventually(Duration::from_secs(30), "the reflector to relist", || async {
        let mut names: Vec<String> = reader.state().iter().map(|cm| cm.metadata.name.clone().unwrap()).collect();
        names.sort();
        (names == ["during-0", "during-1", "during-2"]).then_some(names)
    })
    .await;
    assert_eq!(names.len(), 3);
    driver.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_with_the_same_resource_version_one_gets_409() {
    let sb = sandbox().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&sb).await, "default");
    let pp = PostParams::default();
    let created = api.create(&pp, &config_map("contended", "0")).await.unwrap();
    let mut first = created.clone();
    let mut second = created;
    first.data = Some(BTreeMap::from([("v".to_owned(), "first".to_owned())]));
    second.data = Some(BTreeMap::from([("v".to_owned(), "second".to_owned())]));
    api.replace("contended", &pp, &first).await.unwrap();
    let err = api.replace("contended", &pp, &second).await.unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 409);
            assert_eq!(status.reason, "Conflict");
            assert_eq!(
                status.message,
                "Operation cannot be fulfilled on configmaps \"contended\": the object has been modified; please apply your changes to the latest version and try again"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(api.get("contended").await.unwrap().data.unwrap()["v"], "first");
    // Creating what exists is AlreadyExists.
    let exists = api.create(&pp, &config_map("contended", "again")).await.unwrap_err();
    assert!(matches!(exists, kube::Error::Api(s) if s.code == 409 && s.reason == "AlreadyExists"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalizers_hold_a_deletion_and_owners_take_dependents_along() {
    let sb = sandbox().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&sb).await, "default");
    let pp = PostParams::default();
    let mut owner = config_map("owner", "1");
    owner.metadata.finalizers = Some(vec!["fledge.dev/test".to_owned()]);
    let owner = api.create(&pp, &owner).await.unwrap();
    let mut dependent = config_map("dependent", "1");
    dependent.metadata.owner_references = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.metadata.uid.clone().unwrap(),
        ..Default::default()
    }]);
    api.create(&pp, &dependent).await.unwrap();

    let generation = api.get("owner").await.unwrap().metadata.generation;
    let answer = api.delete("owner", &Default::default()).await.unwrap();
    assert!(answer.is_left(), "a deletion held by a finalizer answers with the object");
    let held = api.get("owner").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some(), "a finalizer holds the object with a deletionTimestamp");
    assert_eq!(held.metadata.generation, generation.map(|g| g + 1), "deletion starting bumps the generation");
    assert!(api.get_opt("dependent").await.unwrap().is_some());

    let patch = serde_json::json!({"metadata": {"finalizers": null}});
    api.patch("owner", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await.unwrap();
    eventually(Duration::from_secs(10), "the owner and its dependent to be gone", || async {
        let owner = api.get_opt("owner").await.unwrap();
        let dependent = api.get_opt("dependent").await.unwrap();
        (owner.is_none() && dependent.is_none()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_fail_or_stall_a_share_of_requests() {
    use fledge_apiserver::faults::FaultConfig;
    let sb = sandbox().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&sb).await, "default");
    sb.cluster.faults.set(FaultConfig { error_share: 1.0, code: 500, ..Default::default() });
    let err = api.list(&Default::default()).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 500), "{err:?}");
    sb.cluster.faults.set(FaultConfig { error_share: 1.0, code: 409, writes_only: true, ..Default::default() });
    api.list(&Default::default()).await.expect("reads pass when only writes fail");
    let err = api.create(&PostParams::default(), &config_map("x", "1")).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409 && s.reason == "Conflict"), "{err:?}");
    sb.cluster.faults.set(FaultConfig { stall_share: 1.0, stall: Duration::from_millis(600), ..Default::default() });
    let started = std::time::Instant::now();
    api.list(&Default::default()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(600));
    // About half of the requests fail when half are asked to.
    sb.cluster.faults.set(FaultConfig { error_share: 0.5, code: 500, ..Default::default() });
    let mut failed = 0;
    for _ in 0..200 {
        failed += api.list(&Default::default()).await.is_err() as usize;
    }
    assert!((70..=130).contains(&failed), "{failed} of 200 failed");
    sb.cluster.faults.set(FaultConfig::default());
    api.list(&Default::default()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immediate_deletion_answers_with_a_status() {
    let sb = sandbox().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&sb).await, "default");
    api.create(&PostParams::default(), &config_map("gone", "1")).await.unwrap();
    let answer = api.delete("gone", &Default::default()).await.unwrap();
    let status = answer.right().expect("a Status, as Kubernetes answers for an object removed at once");
    assert_eq!(status.status, Some(kube::core::response::StatusSummary::Success));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_change_moves_an_object_in_and_out_of_a_selecting_reflector() {
    let sb = sandbox().await;
    let api: Api<ConfigMap> = Api::namespaced(client(&sb).await, "default");
    let pp = PostParams::default();
    let mut labelled = config_map("labelled", "1");
    labelled.metadata.labels = Some(BTreeMap::from([("app".to_owned(), "x".to_owned())]));
    api.create(&pp, &labelled).await.unwrap();
    api.create(&pp, &config_map("plain", "1")).await.unwrap();
    let (reader, writer) = reflector::store::<ConfigMap>();
    let stream = reflector(writer, watcher(api.clone(), watcher::Config::default().labels("app=x")).default_backoff());
    let driver = tokio::spawn(stream.for_each(|_| async {}));
    let names = || {
        let mut names: Vec<String> = reader.state().iter().map(|cm| cm.metadata.name.clone().unwrap()).collect();
        names.sort();
        names
    };
    eventually(Duration::from_secs(10), "the first list", || async { (names() == ["labelled"]).then_some(()) }).await;
    let relabel = |name: &'static str, value: Option<&'static str>| {
        let api = api.clone();
        async move {
            let patch = serde_json::json!({"metadata": {"labels": {"app": value}}});
            api.patch(name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await.unwrap();
        }
    };
    relabel("labelled", None).await;
    relabel("plain", Some("x")).await;
    eventually(Duration::from_secs(10), "the reflector to follow the labels", || async {
        (names() == ["plain"]).then_some(())
    })
    .await;
    driver.abort();
}
