//! OpenAPI v3 validation of a custom resource as kube-apiserver does it: kube-openapi's
//! `SchemaValidator` (its validators, their order and their messages, converted to field errors
//! by apiextensions' `kubeOpenAPIResultToFieldErrors`), then the checks of embedded resources
//! and of `x-kubernetes-list-type` lists.

use super::errors::{self, Bad, FieldError, Reason};
use super::gofmt::{self, Num};
use super::node::{self, Additional};
use super::{embedded, formats, goregex, listtype};
use regex::Regex;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// Where kube-openapi says the data is (`in` of its messages).
const IN: &str = "body";

/// Validates `object` against a CRD version's `openAPIV3Schema` and returns the errors in the
/// order kube-apiserver lists them (schema errors, embedded resources, list types). CEL rules
/// are separate: see [`super::cel::validate_cel`] and [`super::validate_all`].
pub fn validate(schema: &Value, object: &Value) -> Vec<FieldError> {
    let mut ctx = Ctx::default();
    let mut errors = validate_value(&mut ctx, schema, object, "").errors;
    errors.extend(embedded::validate(schema, object));
    errors.extend(listtype::validate(schema, object));
    errors
}

/// Compiled `pattern`s, so a pattern on the items of a long list compiles once.
#[derive(Default)]
struct Ctx {
    patterns: HashMap<String, Result<Regex, String>>,
}

/// kube-openapi's `Result`: errors (kept unique by message) and the match count it uses to
/// pick which failed `anyOf`/`oneOf` branch to report.
#[derive(Default)]
struct Res {
    errors: Vec<FieldError>,
    /// `field` and `message` of each error, to keep them unique cheaply.
    seen: HashSet<(String, String)>,
    matches: usize,
}

impl Res {
    fn counted() -> Res {
        Res { matches: 1, ..Res::default() }
    }

    fn err(e: FieldError) -> Res {
        let mut res = Res::default();
        res.add(e);
        res
    }

    fn add(&mut self, e: FieldError) {
        if self.seen.insert((e.field.clone(), e.message.clone())) {
            self.errors.push(e);
        }
    }

    fn merge(&mut self, other: Res) {
        for e in other.errors {
            self.add(e);
        }
        self.matches += other.matches;
    }

