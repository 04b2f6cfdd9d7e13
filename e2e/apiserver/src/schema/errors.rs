//! Field errors as kube-apiserver reports them: the `field.Error` types of
//! k8s.io/apimachinery (their `ErrorBody` text), the causes of a 422 Status and its message.

use super::gofmt::{self, Num};
use serde_json::{Map, Value, json};
use std::fmt;

/// Why a field is invalid: the `reason` of a Status cause (`field.ErrorType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// `FieldValueInvalid`: malformed or out of range ("Invalid value").
    FieldValueInvalid,
    /// `FieldValueRequired`: missing ("Required value").
    FieldValueRequired,
    /// `FieldValueNotSupported`: not one of an enum ("Unsupported value").
    FieldValueNotSupported,
    /// `FieldValueTypeInvalid`: of the wrong JSON type ("Invalid value").
    FieldValueTypeInvalid,
    /// `FieldValueDuplicate`: repeated in a set or map list ("Duplicate value").
    FieldValueDuplicate,
    /// `FieldValueTooLong`: a string over maxLength ("Too long").
    FieldValueTooLong,
    /// `FieldValueTooMany`: over maxItems or maxProperties ("Too many").
    FieldValueTooMany,
    /// `FieldValueForbidden`: a CEL rule with `reason: FieldValueForbidden` ("Forbidden").
    FieldValueForbidden,
    /// `InternalError`: the server could not evaluate something ("Internal error").
    InternalError,
}

impl Reason {
    /// The cause type as it appears in the Status (`FieldValueInvalid`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::FieldValueInvalid => "FieldValueInvalid",
            Reason::FieldValueRequired => "FieldValueRequired",
            Reason::FieldValueNotSupported => "FieldValueNotSupported",
            Reason::FieldValueTypeInvalid => "FieldValueTypeInvalid",
            Reason::FieldValueDuplicate => "FieldValueDuplicate",
            Reason::FieldValueTooLong => "FieldValueTooLong",
            Reason::FieldValueTooMany => "FieldValueTooMany",
            Reason::FieldValueForbidden => "FieldValueForbidden",
            Reason::InternalError => "InternalError",
        }
    }

    /// The canonical text that starts the message (`ErrorType.String()`).
    fn text(self) -> &'static str {
        match self {
            Reason::FieldValueInvalid | Reason::FieldValueTypeInvalid => "Invalid value",
            Reason::FieldValueRequired => "Required value",
            Reason::FieldValueNotSupported => "Unsupported value",
            Reason::FieldValueDuplicate => "Duplicate value",
            Reason::FieldValueTooLong => "Too long",
            Reason::FieldValueTooMany => "Too many",
            Reason::FieldValueForbidden => "Forbidden",
            Reason::InternalError => "Internal error",
        }
    }

    /// Parses a cause type, as a CEL rule's `reason` names one.
    pub fn parse(s: &str) -> Option<Reason> {
        Some(match s {
            "FieldValueInvalid" => Reason::FieldValueInvalid,
            "FieldValueRequired" => Reason::FieldValueRequired,
            "FieldValueNotSupported" => Reason::FieldValueNotSupported,
            "FieldValueTypeInvalid" => Reason::FieldValueTypeInvalid,
            "FieldValueDuplicate" => Reason::FieldValueDuplicate,
            "FieldValueTooLong" => Reason::FieldValueTooLong,
            "FieldValueTooMany" => Reason::FieldValueTooMany,
            "FieldValueForbidden" => Reason::FieldValueForbidden,
            "InternalError" => Reason::InternalError,
            _ => return None,
        })
    }
}

/// One invalid field: the path (`spec.analysis.stepWeight`, or `<nil>` for the object as a
/// whole), why, and the message exactly as kube-apiserver words it, without the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field path, e.g. `spec.analysis.stepWeight` or `spec.hosts[0]`; `<nil>` when the
    /// error is about no particular field (as Go prints a nil `*field.Path`).
    pub field: String,
    /// The cause type.
    pub reason: Reason,
    /// The body, e.g. `Invalid value: 150: spec.analysis.stepWeight in body should be less
    /// than or equal to 100` or `Required value`.
    pub message: String,
}

