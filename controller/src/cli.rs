//! The `fledge` command line: `fledge controller` runs the controller, `fledge crds` prints
//! the CustomResourceDefinitions, `fledge validate` checks manifests before they are
//! applied and `fledge preflight` checks a cluster before the controller runs there. A library function, so that the `fledge` binary and the sandbox's
//! `fledge-sandbox fledge ...` (what the end-to-end tests and the demo run) are the same code.

use crate::cluster::rules::{LabelPrefixes, Rules, SelectorLabels};
use crate::delivery::notifications::{self, DefaultProvider, Severity};
use anyhow::Context;
use clap::{Parser, Subcommand};
use fledge_webhooks::Destination;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

/// Fledge: progressive delivery for Kubernetes and Istio.
#[derive(Parser)]
#[command(name = "fledge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller: watch Canaries and release their targets step by step.
    Controller(Box<ControllerArgs>),
    /// Print the fledge.dev CustomResourceDefinitions as YAML (pipe to `kubectl apply --server-side -f -`).
    Crds {
        /// Write one file per CRD, and a kustomization.yaml listing them, into this folder
        /// instead (how `crds/yaml/` is regenerated).
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// Check Canary, MetricTemplate and AlertProvider manifests: types, unknown fields, and every
    /// rule Fledge applies. MetricTemplates and AlertProviders referenced by a Canary must be in
    /// one of the files. Exits 1 when any file has an error.
    Validate {
        /// Manifest files (YAML, several documents each); `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check that the cluster of the kubeconfig has what Fledge needs: its CRDs at this
    /// version, Istio's, the permissions of this identity, the Prometheus and its Istio
    /// metrics, and optionally one Canary's target and sidecars. Exits 1 when anything is
    /// missing or cannot be checked (warnings allowed).
    Preflight(PreflightArgs),
}

/// Flags of `fledge preflight`; those it shares with `fledge controller` mean the same.
#[derive(clap::Args)]
struct PreflightArgs {
    /// Kubeconfig file; without it, `KUBECONFIG` or the in-cluster service account.
    #[arg(long, env = "FLEDGE_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Check the permissions in this namespace only (the namespaced install; default: all namespaces).
    #[arg(long, env = "FLEDGE_NAMESPACE")]
    namespace: Option<String>,
    /// Default Prometheus address for the built-in metrics.
    #[arg(long, env = "FLEDGE_METRICS_SERVER", default_value = "http://prometheus.istio-system:9090")]
    metrics_server: String,
    /// Namespace of the leader Lease (default: --namespace, else fledge-system).
    #[arg(long, env = "FLEDGE_LEADER_ELECTION_NAMESPACE")]
    leader_election_namespace: Option<String>,
    /// Whether the controller tracks ConfigMaps and Secrets (it then needs more permissions).
    #[arg(long, env = "FLEDGE_ENABLE_CONFIG_TRACKING", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    enable_config_tracking: bool,
    /// Also check this Canary (`namespace/name`): it exists, its target exists and the target's
    /// pods have an istio-proxy sidecar.
    #[arg(long, value_parser = parse_canary)]
    canary: Option<(String, String)>,
    /// How long each call to the API server or Prometheus may take, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout_seconds: u64,
    /// `text` for people, or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    output: String,
}

fn parse_canary(value: &str) -> Result<(String, String), String> {
    match value.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((ns.to_owned(), name.to_owned()))
        }
        _ => Err(format!("{value:?} is not namespace/name")),
    }
}