    fn valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// The field of an error named `name` by kube-openapi: one leading dot trimmed, and no field
/// at all (a nil path) for the root.
fn field_of(name: &str) -> String {
    if name.is_empty() || name == "." {
        node::NIL_PATH.to_string()
    } else {
        name.strip_prefix('.').unwrap_or(name).to_string()
    }
}

/// An error kube-openapi raises outside a `Validation` (the `allOf`/`oneOf`/`anyOf`/`not`
/// messages): apiextensions reports it as `Invalid value: ""` on no field.
fn composite(message: String) -> FieldError {
    errors::invalid(node::NIL_PATH, Bad::Str(String::new()), &message)
}

/// `errors.InvalidType` with string data, reported as `field.TypeInvalid`.
fn type_error(path: &str, type_name: &str, actual: &str) -> FieldError {
    let message = format!("{path} in {IN} must be of type {type_name}: {}", gofmt::quote(actual));
    errors::make(&field_of(path), Reason::FieldValueTypeInvalid, Bad::Str(actual.to_string()), &message)
}

/// `swag.IsFloat64AJSONInteger`: integral within ±2^53, allowing a relative error of 1e-9.
pub(crate) fn is_json_integer(f: f64) -> bool {
    const MAX: f64 = 9_007_199_254_740_992.0;
    if f.is_nan() || f.is_infinite() || !(-MAX..=MAX).contains(&f) {
        return false;
    }
    let g = (f as u64) as f64;
    let diff = (f - g).abs();
    if f == g || f == (f as i64) as f64 {
        return true;
    }
    // Go's math.SmallestNonzeroFloat64 is the smallest subnormal.
    let smallest = f64::from_bits(1);
    if f == 0.0 || g == 0.0 || diff < smallest {
        return diff < 1e-9 * smallest;
    }
    diff / (f.abs() + g.abs()).min(f64::MAX) < 1e-9
}

/// kube-openapi's `SchemaValidator.Validate`: each validator that applies to the data's kind,
/// in order type, allOf/oneOf/anyOf/not, string, format, number, list, enum, object.
fn validate_value(ctx: &mut Ctx, s: &Value, data: &Value, path: &str) -> Res {
    let types = node::types(s);
    let format = formats::effective(node::text(s, "format").unwrap_or(""), &types);
    let mut res = Res::default();
    if data.is_null() {
        res.merge(type_check(s, &types, &format, data, path));
        res.merge(enum_check(s, data, path));
        return res;
    }
    if !types.is_empty() || !format.is_empty() {
        res.merge(type_check(s, &types, &format, data, path));
        res.matches += 1;
    }
    res.merge(junctors(ctx, s, data, path));
    res.matches += 1;
    if let Value::String(text) = data {
        res.merge(string_check(ctx, s, text, path));
        res.matches += 1;
        if formats::is_string_format(&format) {
            if !formats::check(&format, text) {
                res.add(type_error(path, &format, text));
            }
            res.matches += 1;
        }
    }
    if let Value::Number(n) = data {
        res.merge(number_check(s, Num::of(n), path));
        res.matches += 1;
    }
    if let Value::Array(list) = data {
        res.merge(list_check(ctx, s, list, path));
        res.matches += 1;
    }
    res.merge(enum_check(s, data, path));
    res.matches += 1;
    if let Value::Object(map) = data {
        res.merge(object_check(ctx, s, map, path));
        res.matches += 1;
    }
    res.matches += 1;
    res
}

/// kube-openapi's `typeValidator`, with its handling of formats, null and integral floats.
fn type_check(s: &Value, types: &[&str], format: &str, data: &Value, path: &str) -> Res {
    if data.is_null() {
        if !types.is_empty() && !types.contains(&"null") && !node::flag(s, "nullable") {
            return Res::err(type_error(path, &types.join(","), "null"));
        }
        return Res::counted();
    }
    let (actual, actual_format) = formats::json_type(data);
    let is_float_int = actual == "number" && data.as_f64().is_some_and(is_json_integer) && types.contains(&"integer");
    let is_int_float = actual == "integer" && types.contains(&"number");
    let textual = data.is_string() || data.is_array();
    let numeric_type = types.contains(&"number") || types.contains(&"integer");
    let fits = types.contains(&actual) || is_float_int || is_int_float;
    // A format on a non-string, non-list value must match the value's own format.
    if !textual && !format.is_empty() && !fits && actual_format != format {
        return Res::err(type_error(path, format, actual_format));
    }
    // A format on a non-numeric type accepts strings and lists of any type.
    if !numeric_type && !format.is_empty() && textual {
        return Res::counted();
    }
    if !fits {
        return Res::err(type_error(path, &types.join(","), actual));
    }
    Res::counted()
}

fn branches<'a>(s: &'a Value, name: &str) -> &'a [Value] {
    s.get(name).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// kube-openapi's `schemaPropsValidator`: `anyOf`, `oneOf`, `allOf` and `not` on the same data.
fn junctors(ctx: &mut Ctx, s: &Value, data: &Value, path: &str) -> Res {
    let mut main = Res::default();
    let quoted = gofmt::quote(path);
    let any_of = branches(s, "anyOf");
    if !any_of.is_empty() {
        let (mut best, mut first_success): (Option<Res>, Option<Res>) = (None, None);
        for branch in any_of {
            let r = validate_value(ctx, branch, data, path);
            if r.valid() {
                best = None;
                first_success = Some(r);
                break;
            }
            // Report the failures of the branch that got furthest.
            if best.as_ref().is_none_or(|b| r.matches > b.matches) {
                best = Some(r);
            }
        }
        if first_success.is_none() {
            main.add(composite(format!("{quoted} must validate at least one schema (anyOf)")));
        }
        if let Some(r) = best.or(first_success) {
            main.merge(r);
        }
    }
    let one_of = branches(s, "oneOf");
    if !one_of.is_empty() {
        let (mut best, mut first_success): (Option<Res>, Option<Res>) = (None, None);
        let mut validated = 0;
        for branch in one_of {
            let r = validate_value(ctx, branch, data, path);
            if r.valid() {
                validated += 1;
                best = None;
                first_success.get_or_insert(r);
                continue;
            }
            if validated == 0 && best.as_ref().is_none_or(|b| r.matches > b.matches) {
                best = Some(r);
            }
        }
        if validated != 1 {
            let found = if validated == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {validated} valid alternatives")
            };
            main.add(composite(format!("{quoted} must validate one and only one schema (oneOf). {found}")));
            if let Some(r) = best {
                main.merge(r);
            }
        } else if let Some(r) = first_success {
            main.merge(r);
        }
    }
    let all_of = branches(s, "allOf");
    if !all_of.is_empty() {
        let mut validated = 0;
        for branch in all_of {
            let r = validate_value(ctx, branch, data, path);
            if r.valid() {
                validated += 1;
            }
            main.merge(r);
        }
        if validated != all_of.len() {
            let none = if validated == 0 { ". None validated" } else { "" };
            main.add(composite(format!("{quoted} must validate all the schemas (allOf){none}")));
        }
    }
    if let Some(not) = s.get("not").filter(|v| v.is_object())
        && validate_value(ctx, not, data, path).valid()
    {
        main.add(composite(format!("{quoted} must not validate the schema (not)")));
    }
    main.matches += 1;
    main
}

