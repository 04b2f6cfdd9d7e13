//! `fledge-sandbox demo`: a sandbox cluster, the real `fledge controller` binary, the podinfo
//! Canary judged on its access logs, a good release that is promoted, one that answers 10%
//! errors and one whose pods never get ready, both rolled back, narrated as it happens, with
//! the notifications a chat channel would get. Needs nothing but the Rust toolchain. Does I/O.

use crate::controller::ControllerProcess;
use anyhow::{Context, bail};
use fledge_crds::canary::{Canary, CheckKind, Phase};
use fledge_crds::istio::VirtualService;
use fledge_sandbox_cluster::{Options, Sandbox};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The demo's manifest: podinfo and a Canary with a 2s interval, so a rollout takes seconds.
pub const MANIFEST: &str = include_str!("demo.yaml");

const FIELD_MANAGER: &str = "fledge-demo";

/// Run the demo; returns when both releases have ended (or fails after `timeout`).
pub async fn run(timeout: Duration) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("fledge-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sandbox = Sandbox::start(Options { kubeconfig: Some(dir.join("kubeconfig")), ..Options::default() }).await?;
    let mut n = Narrator::new();
    n.say(&format!("sandbox API server at {} (export KUBECONFIG={})", sandbox.url(), sandbox.kubeconfig().display()));
    let client = client(&sandbox).await?;
    install(&client).await?;
    n.say("applied the Fledge CRDs, namespace test, Deployment podinfo (podinfo:6.0.0, 2 replicas), Canary podinfo");

    let log = dir.join("fledge.log");
    let chat = Chat::start().await?;
    let args = ["--leader-election=false", "--alert-type", "generic", "--alert-address", &chat.url];
    let mut controller = ControllerProcess::start(sandbox.kubeconfig(), &log, &args).await?;
    n.say(&format!("started `fledge controller`; its log is {}", log.display()));
    n.say(&format!("notifications go to a chat stand-in at {} (`--alert-address`)", chat.url));
    n.chat = Some(chat);

    let result = tokio::time::timeout(timeout, story(&client, &mut n)).await;
    let _ = controller.terminate().await;
    sandbox.stop().await;
    match result {
        Ok(Ok(summary)) => {
            println!("\n{summary}");
            Ok(())
        }
        Ok(Err(e)) => Err(e.context(format!("the demo failed; the controller's log is {}", log.display()))),
        Err(_) => bail!("the demo did not finish within {timeout:?}; the controller's log is {}", log.display()),
    }
}

async fn story(client: &Client, n: &mut Narrator) -> anyhow::Result<String> {
    let canaries: Api<Canary> = Api::namespaced(client.clone(), "test");
    n.watch_until(client, &canaries, &[Phase::Initialized]).await?;

    n.title("release 1: podinfo:6.0.1, a good version");
    let started = Instant::now();
    set_image(client, "ghcr.io/stefanprodan/podinfo:6.0.1", Fault::None).await?;
    let end = n.watch_until(client, &canaries, &[Phase::Succeeded, Phase::Failed]).await?;
    if end != Phase::Succeeded {
        bail!("release 1 ended {end}, expected Succeeded");
    }
    let good = started.elapsed();

    n.title("release 2: podinfo:6.0.2, which answers 10% of its requests with errors");
    let started = Instant::now();
    set_image(client, "ghcr.io/stefanprodan/podinfo:6.0.2", Fault::Errors("0.1")).await?;
    let end = n.watch_until(client, &canaries, &[Phase::Failed, Phase::Succeeded]).await?;
    if end != Phase::Failed {
        bail!("release 2 ended {end}, expected Failed");
    }
    let erring = started.elapsed();
    let check = canaries
        .get("podinfo")
        .await?
        .status
        .and_then(|s| s.checks)
        .and_then(|checks| checks.into_iter().find(|c| c.kind == CheckKind::AccessLog));
    if let Some(check) = check {
        n.say(&format!("  last access-log check: {}", check.message.unwrap_or_default()));
    }

    n.title("release 3: podinfo:6.0.3, whose pods never become ready");
    let started = Instant::now();
    set_image(client, "ghcr.io/stefanprodan/podinfo:6.0.3", Fault::NeverReady).await?;
    let end = n.watch_until(client, &canaries, &[Phase::Failed, Phase::Succeeded]).await?;
    if end != Phase::Failed {
        bail!("release 3 ended {end}, expected Failed");
    }
    let unready = started.elapsed();
    let rolled_back = n.wait_for_notices("podinfo.test rolled back", 2).await;
    if rolled_back != 2 {
        bail!("the chat got {rolled_back} 'rolled back' notifications, expected one for each of releases 2 and 3");
    }
    let primary: Api<Deployment> = Api::namespaced(client.clone(), "test");
    let image = primary
        .get("podinfo-primary")
        .await?
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|p| p.containers.first().and_then(|c| c.image.clone()))
        .unwrap_or_default();
    Ok(format!(
        "Done. podinfo:6.0.1 was promoted in {:.0}s; podinfo:6.0.2 (errors) was rolled back after {:.0}s, \
         podinfo:6.0.3 (never ready) after {:.0}s.\nThe primary runs {image} and serves all traffic.",
        good.as_secs_f64(),
        erring.as_secs_f64(),
        unready.as_secs_f64()
    ))
}

