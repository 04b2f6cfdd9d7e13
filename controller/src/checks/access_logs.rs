//! The access-log check of each analysis interval (`analysis.accessLog`): the lines the canary
//! and the primary wrote since the last step, read from the pod log API or Loki, counted per
//! version and judged (absolute limits, and the canary against the primary). Plugs into the
//! lifecycle through [`Checks`]. Does I/O (Deployments, pod logs, Loki, a Secret).

use crate::checks::{CheckContext, Checks};
use crate::checks::{credentials, lookup, pod_logs};
use fledge_analysis::access_log::{Aggregator, Format, Tally};
use fledge_analysis::judge::{self, Judgement, Outcome, Sample};
use fledge_analysis::loki::{self, Loki};
use fledge_analysis::threshold::shown;
use fledge_core::Stage;
use fledge_crds::canary::access_log::{
    AccessLog, AccessLogFormat, AccessLogSource, DEFAULT_CONTAINER, DEFAULT_ERROR_RESPONSE_FLAGS,
};
use fledge_crds::canary::{Canary, CheckKind, CheckResult, Verdict};
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::{Client, ResourceExt};
use std::time::Duration;

/// The name of the check in the status, events and metrics.
pub const CHECK_NAME: &str = "access-log";

/// The longest window read at once: after a pause (a controller restart, a long hold) the
/// check judges recent traffic rather than reading hours of logs. While evidence accumulates
/// (too few requests to judge), the window may reach back as far as the progress deadline,
/// after which a canary without enough traffic is rolled back.
const MAX_WINDOW: Duration = Duration::from_secs(600);

/// The least time the whole check may take, for short intervals.
const MIN_CHECK_TIME: Duration = Duration::from_secs(20);
/// The most time the whole check may take, for long intervals.
const MAX_CHECK_TIME: Duration = Duration::from_secs(120);

/// How late a line may reach its source after the request ended: Envoy flushes its access
/// log every second, and the container runtime writes it on. The window ends this long before
/// the step so late lines are still counted (in the next window's start, which is shifted the
/// same way, so windows join without gaps or overlaps).
const KUBERNETES_LAG: Duration = Duration::from_secs(2);
/// As [`KUBERNETES_LAG`], for Loki: a log shipper batches lines before Loki has them.
const LOKI_LAG: Duration = Duration::from_secs(10);

/// Problems of single pods quoted in the message; more are counted.
const PROBLEMS_QUOTED: usize = 3;

/// Runs `analysis.accessLog` at the Analysis stage.
#[derive(Clone)]
pub struct AccessLogChecks {
    client: Client,
    timeout: Duration,
}

impl std::fmt::Debug for AccessLogChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLogChecks").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

/// What one version's lines added up to.
#[derive(Debug, Default)]
struct Read {
    tally: Tally,
    /// Pods or pages that could not be read, one sentence each.
    problems: Vec<String>,
}

impl AccessLogChecks {
    /// Checks reading logs with `client`; each request (one pod's log, one Loki page) may
    /// take `timeout`.
    pub fn new(client: Client, timeout: Duration) -> Self {
        Self { client, timeout }
    }

    async fn check(&self, canary: &Canary, spec: &AccessLog, ctx: &CheckContext<'_>) -> CheckResult {
        // Each request has its own timeout; the whole read also has one, so that many pods or
        // pages cannot hold the reconcile for longer than a step.
        let limit = fledge_core::parse_interval(&canary.spec).clamp(MIN_CHECK_TIME, MAX_CHECK_TIME);
        let (verdict, value, message) = match tokio::time::timeout(limit, self.measure(canary, spec, ctx)).await {
            Ok(Ok(message)) => message,
            Ok(Err(why)) => (Verdict::Error, None, why),
            Err(_) => (Verdict::Error, None, format!("reading the access logs took longer than {limit:?}")),
        };
        CheckResult {
            name: CHECK_NAME.to_owned(),
            kind: CheckKind::AccessLog,
            verdict,
            value,
            message: Some(message),
            time: Some(Time(ctx.now)),
        }
    }

