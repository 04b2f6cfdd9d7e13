//! Server-side printing of the built-in kinds the sandbox serves, as kube-apiserver's printers
//! (`pkg/printers/internalversion`) do: the same columns, descriptions, priorities and cells.
//! The server always prints the wide columns; kubectl hides priority > 0 unless `-o wide`.

mod event;
mod hpa;
mod pod;
mod service;
mod workloads;

#[cfg(test)]
mod tests;

use super::table::{self, CREATED_DESCRIPTION, IncludeObject, NAME_DESCRIPTION};
use super::timefmt;
use serde_json::{Value, json};

const CONTAINERS_DESCRIPTION: &str = "Names of each container in the template.";
const IMAGES_DESCRIPTION: &str = "Images referenced by each container in the template.";

/// A column: name, type, priority, description.
type Col = (&'static str, &'static str, i32, &'static str);

/// A kind's printer: the cells and row conditions of one object at a time.
type Printer = fn(&Value, i64) -> (Vec<Value>, Vec<Value>);

fn name_col() -> Col {
    ("Name", "string", 0, NAME_DESCRIPTION)
}

fn age_col() -> Col {
    ("Age", "string", 0, CREATED_DESCRIPTION)
}

fn definitions(cols: &[Col]) -> Vec<Value> {
    cols.iter()
        .map(|(name, type_, priority, description)| {
            let format = if *name == "Name" { "name" } else { "" };
            table::column_definition(name, type_, format, description, *priority)
        })
        .collect()
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn int(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn list<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn age(v: &Value, now: i64) -> Value {
    json!(timefmt::since(v.pointer("/metadata/creationTimestamp"), now))
}

/// `labels.FormatLabels`: `k=v` sorted by key, joined by commas; `<none>` when empty.
fn format_labels(map: Option<&Value>) -> String {
    let Some(map) = map.and_then(Value::as_object).filter(|m| !m.is_empty()) else { return "<none>".into() };
    let mut pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect();
    pairs.sort();
    pairs.join(",")
}

/// `metav1.LabelSelectorAsSelector(s).String()`: requirements sorted by key.
fn format_selector(selector: Option<&Value>) -> String {
    let Some(selector) = selector.filter(|s| s.is_object()) else { return String::new() };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    for expr in list(selector, "/matchExpressions") {
        let key = text(expr, "/key").to_string();
        let mut values: Vec<&str> = list(expr, "/values").iter().filter_map(Value::as_str).collect();
        values.sort();
        let req = match text(expr, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            "DoesNotExist" => format!("!{key}"),
            _ => return "<invalid>".into(),
        };
        reqs.push((key, req));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    reqs.into_iter().map(|(_, r)| r).collect::<Vec<_>>().join(",")
}

/// `layoutContainerCells`: container names and images, comma-separated.
fn containers(template_spec: Option<&Value>) -> (String, String) {
    let cs =
        template_spec.and_then(|s| s.get("containers")).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let names: Vec<&str> = cs.iter().map(|c| text(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| text(c, "/image")).collect();
    (names.join(","), images.join(","))
}

/// The `Table` of built-in objects of `kind` (`Pod`, `Deployment`, `Service`, `ConfigMap`,
/// `Secret`, `Namespace`, `HorizontalPodAutoscaler`, `Event`, `Lease`, `ReplicaSet`,
/// `ServiceAccount`); any other kind gets Name and Age.
pub fn builtin_table(kind: &str, objects: &[Value], now_unix_seconds: i64, include_object: IncludeObject) -> Value {
    let (cols, printer): (Vec<Col>, Printer) = match kind {
        "Pod" => (pod::columns(), pod::row),
        "Deployment" => (workloads::deployment_columns(), workloads::deployment_row),
        "ReplicaSet" => (workloads::replica_set_columns(), workloads::replica_set_row),
        "Service" => (service::columns(), service::row),
        "ConfigMap" => (vec![name_col(), ("Data", "string", 0, CONFIG_MAP_DATA), age_col()], |o, now| {
            let count = ["/data", "/binaryData"]
                .iter()
                .map(|p| o.pointer(p).and_then(Value::as_object).map_or(0, |m| m.len()))
                .sum::<usize>();
            (vec![json!(table::name_of(o)), json!(count), age(o, now)], Vec::new())
        }),
        "Secret" => (
            vec![name_col(), ("Type", "string", 0, SECRET_TYPE), ("Data", "string", 0, SECRET_DATA), age_col()],
            |o, now| {
                let type_ = match text(o, "/type") {
                    "" => "Opaque",
                    t => t,
                };
                let count = o.pointer("/data").and_then(Value::as_object).map_or(0, |m| m.len());
                (vec![json!(table::name_of(o)), json!(type_), json!(count), age(o, now)], Vec::new())
            },
        ),
        "Namespace" => {
            (vec![name_col(), ("Status", "string", 0, "The status of the namespace"), age_col()], |o, now| {
                (vec![json!(table::name_of(o)), json!(text(o, "/status/phase")), age(o, now)], Vec::new())
            })
        }
        "ServiceAccount" => {
            (vec![name_col(), ("Secrets", "string", 0, SERVICE_ACCOUNT_SECRETS), age_col()], |o, now| {
                (vec![json!(table::name_of(o)), json!(list(o, "/secrets").len()), age(o, now)], Vec::new())
            })
        }
        "HorizontalPodAutoscaler" => (hpa::columns(), hpa::row),
        "Event" => (event::columns(), event::row),
        "Lease" => (vec![name_col(), ("Holder", "string", 0, LEASE_HOLDER), age_col()], |o, now| {
            (vec![json!(table::name_of(o)), json!(text(o, "/spec/holderIdentity")), age(o, now)], Vec::new())
        }),
        _ => (vec![name_col(), age_col()], |o, now| (vec![json!(table::name_of(o)), age(o, now)], Vec::new())),
    };
    let rows = objects
        .iter()
        .map(|o| {
            let (cells, conditions) = printer(o, now_unix_seconds);
            table::row(cells, o, include_object, conditions)
        })
        .collect();
    table::table_value(definitions(&cols), rows)
}

const CONFIG_MAP_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";
const SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
const SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";
const SERVICE_ACCOUNT_SECRETS: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret";
const LEASE_HOLDER: &str = "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.";