/// Flags of `fledge controller`; each has an environment variable of the same meaning.
#[derive(clap::Args)]
struct ControllerArgs {
    /// Kubeconfig file; without it, `KUBECONFIG` or the in-cluster service account.
    #[arg(long, env = "FLEDGE_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Watch Canaries in this namespace only (default: all namespaces).
    #[arg(long, env = "FLEDGE_NAMESPACE")]
    namespace: Option<String>,
    /// Default Prometheus address for the built-in metrics (as Flagger's -metrics-server).
    #[arg(long, env = "FLEDGE_METRICS_SERVER", default_value = "http://prometheus.istio-system:9090")]
    metrics_server: String,
    /// A URL that receives every event of every Canary as a JSON POST (as Flagger's
    /// -event-webhook), besides each Canary's own `event` webhooks.
    #[arg(long, env = "FLEDGE_EVENT_WEBHOOK", hide_env_values = true)]
    event_webhook: Option<String>,
    /// Where notices of Canaries without `analysis.alerts` go: an incoming-webhook URL (as
    /// Flagger's -slack-url). Set it from a Secret through the environment variable.
    #[arg(long, env = "FLEDGE_ALERT_ADDRESS", hide_env_values = true)]
    alert_address: Option<String>,
    /// The kind of service at --alert-address: slack, msteams, discord, rocket, gchat or generic.
    #[arg(long, env = "FLEDGE_ALERT_TYPE", default_value = "slack")]
    alert_type: String,
    /// A bearer token for --alert-address (Slack chat.postMessage, generic receivers).
    #[arg(long, env = "FLEDGE_ALERT_TOKEN", hide_env_values = true)]
    alert_token: Option<String>,
    /// Channel for --alert-address, where the service takes one (Slack, Rocket.Chat).
    #[arg(long, env = "FLEDGE_ALERT_CHANNEL")]
    alert_channel: Option<String>,
    /// Name the messages appear from (Slack, Rocket.Chat, Discord).
    #[arg(long, env = "FLEDGE_ALERT_USERNAME")]
    alert_username: Option<String>,
    /// An http(s) proxy for --alert-address.
    #[arg(long, env = "FLEDGE_ALERT_PROXY", hide_env_values = true)]
    alert_proxy: Option<String>,
    /// The least severe notice sent to --alert-address: info, warn or error.
    #[arg(long, env = "FLEDGE_ALERT_SEVERITY", default_value = "info", value_parser = ["info", "warn", "error"])]
    alert_severity: String,
    /// Address of the /metrics, /healthz and /readyz endpoints.
    #[arg(long, env = "FLEDGE_LISTEN", default_value = "0.0.0.0:8080")]
    listen: std::net::SocketAddr,
    /// Log as JSON lines.
    #[arg(long, env = "FLEDGE_LOG_JSON")]
    log_json: bool,
    /// Take part in leader election, so only one replica acts (`--leader-election=false` for a
    /// single local process).
    #[arg(long, env = "FLEDGE_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Namespace of the leader Lease (default: this pod's namespace from POD_NAMESPACE, else `default`).
    #[arg(long, env = "FLEDGE_LEADER_ELECTION_NAMESPACE")]
    leader_election_namespace: Option<String>,
    /// Name of the leader Lease.
    #[arg(long, env = "FLEDGE_LEADER_ELECTION_NAME", default_value = "fledge-leader")]
    leader_election_name: String,
    /// Seconds a leader's Lease lasts without renewal before another replica takes over.
    #[arg(long, env = "FLEDGE_LEADER_ELECTION_LEASE_SECONDS", default_value_t = 15)]
    leader_election_lease_seconds: u64,
    /// This replica's identity in the Lease (default: POD_NAME, else host name and process id).
    #[arg(long, env = "FLEDGE_IDENTITY")]
    identity: Option<String>,
    /// Label keys of a target's selector that name its app, in order of preference: the first
    /// one the target has gets the `-primary` suffix on the primary (as Flagger's
    /// -selector-labels).
    #[arg(long, env = "FLEDGE_SELECTOR_LABELS", default_value = "app,name,app.kubernetes.io/name",
          value_parser = SelectorLabels::parse)]
    selector_labels: SelectorLabels,
    /// Prefixes of the labels copied from the target, its HPA and its ConfigMaps and Secrets to
    /// the primary's (as Flagger's -include-label-prefix): `*` copies every label, an empty
    /// value none (Flagger's default).
    #[arg(long, env = "FLEDGE_INCLUDE_LABEL_PREFIX", default_value = "*")]
    include_label_prefix: String,
    /// Track the ConfigMaps and Secrets the target uses: copy them for the primary and start a
    /// rollout when they change (as Flagger's -enable-config-tracking).
    #[arg(long, env = "FLEDGE_ENABLE_CONFIG_TRACKING", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    enable_config_tracking: bool,
    /// Refuse Canaries whose MetricTemplates or AlertProviders are in another namespace (as
    /// Flagger's -no-cross-namespace-refs).
    #[arg(long, env = "FLEDGE_NO_CROSS_NAMESPACE_REFS", default_value_t = false, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    no_cross_namespace_refs: bool,
    /// The cluster's name, shown in every notification (as Flagger's -cluster-name).
    #[arg(long, env = "FLEDGE_CLUSTER_NAME")]
    cluster_name: Option<String>,
}