/// kube-openapi's `stringValidator`: maxLength, minLength, pattern, stopping at the first.
fn string_check(ctx: &mut Ctx, s: &Value, text: &str, path: &str) -> Res {
    let field = field_of(path);
    let length = text.chars().count() as i64;
    if let Some(max) = node::integer(s, "maxLength")
        && length > max
    {
        return Res::err(errors::too_long(&field, max));
    }
    if let Some(min) = node::integer(s, "minLength")
        && length < min
    {
        let message = format!("{path} in {IN} should be at least {min} chars long");
        return Res::err(errors::invalid(&field, Bad::Str(text.to_string()), &message));
    }
    if let Some(pattern) = node::text(s, "pattern").filter(|p| !p.is_empty()) {
        let compiled = ctx.patterns.entry(pattern.to_string()).or_insert_with(|| goregex::compile(pattern));
        let message = match compiled {
            Ok(re) if re.is_match(text) => return Res::default(),
            Ok(_) => format!("{path} in {IN} should match '{pattern}'"),
            Err(e) => format!("{path} in {IN} should match '{pattern}, but pattern is invalid: {e}'"),
        };
        return Res::err(errors::invalid(&field, Bad::Str(text.to_string()), &message));
    }
    Res::default()
}

/// kube-openapi's `numberValidator`: multipleOf, minimum, maximum. Integers are compared with
/// the bound truncated to int64, as `MaximumNativeType` does.
fn number_check(s: &Value, n: Num, path: &str) -> Res {
    let mut res = Res::counted();
    let field = field_of(path);
    let bad = |n: Num| Bad::Num(n);
    if let Some(factor) = node::number(s, "multipleOf") {
        let positive = |f: Num| format!("factor MultipleOf declared for {path} must be positive: {}", f.v());
        let not_multiple = |f: Num| format!("{path} in {IN} should be a multiple of {}", f.v());
        match n {
            Num::Int(i) if (factor as i64) != 0 => {
                let f = factor as i64;
                if f < 0 {
                    res.add(errors::invalid(&field, bad(Num::Int(f)), &positive(Num::Int(f))));
                } else if (i / f) * f != i {
                    res.add(errors::invalid(&field, bad(n), &not_multiple(Num::Int(f))));
                }
            }
            _ => {
                let x = n.as_f64();
                if factor < 0.0 {
                    res.add(errors::invalid(&field, bad(Num::Float(factor)), &positive(Num::Float(factor))));
                } else {
                    let mult = if factor < 1.0 { 1.0 / factor * x } else { x / factor };
                    if !is_json_integer(mult) {
                        res.add(errors::invalid(&field, bad(n), &not_multiple(Num::Float(factor))));
                    }
                }
            }
        }
    }
    for (keyword, exclusive_keyword, lower) in
        [("minimum", "exclusiveMinimum", true), ("maximum", "exclusiveMaximum", false)]
    {
        let Some(bound) = node::number(s, keyword) else { continue };
        let exclusive = node::flag(s, exclusive_keyword);
        let (fails, shown) = match n {
            Num::Int(i) => {
                let b = bound as i64;
                let fails = if lower { i < b || (exclusive && i == b) } else { i > b || (exclusive && i == b) };
                (fails, Num::Int(b))
            }
            Num::Float(x) => {
                let fails =
                    if lower { x < bound || (exclusive && x == bound) } else { x > bound || (exclusive && x == bound) };
                (fails, Num::Float(bound))
            }
        };
        if fails {
            let relation = match (lower, exclusive) {
                (true, false) => "greater than or equal to",
                (true, true) => "greater than",
                (false, false) => "less than or equal to",
                (false, true) => "less than",
            };
            let message = format!("{path} in {IN} should be {relation} {}", shown.v());
            res.add(errors::invalid(&field, bad(n), &message));
        }
    }
    res
}

