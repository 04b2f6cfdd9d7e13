//! The kubeconfig file that points kubectl and kube-rs at the sandbox. [`write`] does I/O.

use std::path::Path;

/// A kubeconfig for `server` (plain HTTP, no credentials), with context `fledge-sandbox`.
pub fn render(server: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: fledge-sandbox
  cluster:
    server: {server}
contexts:
- name: fledge-sandbox
  context:
    cluster: fledge-sandbox
    user: fledge-sandbox
    namespace: default
current-context: fledge-sandbox
users:
- name: fledge-sandbox
  user: {{}}
"
    )
}

/// Writes the kubeconfig for `server` to `path`.
pub fn write(path: &Path, server: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, render(server))
}