async fn client(sandbox: &Sandbox) -> anyhow::Result<Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(sandbox.kubeconfig())?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

/// The CRDs and the demo manifest, by server-side apply.
async fn install(client: &Client) -> anyhow::Result<()> {
    install_crds(client).await?;
    apply(client, MANIFEST).await
}

/// The Fledge CRDs, by server-side apply as `kubectl apply --server-side` would, waiting until
/// Canaries are served.
pub async fn install_crds(client: &Client) -> anyhow::Result<()> {
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in fledge_crds::generate::crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        crds.patch(&name, &apply, &Patch::Apply(&crd)).await.with_context(|| format!("installing the CRD {name}"))?;
    }
    let canaries: Api<Canary> = Api::all(client.clone());
    for _ in 0..50 {
        if canaries.list(&ListParams::default()).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Server-side apply the Namespaces, Deployments and Canaries of a manifest.
pub async fn apply(client: &Client, manifest: &str) -> anyhow::Result<()> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for document in manifest.split("\n---\n") {
        let object: serde_json::Value = serde_norway::from_str(document).context("reading a manifest")?;
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let namespace = object["metadata"]["namespace"].as_str().unwrap_or("default").to_owned();
        let patch = Patch::Apply(&object);
        match object["kind"].as_str() {
            Some("Namespace") => drop(Api::<Namespace>::all(client.clone()).patch(&name, &params, &patch).await?),
            Some("Deployment") => {
                drop(Api::<Deployment>::namespaced(client.clone(), &namespace).patch(&name, &params, &patch).await?)
            }
            Some("Canary") => {
                drop(Api::<Canary>::namespaced(client.clone(), &namespace).patch(&name, &params, &patch).await?)
            }
            other => bail!("cannot apply a {other:?}"),
        }
    }
    Ok(())
}

/// What is wrong with a release, by the sandbox's pod annotations.
#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    /// This share of requests is answered with 500 or 503.
    Errors(&'static str),
    /// The pods never become ready.
    NeverReady,
}

/// What `kubectl set image` does, plus the sandbox's annotations for a faulty release.
async fn set_image(client: &Client, image: &str, fault: Fault) -> anyhow::Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "test");
    let (ready, errors) = match fault {
        Fault::None => (None, None),
        Fault::Errors(share) => (None, Some(share)),
        Fault::NeverReady => (Some("false"), None),
    };
    let annotations = json!({
        fledge_sandbox_cluster::workloads::ANNOTATION_READY: ready,
        fledge_sandbox_cluster::mesh::annotations::ERROR_RATE: errors,
    });
    let patch = json!({"spec": {"template": {
        "metadata": {"annotations": annotations},
        "spec": {"containers": [{"name": "podinfod", "image": image}]},
    }}});
    deployments.patch("podinfo", &PatchParams::default(), &Patch::Strategic(patch)).await?;
    Ok(())
}

