//! Manifests as users write them: the examples and Flagger's own manifests pass; wrong ones get
//! an error that names the field and says what is wrong, from the schema's CEL rules and from
//! `validate()`.

use fledge_crds::generate::crds;
use fledge_crds::manifest::{Object, catalog_of, check_manifest, parse_documents};
use fledge_crds::validate::Catalog;
use kube::core::cel::Validator;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// The CEL rules of the CRD schema of `kind`, evaluated as the API server would.
fn cel_errors(object: &Value) -> Vec<String> {
    let kind = object["kind"].as_str().unwrap();
    let crd = crds().into_iter().find(|c| c.spec.names.kind == kind).unwrap();
    let schema =
        serde_json::to_value(crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap())
            .unwrap();
    match Validator::new().validate(&schema, object, None) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.into_vec().into_iter().map(|e| e.to_string()).collect(),
    }
}

fn documents_as_json(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| v.get("apiVersion").and_then(Value::as_str) == Some("fledge.dev/v1beta1"))
        .collect()
}

#[test]
fn every_example_passes_without_a_warning() {
    let files = yaml_files(&root().join("examples"));
    assert!(files.len() >= 8, "examples/ should hold the documented examples, found {}", files.len());
    let all: Vec<String> = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    let catalog = catalog_of(&all.join("\n---\n"));
    let mut canaries = 0;
    for (file, text) in files.iter().zip(&all) {
        let findings: Vec<String> = check_manifest(text, Some(&catalog)).iter().map(ToString::to_string).collect();
        assert!(findings.is_empty(), "{}: {findings:#?}", file.display());
        for document in parse_documents(text) {
            canaries += matches!(document.object, Ok(Object::Canary(_))) as usize;
        }
        for object in documents_as_json(text) {
            assert_eq!(cel_errors(&object), Vec::<String>::new(), "{}", file.display());
        }
        for document in serde_norway::Deserializer::from_str(text) {
            let value: Value = serde::Deserialize::deserialize(document).unwrap();
            assert_eq!(kubernetes_object_problems(&value), Vec::<String>::new(), "{}", file.display());
        }
    }
    assert!(canaries >= 8, "examples should show at least 8 canaries, found {canaries}");
}

/// Unknown fields and wrong types in the Kubernetes objects of an example, which
/// `kubectl apply` would refuse.
fn kubernetes_object_problems(value: &Value) -> Vec<String> {
    use k8s_openapi::api::{apps::v1::Deployment, autoscaling::v2::HorizontalPodAutoscaler, core::v1::Secret};
    fn strict<T: serde::de::DeserializeOwned>(value: &Value) -> Vec<String> {
        let mut unknown = Vec::new();
        let result: Result<T, _> =
            serde_ignored::deserialize(value.clone(), |path| unknown.push(format!("{path}: unknown field")));
        unknown.extend(result.err().map(|e| e.to_string()));
        unknown.retain(|u| !u.starts_with("apiVersion") && !u.starts_with("kind"));
        unknown
    }
    match (value["apiVersion"].as_str(), value["kind"].as_str()) {
        (Some("apps/v1"), Some("Deployment")) => strict::<Deployment>(value),
        (Some("autoscaling/v2"), Some("HorizontalPodAutoscaler")) => strict::<HorizontalPodAutoscaler>(value),
        (Some("v1"), Some("Secret")) => strict::<Secret>(value),
        (Some("fledge.dev/v1beta1"), _) => Vec::new(),
        (api_version, kind) => vec![format!("{api_version:?} {kind:?} is not checked by this test; add it")],
    }
}

