//! Tests against real CRDs: Fledge's Canary and Istio's, with the objects users apply.

use super::*;
use serde_json::{Value, json};

// From this crate (`e2e/apiserver`) up to the workspace; shared/ is beside the workspace.
const CANARY_CRD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crds/yaml/canaries.fledge.dev.yaml");
const ISTIO_CRDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/istio/crd-all.gen.yaml");
const PODINFO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/podinfo-canary.yaml");

fn documents(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::Deserializer::from_str(&text)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap_or_else(|e| panic!("{path}: {e}")))
        .filter(|d| !d.is_null())
        .collect()
}

/// The version `version` of the CRD named `name` in `path`.
fn crd_version(path: &str, name: &str, version: &str) -> Value {
    let crd = documents(path).into_iter().find(|d| d["metadata"]["name"] == name).unwrap();
    crd["spec"]["versions"].as_array().unwrap().iter().find(|v| v["name"] == version).unwrap().clone()
}

fn schema_of(version: &Value) -> Value {
    version["schema"]["openAPIV3Schema"].clone()
}

fn canary_schema() -> Value {
    schema_of(&crd_version(CANARY_CRD, "canaries.fledge.dev", "v1beta1"))
}

fn podinfo_canary() -> Value {
    documents(PODINFO).into_iter().find(|d| d["kind"] == "Canary").unwrap()
}

fn messages(errors: &[FieldError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

#[test]
fn the_podinfo_example_is_a_valid_canary() {
    let schema = canary_schema();
    let mut canary = podinfo_canary();
    assert_eq!(prune(&schema, &mut canary), Vec::<String>::new());
    apply_defaults(&schema, &mut canary);
    assert_eq!(messages(&validate_all(&schema, &canary, None)), Vec::<String>::new());
}

#[test]
fn a_step_weight_over_the_maximum_reads_like_the_server() {
    let schema = canary_schema();
    let mut canary = podinfo_canary();
    canary["spec"]["analysis"]["stepWeight"] = json!(150);
    let errors = validate(&schema, &canary);
    assert_eq!(
        messages(&errors),
        [
            "spec.analysis.stepWeight: Invalid value: 150: spec.analysis.stepWeight in body should be less than or equal to 100"
        ]
    );
    assert_eq!(errors[0].reason, Reason::FieldValueInvalid);
    assert_eq!(
        invalid_message("Canary.fledge.dev", "podinfo", &errors),
        "Canary.fledge.dev \"podinfo\" is invalid: spec.analysis.stepWeight: Invalid value: 150: \
         spec.analysis.stepWeight in body should be less than or equal to 100"
    );
    assert_eq!(
        to_status_causes(&errors),
        vec![json!({
            "reason": "FieldValueInvalid",
            "message": "Invalid value: 150: spec.analysis.stepWeight in body should be less than or equal to 100",
            "field": "spec.analysis.stepWeight"
        })]
    );
}

#[test]
fn wrong_types_and_missing_fields_block_the_rules() {
    let schema = canary_schema();
    let mut canary = podinfo_canary();
    canary["spec"]["service"]["port"] = json!("string");
    canary["spec"].as_object_mut().unwrap().remove("targetRef");
    let errors = validate_all(&schema, &canary, None);
    assert_eq!(
        messages(&errors),
        [
            r#"spec.service.port: Invalid value: "string": spec.service.port in body must be of type integer: "string""#,
            "spec.targetRef: Required value",
            r#"<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"#,
        ]
    );
    assert_eq!(errors[0].reason, Reason::FieldValueTypeInvalid);
    assert_eq!(errors[1].reason, Reason::FieldValueRequired);
}

#[test]
fn integral_floats_are_integers_and_enums_list_their_values() {
    let schema = canary_schema();
    let mut canary = podinfo_canary();
    canary["spec"]["analysis"]["stepWeight"] = json!(10.0);
    assert_eq!(messages(&validate(&schema, &canary)), Vec::<String>::new());
    canary["spec"]["analysis"]["alerts"][0]["severity"] = json!("fatal");
    assert_eq!(
        messages(&validate(&schema, &canary)),
        [
            r#"spec.analysis.alerts[0].severity: Unsupported value: "fatal": supported values: "info", "warn", "error", """#
        ]
    );
}

#[test]
fn canary_cel_rules_report_the_schema_type() {
    let schema = canary_schema();
    let mut canary = podinfo_canary();
    canary["spec"]["analysis"].as_object_mut().unwrap().remove("stepWeight");
    let errors = validate_all(&schema, &canary, None);
    assert_eq!(
        messages(&errors),
        [
            r#"spec.analysis: Invalid value: "object": set stepWeight, stepWeights (weighted canary) or iterations (A/B testing, blue/green)"#
        ]
    );
    canary["spec"]["analysis"]["stepWeight"] = json!(10);
    canary["spec"]["analysis"]["metrics"][0]["name"] = json!("my-metric");
    assert_eq!(
        messages(&validate_cel(&schema, &canary, None)),
        [
            r#"spec.analysis.metrics[0]: Invalid value: "object": a metric needs templateRef or query, unless it is the built-in request-success-rate or request-duration"#
        ]
    );
}

#[test]
fn unknown_canary_fields_are_pruned_and_named() {
    let schema = canary_schema();
    let mut canary = podinfo_canary();
    canary["spec"]["foo"] = json!(1);
    canary["spec"]["analysis"]["metrics"][1]["bar"] = json!({"x": 1});
    canary["status"] = json!({"phase": "Initialized", "made": "up"});
    let unknown = prune(&schema, &mut canary);
    assert_eq!(unknown, ["spec.analysis.metrics[1].bar", "spec.foo", "status.made"]);
    assert_eq!(
        strict_decoding_message(&unknown),
        r#"strict decoding error: unknown field "spec.analysis.metrics[1].bar", unknown field "spec.foo", unknown field "status.made""#
    );
    assert!(canary["spec"].get("foo").is_none());
    assert_eq!(canary["status"], json!({"phase": "Initialized"}));
    assert_eq!(canary["metadata"]["name"], "podinfo");
}

#[test]
fn canary_table_has_name_and_printer_columns() {
    let version = crd_version(CANARY_CRD, "canaries.fledge.dev", "v1beta1");
    let columns = PrinterColumn::for_crd_version(&version);
    let mut canary = podinfo_canary();
    canary["metadata"]["creationTimestamp"] = json!("2024-01-01T00:00:00Z");
    canary["status"] = json!({"phase": "Progressing", "canaryWeight": 20, "failedChecks": 0});
    canary["spec"]["analysis"]["stepWeights"] = json!([10, 20]);
    let now = 1_704_067_200 + 5 * 60;
    let t = table(&columns, &[canary], now, IncludeObject::Metadata);
    let names: Vec<&str> =
        t["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names[..3], ["Name", "Status", "Weight"]);
    assert_eq!(t["columnDefinitions"][0]["format"], "name");
    let row = &t["rows"][0];
    let cell = |name: &str| row["cells"][names.iter().position(|n| *n == name).unwrap()].clone();
    assert_eq!(cell("Name"), json!("podinfo"));
    assert_eq!(cell("Status"), json!("Progressing"));
    assert_eq!(cell("Weight"), json!("20"));
    assert_eq!(cell("StepWeights"), json!("[10,20]"));
    assert_eq!(cell("Suspended"), Value::Null);
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(row["object"]["metadata"]["name"], "podinfo");
    assert!(row["object"].get("spec").is_none());
}

fn virtual_service_schema() -> Value {
    schema_of(&crd_version(ISTIO_CRDS, "virtualservices.networking.istio.io", "v1"))
}

fn weighted_virtual_service() -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": "test"},
        "spec": {
            "hosts": ["podinfo"],
            "http": [{
                "match": [{"uri": {"prefix": "/api"}}],
                "route": [
                    {"destination": {"host": "podinfo-primary"}, "weight": 90},
                    {"destination": {"host": "podinfo-canary"}, "weight": 10}
                ],
                "timeout": "5s"
            }]
        }
    })
}

