//! `fledge-sandbox`: a one-process Kubernetes cluster with an Istio mesh, for trying Fledge
//! without a cluster and for the end-to-end tests.

use anyhow::Context;
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
        Command::Demo { timeout } => fledge_e2e::demo::run(std::time::Duration::from_secs(timeout)).await,
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