#[test]
fn flagger_manifests_load_with_only_the_api_version_changed() {
    let dir = root().join("crds/tests/fixtures/flagger");
    let files = yaml_files(&dir);
    assert!(files.len() >= 10);
    let all: Vec<String> = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    let catalog = catalog_of(&all.join("\n---\n"));
    for (file, text) in files.iter().zip(&all) {
        let documents = parse_documents(text);
        assert!(!documents.is_empty(), "{}", file.display());
        for document in &documents {
            assert!(document.object.is_ok(), "{}: {:?}", file.display(), document.object);
        }
        let findings: Vec<String> = check_manifest(text, Some(&catalog)).iter().map(ToString::to_string).collect();
        // Fledge answers Prometheus only; Flagger's Datadog example is the one expected refusal.
        let expected: Vec<String> = if file.ends_with("docs-metrics-datadog-not-found-percentage.yaml") {
            vec!["MetricTemplate istio-system/not-found-percentage: spec.provider.type: Fledge queries Prometheus only; datadog is not supported".into()]
        } else {
            vec![]
        };
        assert_eq!(findings, expected, "{}", file.display());
        for object in documents_as_json(text) {
            assert_eq!(cel_errors(&object), Vec::<String>::new(), "{}", file.display());
        }
    }
}

#[test]
fn flagger_manifests_missing_required_fields_are_refused() {
    for file in yaml_files(&root().join("crds/tests/fixtures/flagger/partial")) {
        let findings: Vec<String> =
            check_manifest(&std::fs::read_to_string(&file).unwrap(), None).iter().map(ToString::to_string).collect();
        assert!(findings.iter().any(|f| f.ends_with("spec.targetRef: required")), "{}: {findings:?}", file.display());
    }
}

const BASE: &str = r#"
apiVersion: fledge.dev/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  service:
    port: 9898
  analysis:
    interval: 1m
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    metrics:
    - name: request-success-rate
      thresholdRange:
        min: 99
      interval: 1m
"#;