impl fmt::Display for FieldError {
    /// `field: message`, as `field.Error.Error()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The offending value of an error, printed the way `ErrorBody` prints Go values.
#[derive(Clone, Debug)]
pub(crate) enum Bad {
    /// `field.OmitValueType`: nothing printed.
    Omit,
    /// A Go string, printed quoted.
    Str(String),
    /// A Go int64 or float64, printed with `%v`.
    Num(Num),
    /// A value from the object: scalars as their Go type, maps and lists with `%#v`.
    Json(Value),
    /// Text already in Go syntax.
    Raw(String),
}

impl Bad {
    fn render(&self) -> Option<String> {
        Some(match self {
            Bad::Omit => return None,
            Bad::Str(s) => gofmt::quote(s),
            Bad::Num(n) => n.v(),
            Bad::Raw(text) => text.clone(),
            Bad::Json(v) => match v {
                // A nil value prints as the string "null", quoted.
                Value::Null => gofmt::quote("null"),
                Value::String(s) => gofmt::quote(s),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => Num::of(n).v(),
                other => gofmt::sharp_v(other),
            },
        })
    }
}

/// Builds a field error like the constructors of k8s.io/apimachinery/pkg/util/validation/field.
pub(crate) fn make(field: &str, reason: Reason, bad: Bad, detail: &str) -> FieldError {
    // Required, Forbidden, TooLong and Internal never print the value.
    let shows_value = !matches!(
        reason,
        Reason::FieldValueRequired | Reason::FieldValueForbidden | Reason::FieldValueTooLong | Reason::InternalError
    );
    let mut message = reason.text().to_string();
    if shows_value && let Some(v) = bad.render() {
        message = format!("{message}: {v}");
    }
    if !detail.is_empty() {
        message = format!("{message}: {detail}");
    }
    FieldError { field: field.to_string(), reason, message }
}

/// `field.Invalid`.
pub(crate) fn invalid(field: &str, bad: Bad, detail: &str) -> FieldError {
    make(field, Reason::FieldValueInvalid, bad, detail)
}

/// `field.Required`.
pub(crate) fn required(field: &str, detail: &str) -> FieldError {
    make(field, Reason::FieldValueRequired, Bad::Omit, detail)
}

/// `field.Duplicate`.
pub(crate) fn duplicate(field: &str, bad: Bad) -> FieldError {
    make(field, Reason::FieldValueDuplicate, bad, "")
}

/// `field.TooLong` (the value is never shown; a negative max says "value is too long").
pub(crate) fn too_long(field: &str, max: i64) -> FieldError {
    let detail = if max >= 0 { format!("may not be more than {max} bytes") } else { "value is too long".into() };
    make(field, Reason::FieldValueTooLong, Bad::Omit, &detail)
}

/// `field.TooMany`.
pub(crate) fn too_many(field: &str, actual: i64, max: i64) -> FieldError {
    let detail = if max >= 0 { format!("must have at most {max} items") } else { "too many items".into() };
    let bad = if actual >= 0 { Bad::Num(Num::Int(actual)) } else { Bad::Omit };
    make(field, Reason::FieldValueTooMany, bad, &detail)
}

/// `field.NotSupported`: the valid values are quoted with `strconv.Quote`.
pub(crate) fn not_supported(field: &str, bad: Bad, valid: &[String]) -> FieldError {
    let detail = if valid.is_empty() {
        String::new()
    } else {
        let quoted: Vec<String> = valid.iter().map(|v| gofmt::quote(v)).collect();
        format!("supported values: {}", quoted.join(", "))
    };
    make(field, Reason::FieldValueNotSupported, bad, &detail)
}

/// The `details.causes` of a 422 Status: `{"reason", "message", "field"}` per error, as
/// `errors.NewInvalid` builds them (`message` is the body without the field path).
pub fn to_status_causes(errors: &[FieldError]) -> Vec<Value> {
    errors
        .iter()
        .map(|e| {
            let mut cause = Map::new();
            cause.insert("reason".into(), json!(e.reason.as_str()));
            cause.insert("message".into(), json!(e.message));
            cause.insert("field".into(), json!(e.field));
            Value::Object(cause)
        })
        .collect()
}

/// The Status message of a rejected object, as `errors.NewInvalid` words it:
/// `Canary.fledge.dev "podinfo" is invalid: [a: …, b: …]`; one error without brackets, none
/// without the colon. Repeated messages are printed once, as the aggregate does.
/// `kind` is the qualified kind (`Kind.group`, or just `Kind` for the core group).
pub fn invalid_message(kind: &str, name: &str, errors: &[FieldError]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errors {
        let text = e.to_string();
        if !seen.contains(&text) {
            seen.push(text);
        }
    }
    let head = format!("{kind} {} is invalid", gofmt::quote(name));
    match seen.len() {
        0 => head,
        1 => format!("{head}: {}", seen[0]),
        _ => format!("{head}: [{}]", seen.join(", ")),
    }
}

/// The 422 `Status` object for a rejected object, ready to send.
/// `group` may be empty for the core group; `kind` is the bare kind.
#[cfg(test)]
pub fn invalid_status(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Value {
    let qualified = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
    let mut details = Map::new();
    details.insert("name".into(), json!(name));
    // Go omits an empty group.
    if !group.is_empty() {
        details.insert("group".into(), json!(group));
    }
    details.insert("kind".into(), json!(kind));
    details.insert("causes".into(), Value::Array(to_status_causes(errors)));
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": invalid_message(&qualified, name, errors),
        "reason": "Invalid",
        "details": details,
        "code": 422
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stepweight() -> FieldError {
        FieldError {
            field: "spec.analysis.stepWeight".into(),
            reason: Reason::FieldValueInvalid,
            message: "Invalid value: 150: spec.analysis.stepWeight in body should be less than or equal to 100".into(),
        }
    }

    #[test]
    fn bodies_follow_error_body() {
        assert_eq!(required("spec.x", "").message, "Required value");
        assert_eq!(too_long("spec.x", 5).message, "Too long: may not be more than 5 bytes");
        assert_eq!(too_many("spec.x", 4, 3).message, "Too many: 4: must have at most 3 items");
        assert_eq!(invalid("spec.x", Bad::Json(Value::Null), "d").message, r#"Invalid value: "null": d"#);
        assert_eq!(
            not_supported("spec.x", Bad::Str("foo".into()), &["a".into(), "b".into()]).message,
            r#"Unsupported value: "foo": supported values: "a", "b""#
        );
        assert_eq!(
            duplicate("spec.x[1]", Bad::Json(json!({"name": "a"}))).message,
            r#"Duplicate value: map[string]interface {}{"name":"a"}"#
        );
        assert_eq!(invalid("spec.x", Bad::Omit, "d").message, "Invalid value: d");
    }

    #[test]
    fn message_brackets_only_several_errors() {
        let one = [stepweight()];
        assert_eq!(
            invalid_message("Canary.fledge.dev", "podinfo", &one),
            "Canary.fledge.dev \"podinfo\" is invalid: spec.analysis.stepWeight: Invalid value: 150: \
             spec.analysis.stepWeight in body should be less than or equal to 100"
        );
        let two = [stepweight(), required("spec.targetRef", ""), stepweight()];
        assert_eq!(
            invalid_message("Canary.fledge.dev", "podinfo", &two),
            "Canary.fledge.dev \"podinfo\" is invalid: [spec.analysis.stepWeight: Invalid value: 150: \
             spec.analysis.stepWeight in body should be less than or equal to 100, spec.targetRef: Required value]"
        );
        assert_eq!(invalid_message("Canary.fledge.dev", "p", &[]), "Canary.fledge.dev \"p\" is invalid");
    }

    #[test]
    fn causes_carry_reason_message_field() {
        let causes = to_status_causes(&[required("spec.targetRef", "")]);
        assert_eq!(
            causes,
            vec![json!({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.targetRef"})]
        );
        let status = invalid_status("fledge.dev", "Canary", "p", &[required("spec.targetRef", "")]);
        assert_eq!(status["code"], 422);
        assert_eq!(status["details"]["causes"][0]["field"], "spec.targetRef");
        assert_eq!(status["message"], "Canary.fledge.dev \"p\" is invalid: spec.targetRef: Required value");
        let core = invalid_status("", "ConfigMap", "c", &[]);
        assert!(core["details"].get("group").is_none());
        assert_eq!(core["message"], "ConfigMap \"c\" is invalid");
    }
}