/// kube-openapi's `schemaSliceValidator`: the items first, then minItems, maxItems, uniqueItems.
fn list_check(ctx: &mut Ctx, s: &Value, list: &[Value], path: &str) -> Res {
    let mut res = Res::default();
    let field = field_of(path);
    match s.get("items") {
        Some(item @ Value::Object(_)) => {
            for (i, x) in list.iter().enumerate() {
                res.merge(validate_value(ctx, item, x, &format!("{path}[{i}]")));
            }
        }
        Some(Value::Array(tuple)) => {
            for (i, (item, x)) in tuple.iter().zip(list).enumerate() {
                res.merge(validate_value(ctx, item, x, &format!("{path}[{i}]")));
            }
        }
        _ => {}
    }
    let size = list.len() as i64;
    if let Some(min) = node::integer(s, "minItems")
        && size < min
    {
        let message = format!("{path} in {IN} should have at least {min} items");
        res.add(errors::invalid(&field, Bad::Num(Num::Int(size)), &message));
    }
    if let Some(max) = node::integer(s, "maxItems")
        && size > max
    {
        res.add(errors::too_many(&field, size, max));
    }
    if node::flag(s, "uniqueItems") && list.iter().enumerate().any(|(i, x)| list[..i].contains(x)) {
        let message = format!("{path} in {IN} shouldn't contain duplicates");
        res.add(errors::invalid(&field, Bad::Str(String::new()), &message));
    }
    res.matches += 1;
    res
}

/// Whether `data` equals an enum value after Go's `reflect` conversion to the enum value's
/// type (so a float matches an integer it truncates to, and null matches nothing).
fn enum_matches(data: &Value, allowed: &Value) -> bool {
    match (data, allowed) {
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Number(d), Value::Number(a)) => match (Num::of(d), Num::of(a)) {
            (Num::Int(x), Num::Int(y)) => x == y,
            (Num::Int(x), Num::Float(y)) => (x as f64) == y,
            (Num::Float(x), Num::Int(y)) => (x as i64) == y,
            (Num::Float(x), Num::Float(y)) => x == y,
        },
        // Go converts an integer to a string as the rune with that code point.
        (Value::Number(d), Value::String(a)) => match Num::of(d) {
            Num::Int(x) => {
                let rune = u32::try_from(x).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
                a.chars().eq(std::iter::once(rune))
            }
            Num::Float(_) => false,
        },
        (d, a) => d == a,
    }
}

/// kube-openapi's `basicCommonValidator`: `enum`, reported as `field.NotSupported` with the
/// allowed values (non-strings as their JSON).
fn enum_check(s: &Value, data: &Value, path: &str) -> Res {
    let allowed = match s.get("enum") {
        Some(Value::Array(values)) if !values.is_empty() => values,
        _ => return Res::default(),
    };
    if allowed.iter().any(|a| enum_matches(data, a)) {
        return Res::default();
    }
    let valid: Vec<String> = allowed
        .iter()
        .map(|a| match a {
            Value::String(s) => s.clone(),
            other => gofmt::json_marshal(other),
        })
        .collect();
    Res::err(errors::not_supported(&field_of(path), Bad::Json(data.clone()), &valid))
}

