//! OpenAPI v3 schemas of custom resources: validation, pruning, printer-column tables. Pure.
