//! The `fledge controller` process: the kube client, the HTTP endpoints, leader election, and
//! the kube-runtime controller that watches Canaries and what they depend on. Does I/O.

use crate::checks::AllChecks;
use crate::checks::access_logs::AccessLogChecks;
use crate::checks::metrics::MetricChecks;
use crate::checks::webhooks::WebhookChecks;
use crate::cluster::objects::{ConfigKind, tracked_config_key};
use crate::cluster::reconcile::{self, Context};
use crate::cluster::rules::Rules;
use crate::delivery::event_hooks::EventHooks;
use crate::delivery::events::Publisher;
use crate::delivery::notifications::{AlertNotifier, DefaultProvider};
use crate::process::leader::{self, LeaseConfig};
use crate::process::server::{self, Health};
use crate::process::telemetry::Metrics;
use anyhow::Context as _;
use fledge_crds::canary::Canary;
use fledge_crds::istio::{DestinationRule, VirtualService};
use fledge_webhooks::{Hooks, Notifiers};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Config, Resource, ResourceExt};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long a stopping controller keeps sending queued event webhooks and notifications.
const DRAIN_QUEUES: Duration = Duration::from_secs(10);

/// How long reading one pod's access log, or one page from Loki, may take.
const LOG_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How the controller process is set up (the flags of `fledge controller`). Its `Debug` leaves
/// out the event webhook's URL and the alert provider's secrets.
#[derive(Clone)]
pub struct Settings {
    /// A kubeconfig file; in-cluster configuration when absent.
    pub kubeconfig: Option<PathBuf>,
    /// Watch one namespace only; all when absent.
    pub namespace: Option<String>,
    /// The default Prometheus address of the built-in metrics.
    pub metrics_server: String,
    /// Receives every event of every Canary (`--event-webhook`).
    pub event_webhook: Option<String>,
    /// Where notices of Canaries without `analysis.alerts` go (`--alert-*`).
    pub alerts: Option<DefaultProvider>,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub listen: SocketAddr,
    /// Whether to take part in leader election (off for a single local process).
    pub leader_election: bool,
    /// Namespace of the leader Lease.
    pub lease_namespace: String,
    /// Name of the leader Lease.
    pub lease_name: String,
    /// How long the Lease lasts without renewal; renewals come at a fifth of it.
    pub lease_duration: Duration,
    /// This replica's identity in the Lease.
    pub identity: String,
    /// What the flags decide for every Canary: selector labels, copied labels, config
    /// tracking, cross-namespace references.
    pub rules: Rules,
    /// The cluster named in every notification (`--cluster-name`).
    pub cluster_name: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("kubeconfig", &self.kubeconfig)
            .field("namespace", &self.namespace)
            .field("metrics_server", &fledge_crds::address::redacted(&self.metrics_server))
            .field("event_webhook", &self.event_webhook.as_deref().map(fledge_webhooks::notify::redacted_address))
            .field("alerts", &self.alerts)
            .field("listen", &self.listen)
            .field("leader_election", &self.leader_election)
            .field("identity", &self.identity)
            .field("rules", &self.rules)
            .field("cluster_name", &self.cluster_name)
            .finish_non_exhaustive()
    }
}