/// Run the command line `args` (the first is the program's name, as in `std::env::args_os`).
/// `fledge controller` initializes logging and starts its own async runtime, so call this
/// from a plain `main`, not from inside a runtime.
pub fn main_with_args(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> anyhow::Result<ExitCode> {
    match Cli::parse_from(args).command {
        Command::Controller(args) => controller(*args),
        Command::Crds { out_dir: None } => {
            print!("{}", fledge_crds::generate::all_yaml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Crds { out_dir: Some(dir) } => {
            for (name, text) in fledge_crds::generate::files() {
                let path = dir.join(name);
                std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { files } => validate(&files),
        Command::Preflight(args) => preflight(args),
    }
}

fn preflight(args: PreflightArgs) -> anyhow::Result<ExitCode> {
    use crate::process::preflight;
    let options = preflight::Options {
        lease_namespace: args
            .leader_election_namespace
            .or_else(|| args.namespace.clone())
            .unwrap_or_else(|| "fledge-system".to_owned()),
        namespace: args.namespace,
        config_tracking: args.enable_config_tracking,
        metrics_server: args.metrics_server,
        canary: args.canary,
        timeout: std::time::Duration::from_secs(args.timeout_seconds.max(1)),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime.block_on(async {
        let client = crate::process::controller::client(args.kubeconfig.as_ref()).await?;
        anyhow::Ok(preflight::run(&client, &options).await)
    })?;
    if args.output == "json" {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn validate(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut texts = Vec::new();
    for file in files {
        let text = if file.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin()).context("reading standard input")?
        } else {
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
        };
        texts.push((file.display().to_string(), text));
    }
    // References may cross files, as they would once all are applied to one cluster.
    let all = texts.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join("\n---\n");
    let catalog = fledge_crds::manifest::catalog_of(&all);
    let mut failed = false;
    for (name, text) in &texts {
        let findings = fledge_crds::manifest::check_manifest(text, Some(&catalog));
        failed |= findings.iter().any(|f| f.problem.severity == fledge_crds::Severity::Error);
        if findings.is_empty() {
            println!("{name}: ok");
        }
        for finding in findings {
            println!("{name}: {finding}");
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn controller(args: ControllerArgs) -> anyhow::Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,kube=warn".into());
    if args.log_json {
        tracing_subscriber::fmt().json().with_env_filter(filter).init();
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none();
        tracing_subscriber::fmt().with_ansi(ansi).with_env_filter(filter).init();
    }
    let alerts = default_alerts(&args)?;
    let identity = args.identity.or_else(|| std::env::var("POD_NAME").ok()).unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    });
    let settings = crate::process::controller::Settings {
        kubeconfig: args.kubeconfig,
        namespace: args.namespace,
        metrics_server: args.metrics_server,
        event_webhook: args.event_webhook,
        alerts,
        listen: args.listen,
        leader_election: args.leader_election,
        lease_namespace: args
            .leader_election_namespace
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "default".to_owned()),
        lease_name: args.leader_election_name,
        lease_duration: std::time::Duration::from_secs(args.leader_election_lease_seconds.max(1)),
        identity,
        rules: Rules {
            selector_labels: args.selector_labels,
            copied_labels: LabelPrefixes::parse(&args.include_label_prefix),
            config_tracking: args.enable_config_tracking,
            cross_namespace_refs: !args.no_cross_namespace_refs,
        },
        cluster_name: args.cluster_name.filter(|c| !c.trim().is_empty()),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(crate::process::controller::control(settings, shutdown_signal()))?;
    Ok(ExitCode::SUCCESS)
}

/// The default alert provider from the `--alert-*` flags, when an address is given.
fn default_alerts(args: &ControllerArgs) -> anyhow::Result<Option<DefaultProvider>> {
    let Some(address) = args.alert_address.clone().filter(|a| !a.is_empty()) else { return Ok(None) };
    let kind = notifications::parse_type(&args.alert_type).map_err(|e| anyhow::anyhow!("--alert-type: {e}"))?;
    let severity = match args.alert_severity.as_str() {
        "error" => Severity::Error,
        "warn" => Severity::Warn,
        _ => Severity::Info,
    };
    let destination = Destination {
        kind,
        address,
        token: args.alert_token.clone().filter(|t| !t.is_empty()),
        proxy: args.alert_proxy.clone().filter(|p| !p.is_empty()),
        channel: args.alert_channel.clone(),
        username: args.alert_username.clone(),
    };
    Ok(Some(DefaultProvider { destination, severity }))
}

/// SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
    tracing::info!("shutting down");
}
