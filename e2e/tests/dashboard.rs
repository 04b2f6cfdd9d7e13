//! The Grafana dashboard `config/grafana/fledge.json` asks only for what is exported. Every
//! query of its panels and template variables is parsed as PromQL; every metric it selects and
//! every label it filters or groups on must be served, on that metric, by the real controller's
//! `/metrics` or by the sandbox mesh's (Istio's `istio_requests_total` and
//! `istio_request_duration_milliseconds`), after a release was promoted and one rolled back.
//! Then a real Prometheus scraping both answers every query with series that carry the labels
//! the panel's legend shows, and each template variable offers the value the test gave it.

mod common;

use common::{kubectl_ok, load_generator, podinfo, release, started_in, wait_for};
use fledge_crds::canary::Phase;
use fledge_sandbox_cluster::prometheus::Prometheus;
use promql_parser::parser::{self, Expr, VectorMatchCardinality, VectorSelector};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

/// The dashboard, from the repository root.
const DASHBOARD: &str = "config/grafana/fledge.json";

/// The values the test gives the dashboard's variables: the Canary of the scenario below, and
/// Grafana's own interval variables as a short time range sets them.
const VARIABLES: [(&str, &str); 6] = [
    ("namespace", "test"),
    ("canary", "podinfo"),
    ("metric", "request-success-rate"),
    ("__rate_interval", "10s"),
    ("__interval", "5s"),
    ("__range", "5m"),
];

/// One PromQL query of the dashboard.
#[derive(Debug)]
struct Query {
    /// Where it is, for messages: `panel "Traffic weight" target B`, `variable canary`.
    place: String,
    /// The query with the variables replaced by [`VARIABLES`].
    promql: String,
    /// The labels each series it returns must have: those its legend shows, or the one a
    /// template variable lists.
    labels: BTreeSet<String>,
    /// For a template variable: its name, whose value in [`VARIABLES`] it must offer.
    variable: Option<String>,
}

fn dashboard() -> Value {
    let path = common::root().join(DASHBOARD);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD} is not JSON: {e}"))
}

/// Every panel, those inside collapsed rows included, in the order of the file.
fn panels<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
    for panel in list.as_array().into_iter().flatten() {
        out.push(panel);
        panels(&panel["panels"], out);
    }
}

/// Every query of the dashboard: each panel's targets, and the template variables of type
/// `query`, which must be Grafana's `label_values(<selector>, <label>)`.
fn queries(dashboard: &Value) -> Vec<Query> {
    let mut all = Vec::new();
    panels(&dashboard["panels"], &mut all);
    let mut out = Vec::new();
    for panel in all {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let place = format!("panel {} target {}", panel["title"], target["refId"]);
            let expr = target["expr"].as_str().unwrap_or_else(|| panic!("{place} has no expr"));
            let legend = target["legendFormat"].as_str().unwrap_or_default();
            out.push(Query { promql: substitute(expr), labels: legend_labels(legend), variable: None, place });
        }
    }
    for variable in dashboard["templating"]["list"].as_array().expect("templating.list") {
        if variable["type"] != "query" {
            continue;
        }
        let name = variable["name"].as_str().expect("a variable's name");
        let place = format!("variable {name}");
        let query = variable["query"]["query"].as_str().or(variable["query"].as_str());
        let query = query.unwrap_or_else(|| panic!("{place} has no query"));
        assert_eq!(variable["definition"].as_str(), Some(query), "{place}: the definition Grafana shows is its query");
        let (selector, label) = label_values(query)
            .unwrap_or_else(|| panic!("{place}: {query:?} is not label_values(<selector>, <label>)"));
        out.push(Query {
            promql: substitute(selector),
            labels: BTreeSet::from([label.to_owned()]),
            variable: Some(name.to_owned()),
            place,
        });
    }
    out
}

/// `label_values(<selector>, <label>)` as the selector and the label.
fn label_values(query: &str) -> Option<(&str, &str)> {
    let args = query.trim().strip_prefix("label_values(")?.strip_suffix(')')?;
    let (selector, label) = args.rsplit_once(',')?;
    let label = label.trim();
    let is_name = !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    is_name.then_some((selector.trim(), label))
}

/// The labels a legend shows: each `{{label}}`.
fn legend_labels(legend: &str) -> BTreeSet<String> {
    legend
        .split("{{")
        .skip(1)
        .filter_map(|part| part.split_once("}}"))
        .map(|(label, _)| label.trim().to_owned())
        .collect()
}