/// A kube client from the kubeconfig named, `KUBECONFIG`, or the in-cluster service account.
pub async fn client(kubeconfig: Option<&PathBuf>) -> anyhow::Result<Client> {
    let config = match kubeconfig {
        Some(path) => {
            let file =
                Kubeconfig::read_from(path).with_context(|| format!("reading the kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await?
        }
        None if std::env::var_os("KUBECONFIG").is_some() => Config::infer().await?,
        None => Config::incluster().context("no --kubeconfig given and not running in a cluster")?,
    };
    Client::try_from(config).context("building the kube client")
}

/// Run until `shutdown` resolves.
pub async fn control(settings: Settings, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let client = client(settings.kubeconfig.as_ref()).await?;
    let hooks = Hooks::new().context("building the webhook client")?;
    let notifiers = Notifiers::new().context("building the notification client")?;
    let metrics = Arc::new(Metrics::new());
    let health = Health::new();
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {} for /metrics", settings.listen))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    tracing::info!(address = %listener.local_addr()?, "serving /metrics, /healthz and /readyz");
    let http = tokio::spawn(server::serve(listener, metrics.clone(), health.clone(), stopped));
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });

    let mut leadership = None;
    if settings.leader_election {
        let config = LeaseConfig {
            name: settings.lease_name.clone(),
            namespace: settings.lease_namespace.clone(),
            identity: settings.identity.clone(),
            lease_duration: settings.lease_duration,
            renew_every: (settings.lease_duration / 5).max(Duration::from_millis(200)),
        };
        leadership = Some(leader::spawn(client.clone(), config));
    }
    health.set_ready(true);
    loop {
        if let Some((lead, _)) = leadership.as_mut() {
            tracing::info!(identity = %settings.identity, "waiting to become the leader");
            let mut stop = stop_rx.clone();
            tokio::select! {
                () = lead.acquired() => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        let mut stop = stop_rx.clone();
        let lost: std::pin::Pin<Box<dyn Future<Output = ()> + Send + Sync>> = match leadership.as_ref() {
            Some((lead, _)) => {
                let mut rx = lead.receiver();
                Box::pin(async move {
                    let _ = rx.wait_for(|leader| !*leader).await;
                })
            }
            None => Box::pin(std::future::pending()),
        };
        let until = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        // A shutdown lets reconciles in flight finish; a lost leadership drops them at once,
        // so this replica stops acting before another can start (the leader steps down before
        // its Lease expires). A write already sent fails on the Canary's resourceVersion.
        tokio::select! {
            () = controller(client.clone(), hooks.clone(), notifiers.clone(), &settings, metrics.clone(), until) => {}
            () = lost => tracing::warn!("lost the leadership; stopped the controller"),
        }
        if *stop_rx.borrow() {
            break;
        }
    }
    if let Some((_, handle)) = leadership {
        handle.release().await;
    }
    let _ = http.await;
    Ok(())
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Canaries in the namespace of `object` for which `pick` holds.
fn canaries_of(
    store: &Store<Canary>,
    namespace: Option<String>,
    pick: impl Fn(&Canary) -> bool,
) -> Vec<ObjectRef<Canary>> {
    store
        .state()
        .iter()
        .filter(|c| c.namespace() == namespace && pick(c))
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}

async fn controller(
    client: Client,
    hooks: Hooks,
    notifiers: Notifiers,
    settings: &Settings,
    metrics: Arc<Metrics>,
    until: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let ns = settings.namespace.as_deref();
    let wc = watcher::Config::default();
    let canaries: Api<Canary> = api(&client, ns);
    let controller = Controller::new(canaries, wc.clone());
    let store = controller.store();

    let targets = store.clone();
    let configs = store.clone();
    let secrets = store.clone();
    let controller = controller
        // The target (by name) and the primary (by owner) of a Canary.
        .watches(api::<Deployment>(&client, ns), wc.clone(), move |d| {
            let name = d.name_any();
            canaries_of(&targets, d.namespace(), |c| {
                c.spec.target_ref.name == name || format!("{}-primary", c.spec.target_ref.name) == name
            })
        })
        .owns(api::<Service>(&client, ns), wc.clone())
        .owns(api::<VirtualService>(&client, ns), wc.clone())
        .owns(api::<DestinationRule>(&client, ns), wc.clone())
        .owns(api::<HorizontalPodAutoscaler>(&client, ns), wc.clone());
    // A tracked config changed: a new revision of the Canaries that track it. Without config
    // tracking none is tracked, and ConfigMaps and Secrets are not even watched (or cached).
    let controller = if settings.rules.config_tracking {
        controller
            .watches(api::<ConfigMap>(&client, ns), wc.clone(), move |cm| {
                let key = tracked_config_key(ConfigKind::ConfigMap, &cm.name_any());
                canaries_of(&configs, cm.namespace(), |c| tracks(c, &key))
            })
            .watches(api::<Secret>(&client, ns), wc.clone(), move |s| {
                let key = tracked_config_key(ConfigKind::Secret, &s.name_any());
                canaries_of(&secrets, s.namespace(), |c| tracks(c, &key))
            })
    } else {
        controller
    };
    let controller = controller.graceful_shutdown_on(until);

    let (event_hooks, event_worker) = EventHooks::spawn(client.clone(), hooks.clone(), settings.event_webhook.clone());
    let (notifier, notice_worker) =
        AlertNotifier::spawn(client.clone(), notifiers, settings.alerts.clone(), settings.cluster_name.clone());
    let ctx = Arc::new(Context {
        events: Publisher::new(client.clone(), settings.identity.clone()).with_hooks(event_hooks),
        checks: Arc::new(AllChecks(vec![
            // Rollout hooks run before the metrics, as in Flagger (a load test starts first).
            Arc::new(WebhookChecks::new(client.clone(), hooks)),
            Arc::new(MetricChecks::new(client.clone(), settings.metrics_server.clone())),
            Arc::new(AccessLogChecks::new(client.clone(), LOG_READ_TIMEOUT)),
        ])),
        notifier: Arc::new(notifier),
        client,
        metrics,
        store: Some(store),
        rules: settings.rules.clone(),
    });
    tracing::info!(namespace = ns.unwrap_or("(all)"), "controller started");
    controller
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "controller event");
            }
        })
        .await;
    tracing::info!("controller stopped");
    // The reconciles are done and their queues closed: what they queued (the last "promoted"
    // notification, its events) is still sent, for a while.
    let drained = async {
        let _ = event_worker.await;
        let _ = notice_worker.await;
    };
    if tokio::time::timeout(DRAIN_QUEUES, drained).await.is_err() {
        tracing::warn!("stopped before every queued event webhook and notification was sent");
    }
}

fn tracks(canary: &Canary, key: &str) -> bool {
    canary.status.as_ref().and_then(|s| s.tracked_configs.as_ref()).is_some_and(|t| t.contains_key(key))
}
