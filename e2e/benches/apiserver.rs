//! Load on the sandbox API server: 2,000 watched custom objects and 500 writes a second.
//!
//! `cargo bench -p fledge-e2e --bench apiserver` prints the write rate reached, write
//! latency, and how far behind the watchers ran (time from a write's answer to each
//! watcher's receipt of it). A watcher that lags past the server's buffer would get a 410
//! and have to relist; the bench counts those.

use fledge_sandbox_cluster::{Options, Sandbox};
use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const OBJECTS: usize = 2_000;
const WATCHERS: usize = 3;
const WRITES_PER_SECOND: u64 = 500;
const SECONDS: u64 = 10;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("fledge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sandbox = Sandbox::start(Options { kubeconfig: Some(dir.join("kubeconfig")), ..Options::default() }).await?;
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(sandbox.kubeconfig())?,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    let client = kube::Client::try_from(config)?;

    // The Fledge CRDs, installed as a user installs them.
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    for crd in fledge_crds::generate::crds() {
        crds.create(&PostParams::default(), &crd).await?;
    }
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("fledge.dev", "v1beta1", "AlertProvider"),
        "alertproviders",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let started = Instant::now();
    for i in 0..OBJECTS {
        let object: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "fledge.dev/v1beta1", "kind": "AlertProvider",
            "metadata": {"name": format!("provider-{i}")},
            "spec": {"type": "generic", "address": "http://receiver.test/"},
        }))?;
        api.create(&PostParams::default(), &object).await?;
    }
    println!("created {OBJECTS} custom objects in {:.2?}", started.elapsed());

    // Watchers record when each write reached them.
    let received: Arc<Mutex<Vec<HashMap<String, Instant>>>> = Arc::new(Mutex::new(vec![HashMap::new(); WATCHERS]));
    let relists = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for w in 0..WATCHERS {
        let api = api.clone();
        let received = received.clone();
        let relists = relists.clone();
        tokio::spawn(async move {
            let mut stream = kube::runtime::watcher(api, kube::runtime::watcher::Config::default()).boxed();
            while let Some(event) = stream.next().await {
                match event {
                    Ok(kube::runtime::watcher::Event::Apply(o)) => {
                        if let Some(mark) = o.metadata.annotations.as_ref().and_then(|a| a.get("bench/write")) {
                            received.lock().unwrap().get_mut(w).unwrap().insert(mark.clone(), Instant::now());
                        }
                    }
                    Ok(kube::runtime::watcher::Event::Init) => {
                        relists.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // 500 writes a second, spread over the objects, each an annotation change.
    let total = (WRITES_PER_SECOND * SECONDS) as usize;
    let answered: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::new(Mutex::new(Vec::new()));
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / WRITES_PER_SECOND));
    let begin = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        ticker.tick().await;
        let api = api.clone();
        let answered = answered.clone();
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(async move {
            let mark = format!("w{i}");
            let patch = serde_json::json!({"metadata": {"annotations": {"bench/write": mark}}});
            let sent = Instant::now();
            if api
                .patch(&format!("provider-{}", i % OBJECTS), &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                let now = Instant::now();
                latencies.lock().unwrap().push(now - sent);
                answered.lock().unwrap().insert(mark, now);
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = begin.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let answered = answered.lock().unwrap().clone();
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort();
    let mut lags = Vec::new();
    let mut missing = 0;
    for watcher in received.lock().unwrap().iter() {
        for (mark, done) in &answered {
            match watcher.get(mark) {
                Some(seen) => lags.push(seen.saturating_duration_since(*done)),
                None => missing += 1,
            }
        }
    }
    lags.sort();
    println!(
        "writes: {} of {total} answered in {elapsed:.2?} = {:.0}/s (target {WRITES_PER_SECOND}/s)",
        answered.len(),
        answered.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "write latency: p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    println!(
        "watch lag over {WATCHERS} watchers: p50 {:.2?}, p99 {:.2?}, max {:.2?}; writes a watcher never saw: {missing}; relists: {} (the {WATCHERS} initial lists included)",
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        percentile(&lags, 1.0),
        relists.load(std::sync::atomic::Ordering::Relaxed)
    );
    sandbox.stop().await;
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
