//! `fledge-sandbox`: a one-process Kubernetes cluster with an Istio mesh, for trying Fledge
//! without a cluster and for the end-to-end tests.

use anyhow::Context;
use clap::{Parser, Subcommand};
use fledge_sandbox_cluster::{Options, Sandbox};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// The `fledge` command line, in this process: `fledge-sandbox fledge controller ...` is the
    /// controller the demo and the end-to-end tests start, built from the same code as this
    /// binary, so `cargo run --bin fledge-sandbox` needs no second build.
    #[command(disable_help_flag = true)]
    Fledge {
        /// The arguments of `fledge` (`controller --kubeconfig ...`, `--help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

fn main() -> anyhow::Result<ExitCode> {
    let command = Cli::parse().command;
    if let Command::Fledge { args } = command {
        // Before anything else starts: `fledge controller` sets up its own logging and runtime.
        return fledge_controller::cli::main_with_args(std::iter::once(OsString::from("fledge")).chain(args));
    }
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        match command {
            Command::Serve { port, kubeconfig } => serve(port, kubeconfig).await,
            Command::Demo { timeout } => fledge_e2e::demo::run(std::time::Duration::from_secs(timeout)).await,
            Command::Fledge { .. } => Ok(()),
        }
    })?;
    Ok(ExitCode::SUCCESS)
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
