//! A real Prometheus server (the Debian package `prometheus`) started for a test or the demo,
//! on a free loopback port, scraping the sandbox's mesh metrics every second (and whatever else
//! it is told to scrape). Does I/O: a child process and HTTP.

use anyhow::{Context, bail};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Prometheus; stopped when dropped.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    dir: PathBuf,
    config: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`127.0.0.1:<port>`, path `/metrics`) every second
    /// and waits until it is ready.
    pub async fn start(target: &str) -> anyhow::Result<Self> {
        let binary = std::env::var("PROMETHEUS").unwrap_or_else(|_| "prometheus".to_owned());
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!("fledge-prometheus-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config(&[target]))?;
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            // For `/-/reload`, used by [`Prometheus::scrape`].
            .arg("--web.enable-lifecycle")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {binary} (install the Debian package prometheus)"))?;
        let prometheus = Self { child, dir, config: config_path, url: format!("http://127.0.0.1:{port}") };
        prometheus.wait_ready(Duration::from_secs(30)).await?;
        Ok(prometheus)
    }

    /// Scrapes `targets` (`127.0.0.1:<port>`, path `/metrics`) every second from now on, in
    /// place of the targets before (name the mesh again to keep it); what was scraped stays.
    /// For a target that starts after Prometheus: a controller is given Prometheus' address.
    pub async fn scrape(&self, targets: &[&str]) -> anyhow::Result<()> {
        std::fs::write(&self.config, config(targets))?;
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
        let response = client.post(format!("{}/-/reload", self.url)).send().await?;
        if !response.status().is_success() {
            bail!("prometheus at {} refused to reload: {}", self.url, response.text().await?);
        }
        Ok(())
    }

    async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(r) = client.get(format!("{}/-/ready", self.url)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("prometheus at {} was not ready within {timeout:?}", self.url)
    }

    /// Runs an instant query and returns the first sample's value, if there is one.
    pub async fn query(&self, promql: &str) -> anyhow::Result<Option<f64>> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
        let body: serde_json::Value =
            client.get(format!("{}/api/v1/query", self.url)).query(&[("query", promql)]).send().await?.json().await?;
        if body["status"] != "success" {
            bail!("query {promql:?} failed: {body}");
        }
        let result = &body["data"]["result"];
        let value = match body["data"]["resultType"].as_str() {
            Some("vector") => result.get(0).and_then(|s| s["value"][1].as_str()),
            Some("scalar") => result[1].as_str(),
            _ => None,
        };
        Ok(value.and_then(|v| v.parse().ok()))
    }
}

/// The configuration: one job, `sandbox`, scraping `targets` every second.
fn config(targets: &[&str]) -> String {
    let targets = targets.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
    format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: sandbox\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  static_configs:\n  - targets: [{targets}]\n"
    )
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