/// kube-openapi's `objectValidator`: min/maxProperties (which end the check), unknown keys
/// against `additionalProperties`, the properties, then `required`.
fn object_check(ctx: &mut Ctx, s: &Value, map: &Map<String, Value>, path: &str) -> Res {
    let field = field_of(path);
    let count = map.len() as i64;
    if let Some(min) = node::integer(s, "minProperties")
        && count < min
    {
        let message = format!("{path} in {IN} should have at least {min} properties");
        return Res::err(errors::invalid(&field, Bad::Num(Num::Int(count)), &message));
    }
    if let Some(max) = node::integer(s, "maxProperties")
        && count > max
    {
        return Res::err(errors::too_many(&field, count, max));
    }
    let mut res = Res::default();
    let props = node::props(s);
    let known = |k: &str| props.is_some_and(|p| p.contains_key(k));
    match node::additional(s) {
        Additional::Bool(false) => {
            for k in map.keys().filter(|k| !known(k)) {
                let message = format!("{path}.{k} in {IN} is a forbidden property");
                res.add(errors::invalid(&field, Bad::Str(k.clone()), &message));
            }
        }
        Additional::Schema(sub) => {
            for (k, v) in map.iter().filter(|(k, _)| !known(k)) {
                res.merge(validate_value(ctx, sub, v, &format!("{path}.{k}")));
            }
        }
        _ => {}
    }
    if let Some(props) = props {
        for (k, v) in map {
            if let Some(ps) = props.get(k) {
                res.merge(validate_value(ctx, ps, v, &node::child_path(path, k)));
            }
        }
    }
    for k in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if !map.contains_key(k) {
            res.add(errors::required(&field_of(&format!("{path}.{k}")), ""));
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::validate;
    use serde_json::{Value, json};

    fn check(schema: Value, data: Value) -> Vec<String> {
        validate(&schema, &data).iter().map(ToString::to_string).collect()
    }

    fn field(s: Value) -> Value {
        json!({"type": "object", "properties": {"f": s}})
    }

    #[test]
    fn types_nullable_and_integral_floats() {
        let int = field(json!({"type": "integer"}));
        assert_eq!(
            check(int.clone(), json!({"f": 1.5})),
            [r#"f: Invalid value: "number": f in body must be of type integer: "number""#]
        );
        assert!(check(int, json!({"f": 2.0})).is_empty());
        let list = field(json!({"type": "array", "items": {"type": "string"}}));
        assert_eq!(
            check(list, json!({"f": ["a", null]})),
            [r#"f[1]: Invalid value: "null": f[1] in body must be of type string: "null""#]
        );
        let nullable = field(json!({"type": "array", "items": {"type": "string", "nullable": true}}));
        assert!(check(nullable, json!({"f": [null]})).is_empty());
        assert_eq!(
            check(json!({"type": "object"}), json!("x")),
            [r#"<nil>: Invalid value: "string":  in body must be of type object: "string""#]
        );
    }

    #[test]
    fn int_or_string_and_number_formats() {
        let ios = field(json!({"x-kubernetes-int-or-string": true}));
        assert!(check(ios.clone(), json!({"f": "80%"})).is_empty());
        assert!(check(ios.clone(), json!({"f": 80})).is_empty());
        assert_eq!(
            check(ios, json!({"f": true})),
            [r#"f: Invalid value: "boolean": f in body must be of type integer,string: "boolean""#]
        );
        let int32 = field(json!({"type": "integer", "format": "int32"}));
        // The server does not range-check int32; a fraction fails on the format.
        assert!(check(int32.clone(), json!({"f": 3_000_000_000i64})).is_empty());
        assert_eq!(
            check(int32, json!({"f": 1.5})),
            [r#"f: Invalid value: "float64": f in body must be of type int32: "float64""#]
        );
        let when = field(json!({"type": "string", "format": "date-time"}));
        assert!(check(when.clone(), json!({"f": "2024-05-01T10:00:00Z"})).is_empty());
        assert_eq!(
            check(when, json!({"f": "yesterday"})),
            [r#"f: Invalid value: "yesterday": f in body must be of type date-time: "yesterday""#]
        );
    }

    #[test]
    fn string_limits_stop_at_the_first() {
        let s = field(json!({"type": "string", "minLength": 3, "maxLength": 4, "pattern": "^[a-z]+$"}));
        assert_eq!(
            check(s.clone(), json!({"f": "ab"})),
            [r#"f: Invalid value: "ab": f in body should be at least 3 chars long"#]
        );
        assert_eq!(check(s.clone(), json!({"f": "abcde"})), ["f: Too long: may not be more than 4 bytes"]);
        assert_eq!(
            check(s.clone(), json!({"f": "AB1"})),
            [r#"f: Invalid value: "AB1": f in body should match '^[a-z]+$'"#]
        );
        assert!(check(s, json!({"f": "abc"})).is_empty());
    }

    #[test]
    fn number_bounds_and_multiples() {
        let n = field(json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true, "multipleOf": 5}));
        assert_eq!(check(n.clone(), json!({"f": 0})), ["f: Invalid value: 0: f in body should be greater than 0"]);
        assert_eq!(check(n, json!({"f": 7})), ["f: Invalid value: 7: f in body should be a multiple of 5"]);
        let x = field(json!({"type": "number", "maximum": 0.25}));
        assert_eq!(
            check(x, json!({"f": 0.5})),
            ["f: Invalid value: 0.5: f in body should be less than or equal to 0.25"]
        );
    }

    #[test]
    fn list_and_object_sizes() {
        let l = field(json!({"type": "array", "minItems": 1, "maxItems": 1, "items": {"type": "integer"}}));
        assert_eq!(check(l.clone(), json!({"f": []})), ["f: Invalid value: 0: f in body should have at least 1 items"]);
        assert_eq!(check(l, json!({"f": [1, 2]})), ["f: Too many: 2: must have at most 1 items"]);
        let m = field(
            json!({"type": "object", "minProperties": 2, "maxProperties": 3, "additionalProperties": {"type": "string"}}),
        );
        assert_eq!(
            check(m.clone(), json!({"f": {"a": "x"}})),
            ["f: Invalid value: 1: f in body should have at least 2 properties"]
        );
        assert_eq!(
            check(m.clone(), json!({"f": {"a": "1", "b": "2", "c": "3", "d": "4"}})),
            ["f: Too many: 4: must have at most 3 items"]
        );
        assert_eq!(
            check(m, json!({"f": {"a": "x", "b": 2}})),
            [r#"f.b: Invalid value: "integer": f.b in body must be of type string: "integer""#]
        );
    }

    #[test]
    fn enums_required_and_junctors() {
        let e = field(json!({"type": "integer", "enum": [1, 2]}));
        assert_eq!(check(e.clone(), json!({"f": 3})), [r#"f: Unsupported value: 3: supported values: "1", "2""#]);
        assert!(check(e, json!({"f": 1.0})).is_empty());
        let r = json!({"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}});
        assert_eq!(check(r, json!({})), ["spec: Required value"]);
        let any =
            field(json!({"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}));
        assert_eq!(
            check(any, json!({"f": true})),
            [
                r#"f: Invalid value: "boolean": f in body must be of type integer,string: "boolean""#,
                r#"<nil>: Invalid value: "": "f" must validate at least one schema (anyOf)"#,
                r#"f: Invalid value: "boolean": f in body must be of type integer: "boolean""#,
            ]
        );
    }

    #[test]
    fn list_types_and_embedded_resources() {
        let set = field(json!({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}));
        assert_eq!(check(set, json!({"f": ["a", "b", "a", "a"]})), [r#"f[2]: Duplicate value: "a""#]);
        let map = field(json!({
            "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "v": {"type": "integer"}}}
        }));
        assert_eq!(
            check(map, json!({"f": [{"name": "a", "v": 1}, {"name": "b"}, {"name": "a", "v": 2}]})),
            [r#"f[2]: Duplicate value: map[string]interface {}{"name":"a"}"#]
        );
        let embedded = field(
            json!({"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}),
        );
        assert_eq!(
            check(embedded.clone(), json!({"f": {}})),
            ["f.apiVersion: Required value: must not be empty", "f.kind: Required value: must not be empty"]
        );
        assert_eq!(
            check(embedded, json!({"f": {"apiVersion": "v1", "kind": "Con_fig", "metadata": {"namespace": "x"}}})),
            [
                "f.kind: Invalid value: \"Con_fig\": may have mixed case, but should otherwise match: a DNS-1035 label must \
                 consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an \
                 alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
                "f.metadata.namespace: Forbidden: not allowed on this type",
            ]
        );
    }
}
