//! Running the real `fledge controller` as a child process against a sandbox, which the demo
//! and the end-to-end tests can kill and start again. Does I/O.

use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

/// The binary the tests and the demo run the controller with: `fledge-sandbox`, whose
/// `fledge ...` runs the `fledge` command line ([`fledge_controller::cli`]) in its own
/// process, so `fledge-sandbox fledge controller ...` is the controller a user runs.
///
/// Cargo builds a package's own binaries before it runs the package's integration tests and
/// benches, so a test always finds one built from the code it was built from (the `fledge`
/// binary of `fledge-controller` would not do: `cargo test -p fledge-e2e` does not rebuild
/// another package's binary). The demo is `fledge-sandbox` itself. No cargo runs here.
pub const BINARY: &str = "fledge-sandbox";

/// The argument of [`BINARY`] after which come the `fledge` command line's.
pub const FLEDGE: &str = "fledge";

/// Where [`BINARY`] is: this executable when it is the one, else beside it
/// (`target/<profile>/`) or one folder up (test and bench executables are in
/// `target/<profile>/deps/`).
pub fn binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let name = format!("{BINARY}{}", std::env::consts::EXE_SUFFIX);
    if exe.file_name().is_some_and(|n| n == name.as_str()) {
        return Ok(exe);
    }
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(&name))
        .find(|p| p.is_file())
        .with_context(|| format!("no {name} beside {}; run `cargo build -p fledge-e2e --bin {BINARY}`", exe.display()))
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
        let binary = binary()?;
        let listen: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let child = Command::new(&binary)
            .arg(FLEDGE)
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
