//! Reading the access-log lines of one version from the Kubernetes pod log API: the running
//! pods of the version's Deployment, one container's log each (`istio-proxy`), only the lines
//! written in the window since the last check. Does I/O; memory stays at one line per pod.
//!
//! The API server's `sinceTime` has one-second granularity (and kube rounds it to the nearest
//! second), so the log is asked from the whole second at or before `since` with timestamps on,
//! and each line is then kept or dropped by its own timestamp.

use futures::AsyncBufReadExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, ListParams, LogParams};
use std::time::Duration;

/// How long listing the pods, or reading one pod's log, may take unless the source says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longer lines are skipped (and counted as a problem) rather than held in memory. Envoy's
/// access-log lines are well under 4 KiB.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The pods and the container to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The pods' namespace.
    pub namespace: String,
    /// A label selector for the version's pods, such as `app=podinfo-primary`.
    pub selector: String,
    /// The container whose log holds the access log (`istio-proxy`).
    pub container: String,
    /// How long listing the pods, or reading one pod's log, may take.
    pub timeout: Duration,
}

impl Source {
    /// The pods of `deployment` (by its `spec.selector`), reading `container`.
    pub fn of_deployment(deployment: &Deployment, container: &str) -> Result<Self, String> {
        let name = deployment.metadata.name.as_deref().unwrap_or_default();
        let namespace =
            deployment.metadata.namespace.clone().ok_or_else(|| format!("Deployment {name} has no namespace"))?;
        Ok(Self {
            namespace,
            selector: selector_of(deployment)?,
            container: container.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        })
    }
}

/// The label selector of a Deployment's pods in the API's query syntax
/// (`app=podinfo,tier in (web,api)`).
pub fn selector_of(deployment: &Deployment) -> Result<String, String> {
    let name = deployment.metadata.name.as_deref().unwrap_or_default();
    let selector = deployment.spec.as_ref().map(|spec| &spec.selector);
    let mut parts = Vec::new();
    for (key, value) in selector.and_then(|s| s.match_labels.as_ref()).into_iter().flatten() {
        parts.push(format!("{key}={value}"));
    }
    for requirement in selector.and_then(|s| s.match_expressions.as_ref()).into_iter().flatten() {
        let key = &requirement.key;
        let values = requirement.values.as_deref().unwrap_or_default().join(",");
        parts.push(match requirement.operator.as_str() {
            "In" => format!("{key} in ({values})"),
            "NotIn" => format!("{key} notin ({values})"),
            "Exists" => key.clone(),
            "DoesNotExist" => format!("!{key}"),
            other => {
                return Err(format!(
                    "Deployment {name}: the selector operator {other:?} is not In, NotIn, Exists or DoesNotExist"
                ));
            }
        });
    }
    if parts.is_empty() {
        return Err(format!("Deployment {name} has no spec.selector, so its pods cannot be told from others"));
    }
    Ok(parts.join(","))
}

/// What a read found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Pods whose log was read to the end.
    pub pods: Vec<String>,
    /// Pods that matched but were not running, so were not read.
    pub skipped: Vec<String>,
    /// Lines handed to the sink (also those of a pod whose read failed half-way).
    pub lines: u64,
    /// What went wrong with single pods, one sentence each; other pods were read regardless.
    pub problems: Vec<String>,
}

/// Why the pods could not even be listed.
#[derive(thiserror::Error, Debug)]
#[error("listing the pods in {namespace} with selector {selector:?}: {why}")]
pub struct ListError {
    /// The namespace.
    pub namespace: String,
    /// The label selector.
    pub selector: String,
    /// What went wrong.
    pub why: String,
}

