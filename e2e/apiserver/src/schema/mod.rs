//! OpenAPI v3 schemas of custom resources: validation, pruning, printer-column tables. Pure.
//!
//! Everything here follows kube-apiserver (v1.32) closely enough that kubectl and kube-rs see
//! the same answers and messages as from a real cluster:
//! - [`validate`] checks an object against a CRD version's `openAPIV3Schema` as kube-openapi
//!   and apiextensions do, [`validate_cel`] runs its `x-kubernetes-validations` rules, and
//!   [`validate_all`] does both in the server's order; [`to_status_causes`] and
//!   [`invalid_message`] turn the errors into a 422 Status.
//! - [`prune`] drops unknown fields (reporting them for `fieldValidation`), [`apply_defaults`]
//!   fills in `default`s.
//! - [`table`] and [`builtin_table`] print objects as `meta.k8s.io/v1` Tables for `kubectl get`.

mod builtin_tables;
mod cel;
mod embedded;
mod errors;
mod formats;
mod gofmt;
mod goregex;
mod jsonpath;
mod listtype;
mod node;
mod prune;
mod table;
mod timefmt;
mod validate;

#[cfg(test)]
mod crd_tests;

pub use builtin_tables::builtin_table;
pub use cel::{validate_all, validate_cel};
pub use errors::{FieldError, Reason, invalid_message, invalid_status, to_status_causes};
pub use jsonpath::JsonPath;
pub use prune::{apply_defaults, prune};
pub use table::{IncludeObject, PrinterColumn, table};
pub use validate::validate;

/// `strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`, from [`prune`]'s
/// paths: under `fieldValidation=Strict` the server answers 400 BadRequest with the message
/// `Canary in version "v1beta1" cannot be handled as a Canary: ` followed by this.
pub fn strict_decoding_message(unknown: &[String]) -> String {
    let fields: Vec<String> = unknown.iter().map(|f| unknown_field_warning(f)).collect();
    format!("strict decoding error: {}", fields.join(", "))
}

/// `unknown field "spec.foo"`: one Warning header's text under `fieldValidation=Warn`.
pub fn unknown_field_warning(path: &str) -> String {
    format!("unknown field {}", gofmt::quote(path))
}
