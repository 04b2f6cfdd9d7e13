//! Server-side printing of custom resources: the `meta.k8s.io/v1` `Table` kube-apiserver returns
//! to `kubectl get` (apiextensions' tableconvertor): a `Name` column, then the version's
//! `additionalPrinterColumns` (just `Age` when it declares none), cells typed by column.

use super::gofmt::{self, Num};
use super::jsonpath::JsonPath;
use super::timefmt;
use serde_json::{Map, Value, json};

/// `ObjectMeta`'s description of `name`, the description of every Name column.
pub(crate) const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// `ObjectMeta`'s description of `creationTimestamp`, the description of Age columns.
pub(crate) const CREATED_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// One entry of a CRD version's `additionalPrinterColumns`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrinterColumn {
    /// The header (`Status`); kubectl prints it upper-cased.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`: how cells are typed.
    pub type_: String,
    /// An OpenAPI format hint, passed through to the column definition.
    pub format: String,
    /// Empty for the default, `Custom resource definition column (in JSONPath format): <path>`.
    pub description: String,
    /// 0 for the default view, more for `-o wide` only.
    pub priority: i32,
    /// The JSONPath of the value, e.g. `.status.phase`.
    pub json_path: String,
}

impl PrinterColumn {
    /// Parses one `additionalPrinterColumns` entry; `None` without a name or path.
    pub fn from_value(v: &Value) -> Option<PrinterColumn> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let column = PrinterColumn {
            name: text("name"),
            type_: text("type"),
            format: text("format"),
            description: text("description"),
            priority: v.get("priority").and_then(Value::as_i64).unwrap_or(0) as i32,
            json_path: text("jsonPath"),
        };
        (!column.name.is_empty() && !column.json_path.is_empty()).then_some(column)
    }

    /// The columns a CRD version is served with: its `additionalPrinterColumns`, or a single
    /// `Age` column of `.metadata.creationTimestamp` when it declares none (the server's
    /// `serveDefaultColumnsIfEmpty`).
    #[cfg(test)]
    pub fn for_crd_version(version: &Value) -> Vec<PrinterColumn> {
        let declared: Vec<PrinterColumn> = version
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(PrinterColumn::from_value)
            .collect();
        if !declared.is_empty() {
            return declared;
        }
        vec![PrinterColumn {
            name: "Age".into(),
            type_: "date".into(),
            format: String::new(),
            description: CREATED_DESCRIPTION.into(),
            priority: 0,
            json_path: ".metadata.creationTimestamp".into(),
        }]
    }
}

/// Which object each row carries (`?includeObject=`): kubectl asks for the default, metadata.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncludeObject {
    /// `None`: `"object": null`.
    None,
    /// `Metadata`: a `PartialObjectMetadata` with the object's metadata.
    #[default]
    Metadata,
    /// `Object`: the whole object.
    Object,
}

impl IncludeObject {
    /// Parses the query parameter; the error is the server's BadRequest message.
    pub fn parse(value: Option<&str>) -> Result<IncludeObject, String> {
        match value {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(format!("unrecognized includeObject value: {}", gofmt::quote(other))),
        }
    }
}

/// A `TableColumnDefinition` (every field present, as Go serializes it).
pub(crate) fn column_definition(name: &str, type_: &str, format: &str, description: &str, priority: i32) -> Value {
    json!({"name": name, "type": type_, "format": format, "description": description, "priority": priority})
}

/// The `object` of a row for `include`.
pub(crate) fn row_object(object: &Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => object.clone(),
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
    }
}

/// A `TableRow`; `conditions` are left out when empty, as Go omits them.
pub(crate) fn row(cells: Vec<Value>, object: &Value, include: IncludeObject, conditions: Vec<Value>) -> Value {
    let mut r = Map::new();
    r.insert("cells".into(), Value::Array(cells));
    if !conditions.is_empty() {
        r.insert("conditions".into(), Value::Array(conditions));
    }
    r.insert("object".into(), row_object(object, include));
    Value::Object(r)
}

/// The `Table`; the caller sets `metadata.resourceVersion` (and `continue`) from the list.
pub(crate) fn table_value(definitions: Vec<Value>, rows: Vec<Value>) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// `metadata.name`, or empty.
pub(crate) fn name_of(object: &Value) -> String {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string()
}

/// A string column's cell: the JSONPath printer's text (JSON for lists and maps, Go's `%v`
/// for scalars, `<no value>` for null).
fn string_cell(v: &Value) -> Value {
    Value::String(match v {
        Value::Null => "<no value>".into(),
        Value::Array(_) | Value::Object(_) => gofmt::json_marshal(v),
        other => gofmt::value_v(other),
    })
}

