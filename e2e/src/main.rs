//! `fledge-sandbox`: a one-process Kubernetes cluster with an Istio mesh, for trying Fledge
//! without a cluster and for the end-to-end tests.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use fledge_sandbox_cluster::{Options, Sandbox};
use std::path::PathBuf;

/// A Kubernetes API server, Deployment simulator and Istio mesh in one process.
#[derive(Parser, Debug)]
#[command(name = "fledge-sandbox", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the demo: the sandbox, the real `fledge controller`, a good release that is promoted,
    /// one answering errors and one never ready, both rolled back, narrated step by step. Ends
    /// by itself.
    Demo {
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Start the sandbox and serve until Ctrl-C, for kubectl and the controller.
    Serve {
        /// Port of the API server on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Where to write the kubeconfig (default: a file in the temporary directory).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    match Cli::parse().command {
        Command::Serve { port, kubeconfig } => serve(port, kubeconfig).await,
        Command::Demo { timeout } => {
            build_controller_under_cargo()?;
            fledge_e2e::demo::run(std::time::Duration::from_secs(timeout)).await
        }
    }
}

async fn serve(port: u16, kubeconfig: Option<PathBuf>) -> anyhow::Result<()> {
    let sandbox = Sandbox::start(Options { port, kubeconfig, ..Options::default() })
        .await
        .with_context(|| format!("starting the sandbox on 127.0.0.1:{port}"))?;
    println!("kubeconfig: {}", sandbox.kubeconfig().display());
    println!("api: {}", sandbox.url());
    println!("metrics: {}/metrics", sandbox.url());
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    sandbox.stop().await;
    Ok(())
}

/// Under `cargo run` (which sets `CARGO`), builds the controller the demo runs, so that the
/// README's `cargo run --bin fledge-sandbox -- demo` works on a fresh clone and never runs a
/// controller older than the code.
///
/// Why here and not in a library: `cargo run --bin fledge-sandbox` builds this binary alone,
/// and stable cargo cannot make one binary depend on another. The tests need none of this
/// (cargo builds the package's binaries before its tests). Once `fledge-controller` exposes its
/// command line as a function, this binary can run the controller itself (as
/// `fledge-sandbox controller ...`) and this step goes.
fn build_controller_under_cargo() -> anyhow::Result<()> {
    let Some(cargo) = std::env::var_os("CARGO") else { return Ok(()) };
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    // The same profile as this executable, so the binary lands beside it.
    let profile: &[&str] = if cfg!(debug_assertions) { &[] } else { &["--release"] };
    let mut build = std::process::Command::new(cargo);
    build
        .args(["build", "--quiet", "--manifest-path", manifest, "--bin", fledge_e2e::controller::BINARY])
        .args(profile);
    // Without what `cargo run` told this binary about its package: build scripts that watch
    // those variables (ring's does) would otherwise be rebuilt here and again by the next
    // ordinary build, and everything above them with them.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with("CARGO_PKG_") || n.starts_with("CARGO_MANIFEST_")) {
            build.env_remove(name);
        }
    }
    let status = build.status().context("running cargo build for the demo's controller")?;
    if !status.success() {
        bail!("cargo build --bin {} failed", fledge_e2e::controller::BINARY);
    }
    Ok(())
}