/// `text` with each `$name` and `${name}` replaced by its value in [`VARIABLES`]; a variable
/// the test does not know fails it.
fn substitute(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, length) = match after.strip_prefix('{') {
            Some(braced) => {
                let end = braced.find('}').unwrap_or_else(|| panic!("an unclosed ${{ in {text:?}"));
                (&braced[..end], end + 2)
            }
            None => {
                let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        let value = VARIABLES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        out.push_str(value.unwrap_or_else(|| panic!("the variable ${name} of {text:?} is not one the test knows")));
        rest = &after[length..];
    }
    out.push_str(rest);
    out
}

/// The series names of a Prometheus text exposition (OpenMetrics or the classic format) with
/// the label names their samples carry. Names as queried: a counter's with `_total`, a
/// histogram's `_bucket` (with `le`), `_sum` and `_count`.
fn exposition(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let end = line.find(['{', ' ']).unwrap_or(line.len());
        let labels = out.entry(line[..end].to_owned()).or_default();
        let Some(mut rest) = line[end..].strip_prefix('{') else { continue };
        loop {
            rest = rest.trim_start_matches([',', ' ']);
            if rest.is_empty() || rest.starts_with('}') {
                break;
            }
            let (name, value) = rest.split_once("=\"").unwrap_or_else(|| panic!("a label without a value: {line}"));
            labels.insert(name.to_owned());
            // The value ends at the first quote not escaped by a backslash.
            let mut escaped = false;
            let close = value.char_indices().find(|&(_, c)| {
                let closes = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                closes
            });
            let (close, _) = close.unwrap_or_else(|| panic!("an unclosed label value: {line}"));
            rest = &value[close + 1..];
        }
    }
    out
}

/// What the dashboard may select: each series name served, with who serves it and its labels.
#[derive(Debug, Default)]
struct Exported(BTreeMap<String, (&'static str, BTreeSet<String>)>);

impl Exported {
    /// Adds what `source` serves, as its `/metrics` text.
    fn add(&mut self, source: &'static str, text: &str) {
        for (name, labels) in exposition(text) {
            self.0.insert(name, (source, labels));
        }
    }
}

/// What is wrong with `query` against `exported`, one sentence each.
fn problems(query: &Query, exported: &Exported) -> Vec<String> {
    let mut problems = Vec::new();
    match parser::parse(&query.promql) {
        Ok(expr) => {
            check(&expr, exported, &mut problems);
        }
        Err(e) => problems.push(format!("is not PromQL: {e}")),
    }
    problems.into_iter().map(|p| format!("{}: {p} (in {})", query.place, query.promql)).collect()
}

/// Checks every selector and grouping in `expr`; returns the metric names it selects.
fn check(expr: &Expr, exported: &Exported, problems: &mut Vec<String>) -> BTreeSet<String> {
    match expr {
        Expr::VectorSelector(selector) => check_selector(selector, exported, problems),
        Expr::MatrixSelector(matrix) => check_selector(&matrix.vs, exported, problems),
        Expr::Aggregate(aggregate) => {
            let mut names = check(&aggregate.expr, exported, problems);
            if let Some(param) = &aggregate.param {
                names.extend(check(param, exported, problems));
            }
            if let Some(modifier) = &aggregate.modifier {
                on_each(&modifier.labels().labels, &names, "by/without", exported, problems);
            }
            names
        }
        Expr::Binary(binary) => {
            let lhs = check(&binary.lhs, exported, problems);
            let rhs = check(&binary.rhs, exported, problems);
            if let Some(modifier) = &binary.modifier {
                if let Some(matching) = &modifier.matching {
                    on_each(&matching.labels().labels, &lhs, "on/ignoring", exported, problems);
                    on_each(&matching.labels().labels, &rhs, "on/ignoring", exported, problems);
                }
                // group_left's labels come from the right side, group_right's from the left.
                match &modifier.card {
                    VectorMatchCardinality::ManyToOne(labels) => {
                        on_each(&labels.labels, &rhs, "group_left", exported, problems);
                    }
                    VectorMatchCardinality::OneToMany(labels) => {
                        on_each(&labels.labels, &lhs, "group_right", exported, problems);
                    }
                    VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany => {}
                }
            }
            lhs.into_iter().chain(rhs).collect()
        }
        Expr::Unary(unary) => check(&unary.expr, exported, problems),
        Expr::Paren(paren) => check(&paren.expr, exported, problems),
        Expr::Subquery(subquery) => check(&subquery.expr, exported, problems),
        Expr::Call(call) => call.args.args.iter().flat_map(|arg| check(arg, exported, problems)).collect(),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => BTreeSet::new(),
        Expr::Extension(_) => {
            problems.push("an extension expression, which Prometheus does not have".to_owned());
            BTreeSet::new()
        }
    }
}

/// The selector's metric is exported, and has every label its matchers name.
fn check_selector(selector: &VectorSelector, exported: &Exported, problems: &mut Vec<String>) -> BTreeSet<String> {
    let Some(name) = &selector.name else {
        problems.push(format!("the selector {selector} names no metric"));
        return BTreeSet::new();
    };
    let Some((source, labels)) = exported.0.get(name) else {
        let served: Vec<&String> = exported.0.keys().collect();
        problems.push(format!("{name} is exported by neither the controller nor Istio (served: {served:?})"));
        return BTreeSet::new();
    };
    let matchers = &selector.matchers;
    for matcher in matchers.matchers.iter().chain(matchers.or_matchers.iter().flatten()) {
        if matcher.name != "__name__" && !labels.contains(&matcher.name) {
            problems.push(format!("{name} (from {source}) has no label {:?}; it has {labels:?}", matcher.name));
        }
    }
    BTreeSet::from([name.clone()])
}

/// Each label of a grouping is on every metric selected inside it.
fn on_each(labels: &[String], names: &BTreeSet<String>, clause: &str, exported: &Exported, problems: &mut Vec<String>) {
    for name in names {
        let Some((source, has)) = exported.0.get(name) else { continue };
        for label in labels.iter().filter(|l| !has.contains(*l)) {
            problems.push(format!("{clause} ({label}): {name} (from {source}) has no label {label:?}; it has {has:?}"));
        }
    }
}

/// Seconds since the Unix epoch.
fn now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// The label sets of the series `promql` returns from `start` to `end` (Unix seconds), one
/// point a second.
async fn series(prometheus: &Prometheus, promql: &str, start: f64, end: f64) -> Vec<BTreeMap<String, String>> {
    let range =
        [("query", promql.to_owned()), ("start", start.to_string()), ("end", end.to_string()), ("step", "1".into())];
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/query_range", prometheus.url))
        .query(&range)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "success", "Prometheus refused {promql}: {body}");
    let result = body["data"]["result"].as_array().cloned().unwrap_or_default();
    result.iter().map(|s| serde_json::from_value(s["metric"].clone()).unwrap()).collect()
}

/// A promoted release and a rolled-back one of `podinfo` with users and a load tester, whose
/// check is the built-in success rate; and Canary `broken`, whose spec the API server accepts
/// and the controller refuses at every reconcile (an interval under 1s: a `spec` error).
fn manifest() -> String {
    let canary = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: podinfo, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}
  progressDeadlineSeconds: 30
  service: {port: 9898}
  analysis:
    interval: 3s
    threshold: 2
    maxWeight: 50
    stepWeight: 25
    metrics:
    - {name: request-success-rate, interval: 10s, thresholdRange: {min: 99}}
---
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata: {name: broken, namespace: test}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: broken}
  service: {port: 9898}
  analysis: {interval: 500ms, stepWeight: 10}