/// Prints what happens: phase and weight changes, and every event, with the time since start.
struct Narrator {
    start: Instant,
    seen_events: BTreeSet<String>,
    last: Option<(Phase, i32, String)>,
    chat: Option<Chat>,
    /// Notifications already shown.
    shown: usize,
}

/// A stand-in for a chat channel: a local endpoint receiving the controller's notifications
/// as the generic JSON body.
struct Chat {
    url: String,
    inbox: Arc<Mutex<Vec<Value>>>,
}

impl Chat {
    async fn start() -> anyhow::Result<Self> {
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let kept = inbox.clone();
        let app = axum::Router::new().fallback(axum::routing::post(move |body: axum::Json<Value>| {
            let kept = kept.clone();
            async move { kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(body.0) }
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/chat", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url, inbox })
    }

    fn messages(&self) -> Vec<Value> {
        self.inbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Narrator {
    fn new() -> Self {
        Self { start: Instant::now(), seen_events: BTreeSet::new(), last: None, chat: None, shown: 0 }
    }

    /// Show the notifications that arrived since the last call.
    fn show_notices(&mut self) {
        let Some(chat) = &self.chat else { return };
        let messages = chat.messages();
        for m in messages.iter().skip(self.shown) {
            let text = |key: &str| m[key].as_str().unwrap_or_default().to_owned();
            self.say(&format!("  notify [{}] {}: {}", text("severity"), text("title"), text("message")));
        }
        self.shown = messages.len();
    }

    /// How many notifications titled `title` arrived, waiting up to 5 s for `want` of them.
    async fn wait_for_notices(&mut self, title: &str, want: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            self.show_notices();
            let got = self.chat.as_ref().map_or(0, |c| c.messages().iter().filter(|m| m["title"] == title).count());
            if got >= want || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn say(&self, line: &str) {
        println!("[{:>5.1}s] {line}", self.start.elapsed().as_secs_f64());
    }

    fn title(&self, line: &str) {
        println!("\n== {line}");
    }

    /// Narrate until the Canary reaches one of `phases` (seen after a change in this call).
    async fn watch_until(
        &mut self,
        client: &Client,
        canaries: &Api<Canary>,
        phases: &[Phase],
    ) -> anyhow::Result<Phase> {
        let routes: Api<VirtualService> = Api::namespaced(client.clone(), "test");
        let events: Api<Event> = Api::namespaced(client.clone(), "test");
        let entered = self.last.as_ref().map(|l| l.0);
        let mut moved = false;
        loop {
            let mut new_events: Vec<Event> = events
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter(|e| e.metadata.name.as_ref().is_some_and(|n| !self.seen_events.contains(n)))
                .collect();
            new_events.sort_by_key(|e| e.event_time.as_ref().map(|t| t.0));
            for e in new_events {
                self.seen_events.insert(e.metadata.name.clone().unwrap_or_default());
                let kind = if e.type_.as_deref() == Some("Warning") { "WARNING " } else { "" };
                let reason = e.reason.unwrap_or_default();
                self.say(&format!("  event {kind}{reason}: {}", e.note.unwrap_or_default()));
            }
            self.show_notices();
            let canary = canaries.get("podinfo").await?;
            let status = canary.status.unwrap_or_default();
            let weights = routes
                .get_opt("podinfo")
                .await?
                .and_then(|vs| vs.spec.http.into_iter().next())
                .map(|h| {
                    h.route
                        .iter()
                        .map(|r| format!("{} {}%", r.destination.host, r.weight.unwrap_or(0)))
                        .collect::<Vec<_>>()
                        .join(" / ")
                })
                .unwrap_or_else(|| "no VirtualService yet".to_owned());
            let now = (status.phase, status.canary_weight.unwrap_or(0), weights.clone());
            if self.last.as_ref() != Some(&now) {
                let phase = if status.phase == Phase::Unset { "(new)" } else { status.phase.as_str() };
                self.say(&format!("canary podinfo {phase:<12} routes: {weights}"));
                moved |= Some(status.phase) != entered;
                self.last = Some(now);
            }
            if phases.contains(&status.phase) && (moved || entered.is_none()) {
                return Ok(status.phase);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