/// Hands `sink` every line that the running pods of `source` wrote to the container's log after
/// `since` and at or before `until`, without the timestamp and the newline.
pub async fn read(
    client: &Client,
    source: &Source,
    since: Timestamp,
    until: Timestamp,
    sink: &mut (dyn FnMut(&[u8]) + Send),
) -> Result<Report, ListError> {
    let fail = |why: String| ListError { namespace: source.namespace.clone(), selector: source.selector.clone(), why };
    let api: Api<Pod> = Api::namespaced(client.clone(), &source.namespace);
    let params = ListParams::default().labels(&source.selector);
    let pods = tokio::time::timeout(source.timeout, api.list(&params))
        .await
        .map_err(|_| fail(format!("no answer within {:?}", source.timeout)))?
        .map_err(|e| fail(e.to_string()))?;
    let (running, skipped): (Vec<Pod>, Vec<Pod>) =
        pods.items.into_iter().partition(|pod| pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
    let names: Vec<String> = running.into_iter().filter_map(|pod| pod.metadata.name).collect();
    let mut report = read_pods(client, source, &names, since, until, sink).await;
    report.skipped = skipped.into_iter().filter_map(|pod| pod.metadata.name).collect();
    Ok(report)
}

/// Like [`read`], for pods named by the caller (`source.selector` is not used). A pod that is
/// gone or has no such container is a problem in the report, not an error.
pub async fn read_pods(
    client: &Client,
    source: &Source,
    pods: &[String],
    since: Timestamp,
    until: Timestamp,
    sink: &mut (dyn FnMut(&[u8]) + Send),
) -> Report {
    let mut report = Report::default();
    if since >= until {
        return report;
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), &source.namespace);
    let container = &source.container;
    for pod in pods {
        let mut read = PodRead::default();
        let outcome =
            tokio::time::timeout(source.timeout, read_pod(&api, pod, container, since, until, &mut *sink, &mut read))
                .await;
        report.lines += read.delivered;
        match outcome {
            Ok(Ok(())) => report.pods.push(pod.clone()),
            Ok(Err(e)) => report.problems.push(problem(pod, container, &e)),
            Err(_) => report.problems.push(format!(
                "pod {pod}: the {container} log was not read to the end within {:?} ({} lines were)",
                source.timeout, read.delivered
            )),
        }
        if read.unreadable > 0 {
            report.problems.push(format!(
                "pod {pod}: {} lines of the {container} log had no timestamp or were longer than {MAX_LINE_BYTES} bytes and were skipped",
                read.unreadable
            ));
        }
    }
    report
}

/// Counts of one pod's read, kept outside its future so a timeout does not lose them.
#[derive(Debug, Default)]
struct PodRead {
    delivered: u64,
    unreadable: u64,
}

/// Why one pod's log could not be read.
#[derive(Debug)]
enum PodError {
    Api(kube::Error),
    Io(std::io::Error),
}

fn problem(pod: &str, container: &str, error: &PodError) -> String {
    match error {
        PodError::Api(kube::Error::Api(status)) if status.code == 404 => {
            format!("pod {pod} is gone; its {container} log could not be read")
        }
        PodError::Api(kube::Error::Api(status)) if status.code == 400 => {
            format!("pod {pod}: the {container} log cannot be read: {}", status.message)
        }
        PodError::Api(e) => format!("pod {pod}: reading the {container} log failed: {e}"),
        PodError::Io(e) => format!("pod {pod}: the {container} log broke off: {e}"),
    }
}

async fn read_pod(
    api: &Api<Pod>,
    pod: &str,
    container: &str,
    since: Timestamp,
    until: Timestamp,
    sink: &mut (dyn FnMut(&[u8]) + Send),
    read: &mut PodRead,
) -> Result<(), PodError> {
    let params = LogParams {
        container: Some(container.to_owned()),
        // kube rounds sinceTime to the nearest second, which could skip up to half a second
        // of the window: ask from the whole second before and filter by each line's time.
        since_time: Some(Timestamp::from_second(since.as_second()).unwrap_or(since)),
        timestamps: true,
        ..LogParams::default()
    };
    let stream = api.log_stream(pod, &params).await.map_err(PodError::Api)?;
    let mut stream = std::pin::pin!(stream);
    let mut line = Vec::new();
    while let Some(fits) = read_line(&mut stream, &mut line, MAX_LINE_BYTES).await.map_err(PodError::Io)? {
        match fits.then(|| split_timestamp(&line)).flatten() {
            Some((time, text)) if time > since && time <= until => {
                sink(text);
                read.delivered += 1;
            }
            Some(_) => {}
            None => read.unreadable += 1,
        }
    }
    Ok(())
}