"#;
    let users = load_generator("users", "http://podinfo.test:9898/", 100);
    let loadtester = load_generator("loadtester", "http://podinfo-canary.test:9898/", 100);
    format!("{}---{canary}---{users}---{loadtester}", podinfo(2))
}

#[test]
fn the_dashboard_reads_the_chosen_data_source_and_every_query_is_promql() {
    let dashboard = dashboard();
    // What Grafana 10 and 11 import: a schema they know, a fixed uid for links.
    assert_eq!((dashboard["schemaVersion"].as_u64(), dashboard["uid"].as_str()), (Some(39), Some("fledge")));
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    let names: Vec<&str> = variables.iter().filter_map(|v| v["name"].as_str()).collect();
    assert_eq!(names, ["datasource", "namespace", "canary", "metric"]);
    assert_eq!((&variables[0]["type"], &variables[0]["query"]), (&"datasource".into(), &"prometheus".into()));
    // Every panel and query variable on the data source chosen in `datasource`.
    let mut all = Vec::new();
    panels(&dashboard["panels"], &mut all);
    let chosen = serde_json::json!({"type": "prometheus", "uid": "${datasource}"});
    for panel in all.iter().filter(|p| p["type"] != "row") {
        assert_eq!(panel["datasource"], chosen, "panel {}", panel["title"]);
    }
    for variable in variables.iter().filter(|v| v["type"] == "query") {
        assert_eq!(variable["datasource"], chosen, "variable {}", variable["name"]);
    }
    let queries = queries(&dashboard);
    assert!(queries.len() >= 10, "{queries:#?}");
    for query in &queries {
        if let Err(e) = parser::parse(&query.promql) {
            panic!("{}: {e}: {}", query.place, query.promql);
        }
    }
}