    async fn measure(
        &self,
        canary: &Canary,
        spec: &AccessLog,
        ctx: &CheckContext<'_>,
    ) -> Result<(Verdict, Option<f64>, String), String> {
        let lag = match spec.source.unwrap_or_default() {
            AccessLogSource::Kubernetes => KUBERNETES_LAG,
            AccessLogSource::Loki => LOKI_LAG,
        };
        let lag = SignedDuration::try_from(lag).unwrap_or(SignedDuration::ZERO);
        let until = ctx.now - lag;
        let since = window_start(ctx, canary) - lag;
        let target = canary.spec.target_ref.name.clone();
        let primary = format!("{target}-primary");
        let mut settings = judge::Settings::from_spec(spec);
        // With every user on the canary the primary has nothing to compare with: waiting for
        // its requests would hold the step until the deadline.
        let uncompared = settings.compare && primary_idle(canary);
        settings.compare &= !uncompared;
        let canary_read = self.read(canary, spec, &target, since, until).await?;
        // Without the comparison the primary's lines are not needed.
        let primary_read = match settings.compare {
            true => self.read(canary, spec, &primary, since, until).await?,
            false => Read::default(),
        };
        let judgement = judge::judge(&sample(&canary_read.tally), &sample(&primary_read.tally), &settings);
        let mut message = message(&judgement, &canary_read, &primary_read, since, until);
        if uncompared {
            message.push_str("; not compared with the primary, which has no users' traffic at weight 100");
        }
        Ok((Verdict::from(judgement.outcome), judgement.value, message))
    }