/// RFC 7386 JSON merge patch: objects merge, `null` removes, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (key, value) in p {
                if value.is_null() {
                    t.remove(key);
                } else {
                    merge(t.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn catalog() -> Catalog {
    catalog_of(
        r#"
apiVersion: fledge.dev/v1beta1
kind: MetricTemplate
metadata: {name: latency, namespace: test}
spec:
  provider: {type: prometheus, address: "http://prometheus.istio-system:9090"}
  query: histogram_quantile(0.99, sum(rate(x{reporter="{{ variables.reporter }}",ns="{{ namespace }}"}[{{ interval }}])) by (le))
---
apiVersion: fledge.dev/v1beta1
kind: AlertProvider
metadata: {name: on-call, namespace: test}
spec: {type: slack, address: "https://hooks.slack.com/services/X"}
"#,
    )
}

/// What a user sees for the base Canary with `patch` merged in.
fn findings(patch: Value) -> Vec<String> {
    let mut canary: Value = serde_norway::from_str(BASE).unwrap();
    merge(&mut canary, &patch);
    let yaml = serde_norway::to_string(&canary).unwrap();
    check_manifest(&yaml, Some(&catalog())).iter().map(ToString::to_string).collect()
}

#[test]
fn the_base_manifest_is_valid() {
    assert_eq!(findings(json!({})), Vec::<String>::new());
}

#[test]
fn wrong_manifests_get_errors_that_name_the_field() {
    const C: &str = "Canary test/podinfo: ";
    let cases: Vec<(&str, Value, Vec<String>)> = vec![
        (
            "a number written as a word",
            json!({"spec": {"analysis": {"stepWeight": "ten"}}}),
            vec![format!("{C}spec.analysis.stepWeight: invalid type: string \"ten\", expected i32")],
        ),
        (
            "a fractional weight",
            json!({"spec": {"analysis": {"stepWeight": 10.5}}}),
            vec![format!("{C}spec.analysis.stepWeight: invalid type: floating point `10.5`, expected i32")],
        ),
        (
            "a list where an object belongs",
            json!({"spec": {"service": ["9898"]}}),
            vec![format!("{C}spec.service: must be an object (field: value, ...), not a list")],
        ),
        (
            "an unknown webhook type",
            json!({"spec": {"analysis": {"webhooks": [{"name": "load", "type": "pre-rolout", "url": "http://loadtester.test/"}]}}}),
            vec![format!(
                "{C}spec.analysis.webhooks[0].type: unknown variant `pre-rolout`, expected one of ``, `confirm-rollout`, `pre-rollout`, `rollout`, `confirm-traffic-increase`, `confirm-promotion`, `post-rollout`, `event`, `rollback`"
            )],
        ),
        (
            "a misspelt field",
            json!({"spec": {"analysis": {"stepWeight": null, "stepweight": 10}}}),
            vec![format!("{C}spec.analysis.stepweight: unknown field")],
        ),
        ("no targetRef", json!({"spec": {"targetRef": null}}), vec![format!("{C}spec.targetRef: required")]),
        (
            "a targetRef without a name",
            json!({"spec": {"targetRef": {"name": null}}}),
            vec![format!("{C}spec.targetRef.name: required")],
        ),
        (
            "Flagger's apiVersion left in place",
            json!({"apiVersion": "flagger.app/v1beta1"}),
            vec![format!(
                "{C}apiVersion: flagger.app/v1beta1 is Flagger's API; change it to fledge.dev/v1beta1 and the rest of the manifest can stay as it is"
            )],
        ),
        (
            "no name",
            json!({"metadata": {"name": null}}),
            vec!["Canary (document 1): metadata.name: required".to_owned()],
        ),
        (
            "a DaemonSet target",
            json!({"spec": {"targetRef": {"kind": "DaemonSet"}}}),
            vec![format!("{C}spec.targetRef.kind: Fledge releases Deployments; DaemonSet is not supported")],
        ),
        (
            "another traffic provider",
            json!({"spec": {"provider": "nginx"}}),
            vec![format!(
                "{C}spec.provider: Fledge routes with Istio only; remove provider or set it to istio (got nginx)"
            )],
        ),
        (
            "no service",
            json!({"spec": {"service": null}}),
            vec![format!("{C}spec.service: required: at least spec.service.port, the port of the generated Services")],
        ),
        (
            "port zero",
            json!({"spec": {"service": {"port": 0}}}),
            vec![format!("{C}spec.service.port: must be a port number from 1 to 65535, got 0")],
        ),
        (
            "a service name with capitals",
            json!({"spec": {"service": {"name": "PodInfo"}}}),
            vec![format!(
                "{C}spec.service.name: \"PodInfo\" is not a valid name: use lower-case letters, digits and '-', starting with a letter and ending with a letter or digit (it names the Services PodInfo, PodInfo-primary and PodInfo-canary)"
            )],
        ),
        (
            "a delegate with hosts",
            json!({"spec": {"service": {"delegation": true, "hosts": ["app.example.com"]}}}),
            vec![format!(
                "{C}spec.service.delegation: a delegate VirtualService has no hosts and no gateways; remove them or delegation"
            )],
        ),
        (
            "an interval in words",
            json!({"spec": {"analysis": {"interval": "1 minute"}}}),
            vec![format!(
                "{C}spec.analysis.interval: \"1 minute\" is not a duration: write numbers with units (ns, us, ms, s, m, h), for example 30s, 1m or 1m30s"
            )],
        ),
        (
            "weights out of range",
            json!({"spec": {"analysis": {"maxWeight": 150}}}),
            vec![format!("{C}spec.analysis.maxWeight: must be a percentage from 1 to 100, got 150")],
        ),
        (
            "no way to move traffic",
            json!({"spec": {"analysis": {"stepWeight": null}}}),
            vec![format!(
                "{C}spec.analysis: set stepWeight or stepWeights for a weighted canary, or iterations for A/B testing and blue/green"
            )],
        ),
        (
            "stepWeights that do not increase",
            json!({"spec": {"analysis": {"stepWeight": null, "maxWeight": null, "stepWeights": [10, 5, 20]}}}),
            vec![format!("{C}spec.analysis.stepWeights: must increase, got [10, 5, 20]")],
        ),
        (
            "a maxWeight the steps never reach",
            json!({"spec": {"analysis": {"stepWeight": null, "stepWeights": [10, 20, 30]}}}),
            vec![format!(
                "{C}spec.analysis.maxWeight: 50 is never reached: stepWeights ends at 30; end the steps at 50 or drop maxWeight"
            )],
        ),
        (
            "A/B match without iterations",
            json!({"spec": {"analysis": {"match": [{"headers": {"x-canary": {"exact": "insider"}}}]}}}),
            vec![format!(
                "{C}spec.analysis.match: A/B testing needs iterations: the number of intervals to route matching requests to the canary"
            )],
        ),
        (
            "a header match with two alternatives and a broken regex",
            json!({"spec": {"analysis": {"stepWeight": null, "maxWeight": null, "iterations": 10,
                "match": [{"headers": {"cookie": {"exact": "canary", "regex": "^(.*?;)?(canary=always(;.*)?$"}}}]}}}),
            vec![
                format!("{C}spec.analysis.match[0].headers.cookie: set one of exact, prefix, suffix or regex, not 2"),
                format!(
                    "{C}spec.analysis.match[0].headers.cookie.regex: \"^(.*?;)?(canary=always(;.*)?$\" is not a valid regular expression (error: unclosed group)"
                ),
            ],
        ),
        (
            "mirroring an A/B test",
            json!({"spec": {"analysis": {"stepWeight": null, "maxWeight": null, "iterations": 10, "mirror": true,
                "match": [{"headers": {"x-canary": {"exact": "insider"}}}]}}}),
            vec![format!(
                "{C}spec.analysis.mirror: mirroring is for blue/green and weighted canaries, not A/B testing (match)"
            )],
        ),
        (
            "thresholdRange min above max",
            json!({"spec": {"analysis": {"metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99, "max": 90}}]}}}),
            vec![format!("{C}spec.analysis.metrics[0].thresholdRange: min 99 is greater than max 90")],
        ),
        (
            "a metric that can never fail",
            json!({"spec": {"analysis": {"metrics": [{"name": "request-duration", "interval": "1m"}]}}}),
            vec![format!(
                "{C}spec.analysis.metrics[0].thresholdRange: set min, max or both; without them the check can never fail"
            )],
        ),
        (
            "a custom metric without a query",
            json!({"spec": {"analysis": {"metrics": [{"name": "error-rate", "thresholdRange": {"max": 1}}]}}}),
            vec![format!(
                "{C}spec.analysis.metrics[0]: \"error-rate\" is not a built-in metric (request-success-rate, request-duration); set templateRef or query"
            )],
        ),
        (
            "a metric window that is not a Prometheus duration",
            json!({"spec": {"analysis": {"metrics": [{"name": "request-success-rate", "interval": "1.5m", "thresholdRange": {"min": 99}}]}}}),
            vec![format!(
                "{C}spec.analysis.metrics[0].interval: \"1.5m\" is not a Prometheus duration such as 30s, 1m or 1h30m"
            )],
        ),
        (
            "a template that does not exist",
            json!({"spec": {"analysis": {"metrics": [{"name": "latency", "templateRef": {"name": "latencyy"}, "thresholdRange": {"max": 500}}]}}}),
            vec![format!("{C}spec.analysis.metrics[0].templateRef: MetricTemplate test/latencyy does not exist")],
        ),
        (
            "a template variable left out",
            json!({"spec": {"analysis": {"metrics": [{"name": "latency", "templateRef": {"name": "latency"}, "thresholdRange": {"max": 500}}]}}}),
            vec![format!(
                "{C}spec.analysis.metrics[0].templateVariables: MetricTemplate test/latency uses {{{{ variables.reporter }}}}, which is not set here"
            )],
        ),
        (
            "an unknown placeholder in an inline query",
            json!({"spec": {"analysis": {"metrics": [{"name": "errors", "query": "sum(x{ingress=\"{{ ingress }}\"})", "thresholdRange": {"max": 1}}]}}}),
            vec![format!(
                "{C}spec.analysis.metrics[0].query: unknown placeholder {{{{ ingress }}}}; known: {{{{ name }}}}, {{{{ namespace }}}}, {{{{ target }}}}, {{{{ service }}}}, {{{{ interval }}}}, variables.<key>"
            )],
        ),
        (
            "a webhook URL without a scheme",
            json!({"spec": {"analysis": {"webhooks": [{"name": "load", "url": "flagger-loadtester.test/"}]}}}),
            vec![format!(
                "{C}spec.analysis.webhooks[0].url: \"flagger-loadtester.test/\" is not a URL (relative URL without a base)"
            )],
        ),
        (
            "a webhook timeout without a unit",
            json!({"spec": {"analysis": {"webhooks": [{"name": "load", "url": "http://loadtester.test/", "timeout": "30"}]}}}),
            vec![format!(
                "{C}spec.analysis.webhooks[0].timeout: \"30\" is not a duration: write numbers with units (ns, us, ms, s, m, h), for example 30s, 1m or 1m30s"
            )],
        ),
        (
            "an alert provider that does not exist",
            json!({"spec": {"analysis": {"alerts": [{"name": "on-call", "providerRef": {"name": "pager"}}]}}}),
            vec![format!("{C}spec.analysis.alerts[0].providerRef: AlertProvider test/pager does not exist")],
        ),
        (
            "session affinity on a blue/green",
            json!({"spec": {"analysis": {"stepWeight": null, "maxWeight": null, "iterations": 10, "sessionAffinity": {"cookieName": "canary"}}}}),
            vec![format!(
                "{C}spec.analysis.sessionAffinity: works with weighted canaries (stepWeight or stepWeights), not with iterations (A/B testing, blue/green)"
            )],
        ),
        (
            "a cron schedule with four fields",
            json!({"spec": {"analysis": {"windows": [{"schedule": "0 9 * *", "duration": "8h"}]}}}),
            vec![format!(
                "{C}spec.analysis.windows[0].schedule: \"0 9 * *\" has 4 fields; write five (minute hour day-of-month month day-of-week), for example \"0 9 * * 1-5\""
            )],
        ),
        (
            "a window in a time zone that does not exist",
            json!({"spec": {"analysis": {"windows": [{"schedule": "0 9 * * 1-5", "duration": "8h", "timeZone": "Europe/Berln"}]}}}),
            vec![format!(
                "{C}spec.analysis.windows[0].timeZone: \"Europe/Berln\" is not an IANA time zone such as Europe/Berlin or UTC"
            )],
        ),
        (
            "a window of no length",
            json!({"spec": {"analysis": {"windows": [{"schedule": "0 9 * * 1-5", "duration": "0s"}]}}}),
            vec![format!("{C}spec.analysis.windows[0].duration: must be longer than zero")],
        ),
        (
            "Loki without its address",
            json!({"spec": {"analysis": {"accessLog": {"source": "loki"}}}}),
            vec![format!("{C}spec.analysis.accessLog.loki: required with source loki: at least the Loki address")],
        ),
        (
            "an unknown response flag and an impossible confidence",
            json!({"spec": {"analysis": {"accessLog": {"errorResponseFlags": ["UH", "XX"], "comparison": {"confidence": 1.5}}}}}),
            vec![
                format!(
                    "{C}spec.analysis.accessLog.errorResponseFlags[1]: \"XX\" is not an Envoy response flag; known flags: UH, UF, UO, NR, URX, NC, DT, DC, LH, UT, LR, UR, UC, DI, FI, RL, UAEX, RLSE, IH, SI, DPE, UPE, UMSDR, OM, DF, DO, DR"
                ),
                format!("{C}spec.analysis.accessLog.comparison.confidence: must be from 0.5 to 0.999, got 1.5"),
            ],
        ),
    ];
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for (name, patch, expected) in cases {
        let got = findings(patch);
        if got != expected {
            failures.push(format!("{name}:\n  expected {expected:#?}\n  got      {got:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn warnings_say_what_fledge_ignores() {
    assert_eq!(
        findings(
            json!({"spec": {"ingressRef": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "podinfo"},
            "analysis": {"mirrorWeight": 50}}})
        ),
        [
            "Canary test/podinfo: warning: spec.ingressRef: belongs to another Flagger provider and is not supported with Istio; it is ignored",
            "Canary test/podinfo: warning: spec.analysis.mirrorWeight: is ignored without mirror: true",
        ]
    );
}

#[test]
fn unmanaged_metadata_says_what_fledge_will_not_write() {
    let service = json!({"port": 9898,
        "apex": {"labels": {"team": "web", "tier": "front"}, "annotations": {"note": "x"}},
        "canary": {"annotations": {"note": "y"}},
        "unmanagedMetadata": {"labels": ["team"], "annotations": ["note", "fledge.dev/weights"]}});
    assert_eq!(
        findings(json!({"spec": {"service": service}})),
        [
            "Canary test/podinfo: warning: spec.service.unmanagedMetadata.annotations[1]: fledge.dev/weights is Fledge's own bookkeeping and stays managed by Fledge; remove it from the list",
            "Canary test/podinfo: warning: spec.service.apex.labels[team]: is listed in spec.service.unmanagedMetadata.labels, so Fledge does not write it",
            "Canary test/podinfo: warning: spec.service.apex.annotations[note]: is listed in spec.service.unmanagedMetadata.annotations, so Fledge does not write it",
            "Canary test/podinfo: warning: spec.service.canary.annotations[note]: is listed in spec.service.unmanagedMetadata.annotations, so Fledge does not write it",
        ]
    );
}

/// The first layer: what the API server's CEL rules say, for the rules the schema can express.
#[test]
fn the_schema_rules_refuse_what_the_server_can_check() {
    let mut canary: Value = serde_norway::from_str(BASE).unwrap();
    assert_eq!(cel_errors(&canary), Vec::<String>::new());
    let cases = [
        (
            json!({"spec": {"analysis": {"metrics": [{"name": "request-success-rate", "thresholdRange": {"min": 99, "max": 90}}]}}}),
            "spec.analysis.metrics[0].thresholdRange: min must not be greater than max",
        ),
        (
            json!({"spec": {"analysis": {"stepWeight": null}}}),
            "spec.analysis: set stepWeight, stepWeights (weighted canary) or iterations (A/B testing, blue/green)",
        ),
        (
            json!({"spec": {"analysis": {"match": [{"headers": {"x-canary": {"exact": "insider"}}}]}}}),
            "spec.analysis: match (A/B testing) needs iterations",
        ),
        (
            json!({"spec": {"service": {"delegation": true, "gateways": ["public"]}}}),
            "spec.service: a delegate VirtualService (delegation: true) has no hosts and no gateways",
        ),
        (
            json!({"spec": {"analysis": {"metrics": [{"name": "error-rate", "thresholdRange": {"max": 1}}]}}}),
            "spec.analysis.metrics[0]: a metric needs templateRef or query, unless it is the built-in request-success-rate or request-duration",
        ),
        (
            json!({"spec": {"analysis": {"accessLog": {"source": "loki"}}}}),
            "spec.analysis.accessLog: source loki needs the loki settings (address)",
        ),
    ];
    for (patch, expected) in cases {
        let mut bad = canary.clone();
        merge(&mut bad, &patch);
        assert_eq!(cel_errors(&bad), [expected], "{patch}");
    }
    let provider = json!({"apiVersion": "fledge.dev/v1beta1", "kind": "AlertProvider", "metadata": {"name": "x"}, "spec": {"type": "slack"}});
    assert_eq!(cel_errors(&provider), ["spec: set address or secretRef (a Secret with the key address)"]);
    merge(&mut canary, &json!({"spec": {"analysis": {"stepWeight": null, "iterations": 10}}}));
    assert_eq!(cel_errors(&canary), Vec::<String>::new());
}