#[test]
fn a_metric_or_a_label_that_is_not_exported_is_reported() {
    let mut exported = Exported::default();
    exported.add(
        "the controller",
        "# TYPE fledge_canary_weight gauge\nfledge_canary_weight{workload=\"podinfo\",namespace=\"test\"} 10\n\
         fledge_reconcile_duration_seconds_bucket{le=\"0.5\"} 3\nfledge_reconcile_duration_seconds_count 3\n# EOF\n",
    );
    exported.add("Istio", "istio_requests_total{reporter=\"destination\",response_code=\"200\",x=\"a\\\"}\"} 1\n");
    let query = |promql: &str| Query {
        place: "panel".to_owned(),
        promql: substitute(promql),
        labels: BTreeSet::new(),
        variable: None,
    };
    let good = [
        r#"fledge_canary_weight{namespace="$namespace", workload="$canary-primary"}"#,
        "histogram_quantile(0.99, sum by (le) (rate(fledge_reconcile_duration_seconds_bucket[$__rate_interval])))",
        r#"sum(rate(istio_requests_total{response_code=~"5..", x!=""}[1m])) or on() vector(0)"#,
    ];
    for promql in good {
        assert_eq!(problems(&query(promql), &exported), Vec::<String>::new(), "{promql}");
    }
    let bad = [
        (r#"fledge_canary_weigth{namespace="$namespace"}"#, "fledge_canary_weigth is exported by neither"),
        (r#"fledge_canary_weight{name="$canary"}"#, "has no label \"name\""),
        ("rate(fledge_reconcile_duration_seconds[1m])", "fledge_reconcile_duration_seconds is exported by neither"),
        ("sum by (le) (fledge_reconcile_duration_seconds_count)", "by/without (le)"),
        (r#"sum(istio_requests_total) / on(response_code) sum by (workload) (fledge_canary_weight)"#, "on/ignoring"),
        ("sum(rate(istio_requests_total[1m])", "is not PromQL"),
    ];
    for (promql, said) in bad {
        let problems = problems(&query(promql), &exported);
        assert!(problems.iter().any(|p| p.contains(said)), "{promql}: {said:?} not in {problems:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_of_the_dashboard_is_answered_from_what_the_controller_and_istio_export() {
    let queries = queries(&dashboard());
    let sb = common::sandbox().await;
    let mesh = sb.url().trim_start_matches("http://").to_owned();
    let prometheus = Prometheus::start(&mesh).await.unwrap();
    let start = now();
    let run = started_in(sb, &manifest(), &["--metrics-server", &prometheus.url]).await;
    let controller = run.controller.listen.to_string();
    // The controller is given Prometheus' address, so Prometheus learns the controller's after.
    prometheus.scrape(&[&mesh, &controller]).await.unwrap();

    release(&run.sandbox, "6.0.1").await;
    wait_for(&run.canaries, "phase Succeeded", |s| s.phase == Phase::Succeeded).await;
    let patch = r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.fledge.dev/error-rate":"0.5"}}}}}"#;
    kubectl_ok(&run.sandbox, &["-n", "test", "patch", "deployment", "podinfo", "--type", "merge", "-p", patch], None)
        .await;
    wait_for(&run.canaries, "phase Failed", |s| s.phase == Phase::Failed).await;

    // Every metric and label the dashboard names, against the two /metrics themselves.
    let mut exported = Exported::default();
    let text = |url: String| async move { reqwest::get(url).await.unwrap().text().await.unwrap() };
    exported.add("the controller", &text(format!("http://{controller}/metrics")).await);
    exported.add("Istio (the sandbox mesh)", &text(format!("{}/metrics", run.sandbox.url())).await);
    let found: Vec<String> = queries.iter().flat_map(|q| problems(q, &exported)).collect();
    assert!(found.is_empty(), "{DASHBOARD}:\n{}", found.join("\n"));

    // Every query answered by a Prometheus scraping both, once it has the rollback.
    common::eventually(Duration::from_secs(30), "Prometheus to scrape the rollback", || async {
        prometheus.query("fledge_canary_failures_total").await.ok().flatten()
    })
    .await;
    // The range's points are a second apart from `start`: let one fall after that scrape.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let end = now();
    let mut found = Vec::new();
    for query in &queries {
        let series = series(&prometheus, &query.promql, start, end).await;
        if series.is_empty() {
            found.push(format!("{}: no series from {}", query.place, query.promql));
        }
        for labels in &series {
            let missing: Vec<&String> = query.labels.iter().filter(|l| !labels.contains_key(*l)).collect();
            if !missing.is_empty() {
                found.push(format!("{}: a series without {missing:?}: {labels:?}", query.place));
            }
        }
        if let Some(variable) = &query.variable {
            let label = query.labels.first().unwrap();
            let offered: BTreeSet<&String> = series.iter().filter_map(|s| s.get(label)).collect();
            let value = substitute(&format!("${variable}"));
            if !offered.contains(&value) {
                found.push(format!("{}: offers {offered:?}, not {value:?}", query.place));
            }
        }
    }
    assert!(found.is_empty(), "{DASHBOARD} in Prometheus:\n{}", found.join("\n"));
}
