//! OpenAPI v3 schemas of custom resources: validation, pruning, printer-column tables. Pure.
//!
//! Everything here follows kube-apiserver (v1.32) closely enough that kubectl and kube-rs see
//! the same answers and messages as from a real cluster:
//! - [`validate`] checks an object against a CRD version's `openAPIV3Schema` as kube-openapi
//!   and apiextensions do, [`validate_cel`](cel::validate_cel) runs its `x-kubernetes-validations` rules, and
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
pub use cel::validate_all;
#[cfg(test)]
pub use cel::validate_cel;
#[cfg(test)]
pub use errors::{FieldError, Reason};
pub use errors::{invalid_message, to_status_causes};
pub use prune::{apply_defaults, prune};
pub use table::{IncludeObject, PrinterColumn, table};
#[cfg(test)]
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