#[test]
fn a_weighted_virtual_service_passes_istio_schema() {
    let schema = virtual_service_schema();
    let mut vs = weighted_virtual_service();
    assert_eq!(prune(&schema, &mut vs), Vec::<String>::new());
    apply_defaults(&schema, &mut vs);
    assert_eq!(messages(&validate_all(&schema, &vs, None)), Vec::<String>::new());
}

#[test]
fn bad_virtual_services_get_the_servers_messages() {
    let schema = virtual_service_schema();
    let mut vs = weighted_virtual_service();
    vs["spec"]["http"][0]["route"][0]["weight"] = json!("ninety");
    assert_eq!(
        messages(&validate(&schema, &vs)),
        [
            r#"spec.http[0].route[0].weight: Invalid value: "string": spec.http[0].route[0].weight in body must be of type integer: "string""#
        ]
    );

    let mut vs = weighted_virtual_service();
    vs["spec"]["http"][0]["timeout"] = json!("500us");
    assert_eq!(
        messages(&validate_all(&schema, &vs, None)),
        [r#"spec.http[0].timeout: Invalid value: "string": must be a valid duration greater than 1ms"#]
    );

    let mut vs = weighted_virtual_service();
    vs["spec"]["http"][0]["match"][0]["uri"] = json!({"prefix": "/api", "exact": "/api"});
    assert_eq!(
        messages(&validate(&schema, &vs)),
        [
            r#"<nil>: Invalid value: "": "spec.http[0].match[0].uri" must validate one and only one schema (oneOf). Found 2 valid alternatives"#
        ]
    );
}

#[test]
fn istio_crds_prune_unknown_fields() {
    let schema = virtual_service_schema();
    let mut vs = weighted_virtual_service();
    vs["spec"]["http"][0]["route"][1]["wieght"] = json!(10);
    assert_eq!(prune(&schema, &mut vs), ["spec.http[0].route[1].wieght"]);
}

#[test]
fn every_istio_crd_version_prints_a_table() {
    for crd in documents(ISTIO_CRDS) {
        for version in crd["spec"]["versions"].as_array().unwrap() {
            let columns = PrinterColumn::for_crd_version(version);
            let t = table(&columns, &[json!({"metadata": {"name": "x"}})], 0, IncludeObject::None);
            assert_eq!(
                t["columnDefinitions"].as_array().unwrap().len(),
                columns.len() + 1,
                "{}",
                crd["metadata"]["name"]
            );
        }
    }
}