    /// Every line `workload`'s pods wrote in the window, counted.
    async fn read(
        &self,
        canary: &Canary,
        spec: &AccessLog,
        workload: &str,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Read, String> {
        let namespace = canary.namespace().unwrap_or_default();
        let format = match spec.format.unwrap_or_default() {
            AccessLogFormat::Json => Format::Json,
            AccessLogFormat::Text => Format::Text,
        };
        let flags: Vec<String> = match &spec.error_response_flags {
            Some(flags) => flags.clone(),
            None => DEFAULT_ERROR_RESPONSE_FLAGS.iter().map(|f| (*f).to_owned()).collect(),
        };
        let mut aggregator = Aggregator::new(format, &flags);
        let mut sink = |line: &[u8]| aggregator.line(line);
        let problems = match spec.source.unwrap_or_default() {
            AccessLogSource::Kubernetes => {
                let deployment: Deployment =
                    lookup::named(&self.client, &namespace, workload).await.map_err(|e| e.to_string())?;
                let container = spec.container.as_deref().unwrap_or(DEFAULT_CONTAINER);
                let mut source = pod_logs::Source::of_deployment(&deployment, container)?;
                source.timeout = self.timeout;
                let report =
                    pod_logs::read(&self.client, &source, since, until, &mut sink).await.map_err(|e| e.to_string())?;
                if report.pods.is_empty() && !report.problems.is_empty() {
                    // Nothing could be read (no RBAC for pods/log, a wrong container): say so
                    // rather than wait for data that will never come.
                    return Err(format!("no pod of {workload} could be read: {}", quote(&report.problems)));
                }
                report.problems
            }
            AccessLogSource::Loki => {
                let Some(loki_spec) = &spec.loki else {
                    return Err("spec.analysis.accessLog.loki is required with source loki".to_owned());
                };
                let auth = match &loki_spec.secret_ref {
                    Some(secret) => Some(
                        credentials::auth(&self.client, &namespace, &secret.name).await.map_err(|e| e.to_string())?,
                    ),
                    None => None,
                };
                let mut settings = loki::Settings::from_spec(loki_spec, auth);
                settings.timeout = self.timeout;
                let template = loki_spec.query.as_deref().unwrap_or(loki::DEFAULT_QUERY);
                let query = loki::render_selector(template, &namespace, workload).map_err(|e| e.to_string())?;
                let client = Loki::new(settings).map_err(|e| e.to_string())?;
                client.read(&query, since.into(), until.into(), &mut sink).await.map_err(|e| e.to_string())?;
                Vec::new()
            }
        };
        let tally = aggregator.finish();
        if let Some(line) = &tally.first_malformed {
            tracing::debug!(workload, malformed = tally.malformed, first = %line, "access-log lines not understood");
        }
        Ok(Read { tally, problems })
    }
}

/// Where the window to judge starts: the previous step, or where the evidence started to
/// accumulate, but no further back than [`MAX_WINDOW`] (or the progress deadline, when
/// longer); without either, one analysis interval ago.
fn window_start(ctx: &CheckContext<'_>, canary: &Canary) -> Timestamp {
    let interval = fledge_core::parse_interval(&canary.spec);
    let longest = MAX_WINDOW.max(fledge_core::deadline(&canary.spec) + interval);
    let earliest = ctx.now - SignedDuration::try_from(longest).unwrap_or(SignedDuration::ZERO);
    let default = ctx.now - SignedDuration::try_from(interval).unwrap_or(SignedDuration::ZERO);
    ctx.since.filter(|s| *s < ctx.now).unwrap_or(default).max(earliest)
}

/// Whether every user's request goes to the canary, so the primary serves none: a weighted
/// canary at 100, or a blue/green's interval at full traffic. An A/B test's weight of 100 is
/// only the matching requests; the primary has the rest.
fn primary_idle(canary: &Canary) -> bool {
    let analysis = &canary.spec.analysis;
    let ab_test = analysis.iterations() > 0 && analysis.r#match.as_ref().is_some_and(|m| !m.is_empty());
    let weight = canary.status.as_ref().and_then(|s| s.canary_weight).unwrap_or(0);
    weight >= 100 && !ab_test
}

fn window_seconds(since: Timestamp, until: Timestamp) -> String {
    shown(until.duration_since(since).as_secs_f64().round())
}

/// The first few problems, and how many more there were.
fn quote(problems: &[String]) -> String {
    let mut text = problems.iter().take(PROBLEMS_QUOTED).cloned().collect::<Vec<_>>().join("; ");
    if problems.len() > PROBLEMS_QUOTED {
        text.push_str(&format!(" (and {} more)", problems.len() - PROBLEMS_QUOTED));
    }
    text
}

fn sample(tally: &Tally) -> Sample<'_> {
    Sample { requests: tally.requests, errors: tally.errors, latencies: &tally.latencies }
}

/// The judge's sentence, plus what a person needs to trust it: the window, lines that were
/// not access-log lines, pods that could not be read.
fn message(judgement: &Judgement, canary: &Read, primary: &Read, since: Timestamp, until: Timestamp) -> String {
    let mut message = format!("{} (last {}s)", judgement.message, window_seconds(since, until));
    for (who, read) in [("canary", canary), ("primary", primary)] {
        if read.tally.malformed > 0 {
            // Not quoted: a line can carry request paths with tokens, and the status and
            // events are read more widely than pod logs. The controller logs one at debug.
            message.push_str(&format!("; {who}: {} lines were not access-log lines", read.tally.malformed));
        }
        if !read.problems.is_empty() {
            message.push_str(&format!("; {who}: {}", quote(&read.problems)));
        }
    }
    if judgement.outcome == Outcome::NoData {
        for (who, read) in [("canary", canary), ("primary", primary)] {
            let (outbound, tcp) = (read.tally.outbound, read.tally.tcp);
            if outbound + tcp > 0 {
                message.push_str(&format!(
                    "; {who}: not counted: {outbound} requests it made to other services, {tcp} TCP connections"
                ));
            }
        }
    }
    if judgement.outcome == Outcome::NoData && canary.tally.requests == 0 && canary.tally.malformed > 0 {
        message.push_str("; is spec.analysis.accessLog.format right?");
    }
    message
}

