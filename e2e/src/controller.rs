//! Running the real `fledge controller` binary against a sandbox, as a child process the demo
//! and the end-to-end tests can kill and start again. Does I/O.

use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

/// Where the `fledge` binary is: beside this executable (`target/<profile>/`), or one folder
/// up (test executables live in `target/<profile>/deps/`). Under cargo (`cargo run`, `cargo
/// test`, `cargo bench` set `CARGO`) it is built first, once per process, so a test never runs
/// a controller older than the code: `cargo test -p fledge-e2e` alone does not rebuild another
/// package's binary.
pub fn fledge_binary() -> anyhow::Result<PathBuf> {
    static BUILT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let exe = std::env::current_exe().context("locating this executable")?;
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(format!("fledge{}", std::env::consts::EXE_SUFFIX)))
        .collect();
    if let Some(cargo) = std::env::var_os("CARGO") {
        BUILT.get_or_init(|| build(&cargo).map_err(|e| format!("{e:#}"))).clone().map_err(|e| anyhow::anyhow!(e))?;
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .context("no fledge binary beside this executable; run `cargo build --bin fledge`")
}

fn build(cargo: &std::ffi::OsStr) -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().context("the workspace root")?;
    // The same profile as this executable, so the binary lands beside it.
    let profile: &[&str] = if cfg!(debug_assertions) { &[] } else { &["--release"] };
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "-p", "fledge-controller", "--bin", "fledge"])
        .args(profile)
        .current_dir(root)
        .status()
        .context("running cargo build --bin fledge")?;
    if !status.success() {
        bail!("cargo build --bin fledge failed");
    }
    Ok(())
}

/// A free port on 127.0.0.1 (bound and released; the controller binds it right after).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A running `fledge controller`.
#[derive(Debug)]
pub struct ControllerProcess {
    child: Child,
    /// Where its `/metrics`, `/healthz` and `/readyz` are served.
    pub listen: SocketAddr,
    /// Its log file (standard output and error).
    pub log: PathBuf,
}

impl ControllerProcess {
    /// Start `fledge controller --kubeconfig <kubeconfig>` with `extra` flags; its output goes
    /// to `log` (appended, so a restarted controller continues the same file).
    pub async fn start(kubeconfig: &Path, log: &Path, extra: &[&str]) -> anyhow::Result<Self> {
        let binary = fledge_binary()?;
        let listen: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let child = Command::new(&binary)
            .arg("controller")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--listen")
            .arg(listen.to_string())
            .args(extra)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", std::env::var("FLEDGE_LOG").unwrap_or_else(|_| "info,kube=warn".into()))
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self { child, listen, log: log.to_path_buf() })
    }

    /// Kill it with SIGKILL, as a node failure or the OOM killer would: nothing is cleaned up.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Stop it with SIGTERM, as Kubernetes stops a pod, and wait for it to exit.
    pub async fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
        }
        Ok(self.child.wait().await?)
    }

    /// Its process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