/// Reads the next line into `line` without its `\n`. `None` at the end of the log;
/// `Some(false)` when the line was longer than `max` bytes (then `line` holds only a part).
async fn read_line<R: futures::AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<bool>> {
    line.clear();
    let mut fits = true;
    let mut started = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(started.then_some(fits));
        }
        started = true;
        let newline = available.iter().position(|&b| b == b'\n');
        let chunk = &available[..newline.unwrap_or(available.len())];
        if fits && line.len() + chunk.len() <= max {
            line.extend_from_slice(chunk);
        } else {
            fits = false;
        }
        let used = newline.map_or(available.len(), |i| i + 1);
        reader.consume_unpin(used);
        if newline.is_some() {
            return Ok(Some(fits));
        }
    }
}

/// `2026-11-22T04:37:00.123456789Z text` into its time and its text (a `\r` before the newline
/// dropped too).
fn split_timestamp(line: &[u8]) -> Option<(Timestamp, &[u8])> {
    let space = line.iter().position(|&b| b == b' ')?;
    let time: Timestamp = std::str::from_utf8(&line[..space]).ok()?.parse().ok()?;
    let text = &line[space + 1..];
    Some((time, text.strip_suffix(b"\r").unwrap_or(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(yaml: &str) -> Deployment {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn a_deployment_selector_in_query_syntax() {
        let d = deployment(
            r#"
metadata: {name: podinfo-primary, namespace: test}
spec:
  selector:
    matchLabels: {app: podinfo-primary, tier: web}
    matchExpressions:
    - {key: track, operator: In, values: [stable, canary]}
    - {key: legacy, operator: DoesNotExist}
  template: {}
"#,
        );
        let source = Source::of_deployment(&d, "istio-proxy").unwrap();
        assert_eq!(source.selector, "app=podinfo-primary,tier=web,track in (stable,canary),!legacy");
        assert_eq!((source.namespace.as_str(), source.container.as_str()), ("test", "istio-proxy"));
        let empty = deployment("metadata: {name: x, namespace: test}\nspec: {selector: {}, template: {}}");
        assert_eq!(
            selector_of(&empty).unwrap_err(),
            "Deployment x has no spec.selector, so its pods cannot be told from others"
        );
    }

    #[test]
    fn the_timestamp_prefix_is_split_off() {
        let (time, text) = split_timestamp(b"2026-11-22T04:37:00.123456789Z {\"a\": 1}\r").unwrap();
        assert_eq!(time.to_string(), "2026-11-22T04:37:00.123456789Z");
        assert_eq!(text, b"{\"a\": 1}");
        let (time, text) = split_timestamp(b"2026-11-22T04:37:00Z [x] GET / 200").unwrap();
        assert_eq!((time.to_string().as_str(), text), ("2026-11-22T04:37:00Z", &b"[x] GET / 200"[..]));
        assert!(split_timestamp(b"no timestamp here").is_none());
        assert!(split_timestamp(b"").is_none());
        assert!(split_timestamp(b"\xff\xfe x").is_none());
    }

    #[tokio::test]
    async fn lines_are_read_whole_and_long_ones_are_cut_off() {
        let input: &[u8] = b"one\ntwo two\n\nthree-is-long\nlast without newline";
        // A one-byte buffer makes every line span many fills.
        let mut reader = futures::io::BufReader::with_capacity(1, input);
        let mut line = Vec::new();
        let mut got = Vec::new();
        while let Some(fits) = read_line(&mut reader, &mut line, 8).await.unwrap() {
            got.push((fits, String::from_utf8_lossy(&line).into_owned()));
        }
        assert_eq!(
            got,
            [
                (true, "one".to_owned()),
                (true, "two two".to_owned()),
                (true, String::new()),
                (false, "three-is".to_owned()),
                (false, "last wit".to_owned()),
            ]
        );
    }
}
