//! The generated CRDs: the committed YAML matches the types, the schemas are structural as a
//! real kube-apiserver requires, and every CEL rule compiles within the cost budget.

use fledge_crds::generate::{crds, files};
use kube::core::cel::{ScopeContext, WarningKind, analyze_rule, compile_schema};
use serde_json::Value;
use std::path::Path;

fn schema_of(
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Value {
    let version = &crd.spec.versions[0];
    serde_json::to_value(version.schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap()).unwrap()
}

#[test]
fn committed_yaml_is_what_the_types_generate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("yaml");
    let mut expected_files = Vec::new();
    for (name, text) in files() {
        let path = dir.join(&name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{} differs from what the types generate; run `cargo run -p fledge-controller -- crds --out-dir crds/yaml`",
            path.display()
        );
        expected_files.push(name);
    }
    let mut present: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    present.sort();
    expected_files.sort();
    assert_eq!(present, expected_files, "crds/yaml holds one file per CRD and the kustomization listing them");
}

#[test]
fn names_columns_and_subresources_are_what_users_type() {
    let all = crds();
    let canary = &all[0];
    assert_eq!(canary.metadata.name.as_deref(), Some("canaries.fledge.dev"));
    assert_eq!(canary.spec.names.short_names.as_deref(), Some(&["cn".to_owned()][..]));
    assert!(canary.spec.names.categories.as_ref().unwrap().contains(&"fledge".to_owned()));
    let version = &canary.spec.versions[0];
    assert_eq!(version.name, "v1beta1");
    assert!(version.served && version.storage);
    assert!(version.subresources.as_ref().unwrap().status.is_some());
    let columns: Vec<&str> = version.additional_printer_columns.iter().flatten().map(|c| c.name.as_str()).collect();
    assert_eq!(
        columns,
        [
            "Status",
            "Weight",
            "Suspended",
            "FailedChecks",
            "Interval",
            "Mirror",
            "StepWeight",
            "StepWeights",
            "MaxWeight",
            "LastTransitionTime"
        ]
    );
    let names: Vec<&str> = all.iter().map(|c| c.metadata.name.as_deref().unwrap()).collect();
    assert_eq!(names, ["canaries.fledge.dev", "metrictemplates.fledge.dev", "alertproviders.fledge.dev"]);
}

/// Walks a schema and reports every place that breaks Kubernetes' structural-schema rules.
fn structural_violations(node: &Value, path: &str, out: &mut Vec<String>) {
    let Some(obj) = node.as_object() else {
        out.push(format!("{path}: schema is not an object"));
        return;
    };
    for forbidden in
        ["$ref", "definitions", "$defs", "uniqueItems", "patternProperties", "dependencies", "id", "$schema"]
    {
        if obj.contains_key(forbidden) {
            out.push(format!("{path}: {forbidden} is not allowed"));
        }
    }
    for junction in ["allOf", "anyOf", "oneOf", "not"] {
        if obj.contains_key(junction) {
            out.push(format!("{path}: {junction} is not used by Fledge's schemas and must not carry types"));
        }
    }
    let int_or_string = obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    match obj.get("type").and_then(Value::as_str) {
        None if !int_or_string && !preserve => out.push(format!("{path}: no type")),
        Some(_) if int_or_string => out.push(format!("{path}: x-kubernetes-int-or-string must not have a type")),
        Some(t) if !["object", "array", "string", "integer", "number", "boolean"].contains(&t) => {
            out.push(format!("{path}: unknown type {t}"))
        }
        _ => {}
    }
    if obj.contains_key("properties") && obj.contains_key("additionalProperties") {
        out.push(format!("{path}: properties and additionalProperties together"));
    }
    if obj.get("additionalProperties") == Some(&Value::Bool(false)) {
        out.push(format!("{path}: additionalProperties: false"));
    }
    if obj.get("type").and_then(Value::as_str) == Some("array") && !obj.get("items").is_some_and(Value::is_object) {
        out.push(format!("{path}: array without a single items schema"));
    }
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (name, child) in props {
            structural_violations(child, &format!("{path}.{name}"), out);
        }
    }
    if let Some(items) = obj.get("items") {
        structural_violations(items, &format!("{path}[]"), out);
    }
    if let Some(additional @ Value::Object(_)) = obj.get("additionalProperties") {
        structural_violations(additional, &format!("{path}{{}}"), out);
    }
}

#[test]
fn schemas_are_structural() {
    for crd in crds() {
        let schema = schema_of(&crd);
        let mut violations = Vec::new();
        structural_violations(&schema, crd.spec.names.kind.as_str(), &mut violations);
        assert!(violations.is_empty(), "{violations:#?}");
        // The API server owns metadata; a CRD may only say it is an object.
        let metadata = schema.pointer("/properties/metadata");
        assert!(metadata.is_none() || metadata == Some(&serde_json::json!({"type": "object"})), "{metadata:?}");
    }
}

/// Every CEL rule with the schema node it sits on.
fn rules(node: &Value, path: &str, out: &mut Vec<(String, String, Value)>) {
    if let Some(list) = node.get("x-kubernetes-validations").and_then(Value::as_array) {
        for rule in list {
            out.push((path.to_owned(), rule["rule"].as_str().unwrap().to_owned(), node.clone()));
        }
    }
    for (name, child) in node.get("properties").and_then(Value::as_object).into_iter().flatten() {
        rules(child, &format!("{path}.{name}"), out);
    }
    if let Some(items) = node.get("items") {
        rules(items, &format!("{path}[]"), out);
    }
}

#[test]
fn every_cel_rule_compiles_within_the_cost_budget() {
    let mut count = 0;
    for crd in crds() {
        let schema = schema_of(&crd);
        assert!(!compile_schema(&schema).has_errors(), "{} has a CEL rule that does not compile", crd.spec.names.kind);
        let mut found = Vec::new();
        rules(&schema, &crd.spec.names.kind, &mut found);
        for (path, rule, node) in found {
            count += 1;
            let warnings = analyze_rule(&rule, &compile_schema(&node), ScopeContext::CrdValidation);
            let serious: Vec<_> = warnings.iter().filter(|w| w.kind != WarningKind::MissingBounds).collect();
            assert!(serious.is_empty(), "{path}: {rule}: {serious:?}");
        }
    }
    assert!(count >= 8, "expected the schema's CEL rules, found {count}");
}