impl Checks for AccessLogChecks {
    fn check<'a>(&'a self, stage: Stage, ctx: &'a CheckContext<'a>) -> BoxFuture<'a, Vec<CheckResult>> {
        Box::pin(async move {
            if stage != Stage::Analysis {
                return Vec::new();
            }
            let Some(spec) = ctx.canary.spec.analysis.access_log.clone() else { return Vec::new() };
            let result = self.check(ctx.canary, &spec, ctx).await;
            tracing::info!(verdict = ?result.verdict, value = ?result.value, message = ?result.message, "access-log check");
            vec![result]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::fixtures::mk_canary;

    fn canary(interval: &str) -> Canary {
        mk_canary(&format!(
            "
spec:
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: podinfo}}
  service: {{port: 9898}}
  analysis: {{interval: {interval}, accessLog: {{}}}}
"
        ))
    }

    #[test]
    fn the_window_is_the_time_since_the_last_step_at_most_the_progress_deadline_and_an_interval() {
        let canary = canary("30s");
        let now: Timestamp = "2026-12-02T04:00:00Z".parse().unwrap();
        let at = |since: Option<&str>| {
            let ctx = CheckContext {
                canary: &canary,
                now,
                since: since.map(|s| s.parse().unwrap()),
                accumulating_since: None,
            };
            window_start(&ctx, &canary).to_string()
        };
        assert_eq!(at(Some("2026-12-02T03:59:41Z")), "2026-12-02T03:59:41Z");
        assert_eq!(at(None), "2026-12-02T03:59:30Z", "one interval without a previous step");
        assert_eq!(at(Some("2026-12-02T01:00:00Z")), "2026-12-02T03:49:30Z", "at most 600s and an interval");
        assert_eq!(at(Some("2026-12-02T04:00:05Z")), "2026-12-02T03:59:30Z", "a step in the future is ignored");
    }

    #[test]
    fn the_primary_is_idle_only_when_every_user_is_on_the_canary() {
        let mut weighted = canary("30s");
        let at = |canary: &mut Canary, weight: i32| {
            canary.status =
                Some(fledge_crds::canary::CanaryStatus { canary_weight: Some(weight), ..Default::default() });
            primary_idle(canary)
        };
        assert!(!at(&mut weighted, 50));
        assert!(at(&mut weighted, 100), "a weighted canary at 100, or a blue/green at full traffic");
        let mut ab = canary("30s");
        ab.spec.analysis.iterations = Some(5);
        ab.spec.analysis.r#match =
            Some(vec![serde_json::from_value(serde_json::json!({"headers": {"x": {"exact": "y"}}})).unwrap()]);
        assert!(!at(&mut ab, 100), "an A/B test's 100 is only the matching requests");
    }

    #[test]
    fn the_message_says_what_could_not_be_read() {
        let judgement = Judgement {
            outcome: Outcome::NoData,
            value: None,
            message: "canary had 0 requests, fewer than the 50 needed".into(),
            findings: Vec::new(),
        };
        let canary = Read {
            tally: Tally {
                malformed: 3,
                first_malformed: Some("[2026-12-02T04:00:00Z] \"GET /".into()),
                ..Tally::default()
            },
            problems: vec!["pod podinfo-abc-def is gone; its istio-proxy log could not be read".into()],
        };
        let since: Timestamp = "2026-12-02T03:59:00Z".parse().unwrap();
        let until: Timestamp = "2026-12-02T04:00:00Z".parse().unwrap();
        let many = Read { problems: (1..=5).map(|i| format!("pod p{i} is gone")).collect(), ..Read::default() };
        assert_eq!(
            message(&judgement, &Read::default(), &many, since, until),
            "canary had 0 requests, fewer than the 50 needed (last 60s); primary: pod p1 is gone; pod p2 is gone; \
             pod p3 is gone (and 2 more)"
        );
        assert_eq!(
            message(&judgement, &canary, &Read::default(), since, until),
            "canary had 0 requests, fewer than the 50 needed (last 60s); canary: 3 lines were not access-log \
             lines; canary: pod podinfo-abc-def is gone; its istio-proxy log could not be read; is \
             spec.analysis.accessLog.format right?"
        );
    }
}