/// `cellForJSONValue`: the value converted to the column's type, or null when it does not fit.
fn typed_cell(type_: &str, v: &Value, now_unix_seconds: i64) -> Value {
    match (type_, v) {
        ("integer", Value::Number(n)) => match Num::of(n) {
            Num::Int(i) => json!(i),
            Num::Float(f) => json!(f as i64),
        },
        ("number", Value::Number(n)) => {
            let f = Num::of(n).as_f64();
            // Go writes an integral float64 without a fraction; so does this.
            if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 { json!(f as i64) } else { json!(f) }
        }
        ("boolean", Value::Bool(b)) => json!(b),
        ("date", Value::String(s)) => {
            if s.is_empty() || s == "null" {
                json!("<unknown>")
            } else {
                match timefmt::parse_rfc3339(s) {
                    Some(t) => json!(timefmt::age(t, now_unix_seconds)),
                    None => json!("<invalid>"),
                }
            }
        }
        _ => Value::Null,
    }
}

/// A printer-column cell of `object`: the first value the path finds, typed by the column.
fn cell(column: &PrinterColumn, path: &JsonPath, object: &Value, now_unix_seconds: i64) -> Value {
    let Some(value) = path.find(object).into_iter().next() else { return Value::Null };
    if column.type_ == "string" { string_cell(value) } else { typed_cell(&column.type_, value, now_unix_seconds) }
}

/// The `Table` of custom resources `objects` (a single get is a list of one) for `columns`, as
/// kube-apiserver serves it for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
/// A column whose JSONPath does not parse ends the columns, as the server falls back then.
pub fn table(
    columns: &[PrinterColumn],
    objects: &[Value],
    now_unix_seconds: i64,
    include_object: IncludeObject,
) -> Value {
    let mut definitions = vec![column_definition("Name", "string", "name", NAME_DESCRIPTION, 0)];
    let mut parsed = Vec::new();
    for column in columns {
        let Ok(path) = JsonPath::parse(&column.json_path) else { break };
        let description = if column.description.is_empty() {
            format!("Custom resource definition column (in JSONPath format): {}", column.json_path)
        } else {
            column.description.clone()
        };
        definitions.push(column_definition(&column.name, &column.type_, &column.format, &description, column.priority));
        parsed.push((column, path));
    }
    let rows = objects
        .iter()
        .map(|object| {
            let mut cells = vec![Value::String(name_of(object))];
            cells.extend(parsed.iter().map(|(column, path)| cell(column, path, object, now_unix_seconds)));
            row(cells, object, include_object, Vec::new())
        })
        .collect();
    table_value(definitions, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, type_: &str, path: &str) -> PrinterColumn {
        PrinterColumn {
            name: name.into(),
            type_: type_.into(),
            format: String::new(),
            description: String::new(),
            priority: 0,
            json_path: path.into(),
        }
    }

    #[test]
    fn cells_are_typed_by_column() {
        let columns = [
            column("Phase", "string", ".status.phase"),
            column("Weights", "string", ".spec.weights"),
            column("Count", "integer", ".status.count"),
            column("Ratio", "number", ".status.ratio"),
            column("Ok", "boolean", ".status.ok"),
            column("Since", "date", ".status.since"),
            column("Bad", "date", ".status.bad"),
            column("Missing", "string", ".status.missing"),
            column("Null", "string", ".status.null"),
            column("Float", "string", ".status.ratio"),
            column("Truncated", "integer", ".status.ratio"),
            column("Mistyped", "integer", ".status.phase"),
        ];
        let object = json!({
            "metadata": {"name": "x", "namespace": "n"},
            "spec": {"weights": [10, 20], "map": {"b": 1, "a": "<"}},
            "status": {"phase": "Ready", "count": 3, "ratio": 2.5, "ok": true, "since": "2024-01-01T00:00:00Z",
                "bad": "yesterday", "null": null}
        });
        let now = 1_704_067_200 + 2 * 86_400 + 3 * 3600;
        let t = table(&columns, &[object], now, IncludeObject::None);
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["x", "Ready", "[10,20]", 3, 2.5, true, "2d3h", "<invalid>", null, "<no value>", "2.5", 2, null])
        );
        assert_eq!(t["rows"][0]["object"], Value::Null);
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(
            t["columnDefinitions"][1],
            json!({"name": "Phase", "type": "string", "format": "", "description": "Custom resource definition column (in JSONPath format): .status.phase", "priority": 0})
        );
    }

    #[test]
    fn crds_without_columns_get_age_and_objects_follow_include_object() {
        let columns = PrinterColumn::for_crd_version(&json!({"name": "v1"}));
        assert_eq!(columns.len(), 1);
        assert_eq!(columns[0].name, "Age");
        let object = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "x", "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": {}});
        let t = table(&columns, std::slice::from_ref(&object), 1_704_067_200 + 90, IncludeObject::Object);
        assert_eq!(t["rows"][0]["cells"], json!(["x", "90s"]));
        assert_eq!(t["rows"][0]["object"], object);
        let names: Vec<&str> =
            t["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Name", "Age"]);
        assert_eq!(IncludeObject::parse(Some("Object")), Ok(IncludeObject::Object));
        assert_eq!(IncludeObject::parse(None), Ok(IncludeObject::Metadata));
        assert_eq!(IncludeObject::parse(Some("All")), Err(r#"unrecognized includeObject value: "All""#.to_string()));
    }
}
