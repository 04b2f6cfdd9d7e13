//! Server-side printing: the `Table` kubectl asks for with `as=Table`, from a CRD's printer
//! columns or a built-in kind's columns.

use super::registry::ResourceType;
use super::schema::{self, IncludeObject, PrinterColumn};
use serde_json::Value;

/// A Table of objects of one type.
pub fn table_for(rt: &ResourceType, objects: &[Value], now: i64, include: IncludeObject) -> Value {
    if rt.custom {
        let columns: Vec<PrinterColumn> = rt.printer_columns.iter().filter_map(PrinterColumn::from_value).collect();
        schema::table(&columns, objects, now, include)
    } else {
        schema::builtin_table(&rt.kind, objects, now, include)
    }
}
