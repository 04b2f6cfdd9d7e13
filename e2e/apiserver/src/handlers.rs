//! The HTTP handler: routes a request to discovery or to a verb on a resource.

use super::errors::ApiError;
use super::faults::Fault;
use super::objects::{self, Part, Propagation};
use super::registry::ResourceType;
use super::request::{FieldSelector, LabelSelector, Target, flag, parse_target, query_map};
use super::watch::{self, WatchRequest};
use super::{Cluster, convert, discovery, openapi};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

fn json_response(code: StatusCode, value: &Value) -> Response {
    (code, [("content-type", "application/json")], value.to_string()).into_response()
}

fn ok(value: &Value) -> Response {
    json_response(StatusCode::OK, value)
}

/// Every request comes here.
pub async fn handle(
    State(cluster): State<Cluster>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let write = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    cluster.counts.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if write {
        cluster.counts.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    match cluster.faults.draw(write) {
        Fault::Fail(409) => return ApiError::conflict("injected", "fault").into_response(),
        Fault::Fail(code) => {
            let mut e = ApiError::internal(format!("injected failure ({code})"));
            e.code = code;
            return e.into_response();
        }
        Fault::Stall(d) => tokio::time::sleep(d).await,
        Fault::None => {}
    }
    let path = uri.path();
    let query = query_map(uri.query());
    let result = match (method.clone(), path) {
        (Method::GET, "/version") => Ok(ok(&discovery::version())),
        (Method::GET, "/healthz" | "/livez" | "/readyz") => Ok((StatusCode::OK, "ok").into_response()),
        (Method::GET, "/metrics") => {
            // Whatever was plugged in beside the API (the sandbox's mesh), for Prometheus to scrape.
            let text = cluster.metrics.as_ref().map(|m| m.render()).unwrap_or_default();
            Ok((StatusCode::OK, [("content-type", "text/plain; version=0.0.4")], text).into_response())
        }
        (Method::GET, "/api") => Ok(ok(&discovery::core_versions())),
        (Method::GET, "/apis") => Ok(ok(&discovery::groups(&cluster.registry))),
        (Method::GET, p) if p.starts_with("/openapi/") => openapi::serve(&cluster.registry, p).map(|v| ok(&v)),
        (Method::GET, p) if discovery_path(p).is_some() => {
            let (group, version) = discovery_path(p).unwrap_or_default();
            match version {
                None => discovery::group(&cluster.registry, &group).map(|v| ok(&v)).ok_or_else(ApiError::no_route),
                Some(version) => discovery::resources(&cluster.registry, &group, &version)
                    .map(|v| ok(&v))
                    .ok_or_else(ApiError::no_route),
            }
        }
        _ => match parse_target(&cluster.registry, path) {
            Ok(target) => resource(&cluster, method, target, &query, &headers, body).await,
            Err(e) => Err(e),
        },
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `/api/v1` → ("", Some("v1")); `/apis/apps` → ("apps", None); `/apis/apps/v1` → ("apps", Some("v1")).
fn discovery_path(path: &str) -> Option<(String, Option<String>)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", version] => Some((String::new(), Some((*version).to_owned()))),
        ["apis", group] => Some(((*group).to_owned(), None)),
        ["apis", group, version] => Some(((*group).to_owned(), Some((*version).to_owned()))),
        _ => None,
    }
}

async fn resource(
    cluster: &Cluster,
    method: Method,
    target: Target,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let sub = target.sub.as_deref();
    // The all-namespaces path of a namespaced kind only lists and watches.
    if target.rt.namespaced && target.namespace.is_none() && method != Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    // Subresources exist only where the type declares them.
    match sub {
        None => {}
        Some("status") if target.rt.status => {}
        Some("scale") if target.rt.scale.is_some() => {}
        Some("log") if target.rt.log => {}
        Some(_) => return Err(ApiError::no_route()),
    }
    match (method, target.name.is_some(), sub) {
        (Method::GET, false, None) if flag(query, "watch") => watch(cluster, &target, query, headers),
        (Method::GET, false, None) => list(cluster, &target, query, headers),
        (Method::GET, true, None | Some("status")) => get(cluster, &target, query, headers),
        (Method::GET, true, Some("scale")) => scale_get(cluster, &target),
        (Method::GET, true, Some("log")) if target.rt.log => logs(cluster, &target, query).await,
        (Method::POST, false, None) => create(cluster, &target, query, headers, &parse_body(&body, headers)?),
        (Method::PUT, true, None | Some("status")) => {
            update(cluster, &target, query, headers, parse_body(&body, headers)?)
        }
        (Method::PUT, true, Some("scale")) => scale_update(cluster, &target, query, &parse_body(&body, headers)?),
        (Method::PATCH, true, None | Some("status") | Some("scale")) => patch(cluster, &target, query, headers, &body),
        (Method::DELETE, true, None) => delete(cluster, &target, query, &body),
        (Method::DELETE, false, None) => delete_collection(cluster, &target, query),
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn parse_body(body: &Bytes, headers: &HeaderMap) -> Result<Value, ApiError> {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    if content_type.contains("protobuf") || content_type.contains("cbor") {
        // The sandbox speaks JSON only; client-go retries with JSON after a 415.
        return Err(ApiError::unsupported_media_type(content_type));
    }
    if content_type.contains("yaml") {
        return serde_norway::from_slice(body).map_err(|e| ApiError::bad_request(format!("the body is not YAML: {e}")));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))
}

fn manager(query: &HashMap<String, String>, headers: &HeaderMap) -> String {
    query.get("fieldManager").cloned().unwrap_or_else(|| {
        // Kubernetes names an unnamed writer after its user agent's program name.
        let agent = headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("unknown");
        agent.split('/').next().unwrap_or("unknown").to_owned()
    })
}

fn dry_run(query: &HashMap<String, String>) -> bool {
    query.get("dryRun").is_some_and(|v| v == "All")
}

fn served(rt: &ResourceType, object: &Value) -> Value {
    convert::to_version(rt, object.clone())
}

fn ensure_namespace(cluster: &Cluster, target: &Target) -> Result<(), ApiError> {
    if !target.rt.namespaced {
        return Ok(());
    }
    let ns = target.namespace.as_deref().unwrap_or("default");
    let Some(ns_type) = cluster.registry.get("", "v1", "namespaces") else { return Ok(()) };
    match cluster.store.get(&objects::key(&ns_type, None, ns)) {
        None => Err(ApiError::not_found("namespaces", ns)),
        Some(n) if n.pointer("/metadata/deletionTimestamp").is_some() => Err(ApiError {
            code: 403,
            reason: "Forbidden",
            message: format!(
                "{} \"\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                target.rt.plural
            ),
            details: None,
        }),
        Some(_) => Ok(()),
    }
}

/// The object a request names, its store key and name, or NotFound in the server's words.
fn current(cluster: &Cluster, target: &Target) -> Result<(String, super::store::Key, std::sync::Arc<Value>), ApiError> {
    let name = target.name.clone().unwrap_or_default();
    let key = objects::key(&target.rt, target.namespace.as_deref(), &name);
    match cluster.store.get(&key) {
        Some(object) => Ok((name, key, object)),
        None => Err(ApiError::not_found(&target.rt.qualified_resource(), &name)),
    }
}

fn include_object(query: &HashMap<String, String>) -> Result<super::schema::IncludeObject, ApiError> {
    super::schema::IncludeObject::parse(query.get("includeObject").map(String::as_str)).map_err(ApiError::bad_request)
}

fn get(
    cluster: &Cluster,
    target: &Target,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let (_, _, object) = current(cluster, target)?;
    if wants_table(headers) {
        let table =
            super::tables::table_for(&target.rt, &[served(&target.rt, &object)], now_unix(), include_object(query)?);
        return Ok(ok(&table));
    }
    Ok(ok(&served(&target.rt, &object)))
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers.get("accept").and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("as=Table"))
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

fn selected(target: &Target, query: &HashMap<String, String>) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or_default())?;
    let fields =
        FieldSelector::parse(query.get("fieldSelector").map(String::as_str).unwrap_or_default(), &target.rt.kind)?;
    Ok((labels, fields))
}

fn list(
    cluster: &Cluster,
    target: &Target,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let (labels, fields) = selected(target, query)?;
    let (items, rv) = cluster.store.list(&target.rt.storage_group(), &target.rt.plural, target.namespace.as_deref());
    let items: Vec<Value> = items
        .iter()
        .filter(|o| labels.matches(o.pointer("/metadata/labels").and_then(Value::as_object)) && fields.matches(o))
        .map(|o| served(&target.rt, o))
        .collect();
    // `limit` is a hint a server may ignore: one consistent page at one resourceVersion is
    // always correct, where offsets into a changing list would skip or repeat items.
    let metadata = json!({"resourceVersion": rv.to_string()});
    if wants_table(headers) {
        let mut table = super::tables::table_for(&target.rt, &items, now_unix(), include_object(query)?);
        table["metadata"] = metadata;
        return Ok(ok(&table));
    }
    Ok(ok(&json!({
        "kind": format!("{}List", target.rt.kind),
        "apiVersion": target.rt.api_version(),
        "metadata": metadata,
        "items": items,
    })))
}

fn watch(
    cluster: &Cluster,
    target: &Target,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let (labels, fields) = selected(target, query)?;
    let resource_version = match query.get("resourceVersion").map(String::as_str) {
        None | Some("") => None,
        Some(rv) => {
            Some(rv.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?)
        }
    };
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let request = WatchRequest {
        rt: target.rt.clone(),
        namespace: target.namespace.clone(),
        labels,
        fields,
        resource_version,
        send_initial_events: flag(query, "sendInitialEvents"),
        bookmarks: flag(query, "allowWatchBookmarks"),
        timeout,
        table: if wants_table(headers) { Some(include_object(query)?) } else { None },
    };
    match watch::start(&cluster.store, cluster.stops.subscribe(), request) {
        Ok(stream) => {
            Ok((StatusCode::OK, [("content-type", "application/json")], Body::from_stream(stream)).into_response())
        }
        // The real server answers a too-old version inside a 200 stream, as an ERROR event.
        Err(e) => {
            let line = format!("{}\n", json!({"type": "ERROR", "object": e.status()}));
            Ok((StatusCode::OK, [("content-type", "application/json")], line).into_response())
        }
    }
}

/// Validates, prunes and records managed fields of an object about to be written.
fn admit(
    target: &Target,
    old: Option<&Value>,
    mut object: Value,
    query: &HashMap<String, String>,
    manager: &str,
    operation: &str,
) -> Result<(Value, Vec<String>), ApiError> {
    let name = objects::name_of(&object).unwrap_or_default().to_owned();
    let warnings =
        super::admission::admit(&target.rt, &name, old, &mut object, query.get("fieldValidation").map(String::as_str))?;
    let subresource = target.sub.as_deref().filter(|s| *s == "status");
    let object = super::patching::record(&target.rt, old, object, manager, operation, subresource);
    Ok((object, warnings))
}

fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for w in warnings {
        if let Ok(value) = format!("299 - \"{}\"", w.replace('"', "'")).parse() {
            response.headers_mut().append("warning", value);
        }
    }
    response
}

fn create(
    cluster: &Cluster,
    target: &Target,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Value,
) -> Result<Response, ApiError> {
    ensure_namespace(cluster, target)?;
    let body = convert::to_storage(&target.rt, body.clone());
    let object = objects::prepare_create(&target.rt, target.namespace.as_deref(), body)?;
    let manager = manager(query, headers);
    let (object, warnings) = admit(target, None, object, query, &manager, "Update")?;
    let object = super::lifecycle::on_create(cluster, &target.rt, object)?;
    let name = objects::name_of(&object).unwrap_or_default().to_owned();
    if dry_run(query) {
        return Ok(with_warnings(json_response(StatusCode::CREATED, &served(&target.rt, &object)), &warnings));
    }
    let key = objects::key(&target.rt, target.namespace.as_deref(), &name);
    let qualified = target.rt.qualified_resource();
    let stored = cluster
        .store
        .write(&key, |current, _| {
            if current.is_some() { Err(ApiError::already_exists(&qualified, &name)) } else { Ok(Some(object)) }
        })?
        .ok_or_else(|| ApiError::internal("the object was not stored"))?;
    super::lifecycle::after_write(cluster, &target.rt, &stored);
    Ok(with_warnings(json_response(StatusCode::CREATED, &served(&target.rt, &stored)), &warnings))
}

fn part_of(target: &Target) -> Part {
    if target.sub.as_deref() == Some("status") { Part::Status } else { Part::Main }
}

fn update(
    cluster: &Cluster,
    target: &Target,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Value,
) -> Result<Response, ApiError> {
    let name = target.name.clone().unwrap_or_default();
    let manager = manager(query, headers);
    // Custom resources (and CRDs) allow no unconditional update.
    let unconditional = body.pointer("/metadata/resourceVersion").and_then(Value::as_str).is_none_or(str::is_empty);
    if unconditional && (target.rt.custom || target.rt.kind == "CustomResourceDefinition") {
        let message = format!(
            "{} \"{name}\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
            target.rt.qualified_kind()
        );
        let cause = json!({"reason": "FieldValueInvalid", "message": "Invalid value: 0x0: must be specified for an update", "field": "metadata.resourceVersion"});
        return Err(ApiError::invalid(&target.rt.qualified_kind(), &name, message, vec![cause]));
    }
    let body = convert::to_storage(&target.rt, body);
    write_existing(cluster, target, query, |current| {
        let next = objects::merge_update(&target.rt, current, body, part_of(target))?;
        admit(target, Some(current), next, query, &manager, "Update")
    })
}

fn patch(
    cluster: &Cluster,
    target: &Target,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let kind = super::patching::kind_from_content_type(&content_type)
        .ok_or_else(|| ApiError::unsupported_media_type(&content_type))?;
    let patch_body = parse_body(body, headers)?;
    if target.sub.as_deref() == Some("scale") {
        return scale_patch(cluster, target, query, kind, &patch_body);
    }
    let name = target.name.clone().unwrap_or_default();
    let key = objects::key(&target.rt, target.namespace.as_deref(), &name);
    let manager = manager(query, headers);
    let force = flag(query, "force");
    let dry = dry_run(query);
    let is_apply = kind == super::patching::PatchKind::Apply;
    if is_apply && cluster.store.get(&key).is_none() {
        // Server-side apply of an object that does not exist creates it.
        ensure_namespace(cluster, target)?;
        let applied = convert::to_storage(&target.rt, patch_body.clone());
        let owned = super::patching::apply_new(&target.rt, &applied, &manager)?;
        let object = objects::prepare_create(&target.rt, target.namespace.as_deref(), owned)?;
        let (object, warnings) = admit(target, None, object, query, &manager, "Apply")?;
        let object = super::lifecycle::on_create(cluster, &target.rt, object)?;
        if dry {
            return Ok(with_warnings(json_response(StatusCode::CREATED, &served(&target.rt, &object)), &warnings));
        }
        let qualified = target.rt.qualified_resource();
        let stored =
            cluster
                .store
                .write(&key, |current, _| {
                    if current.is_some() { Err(ApiError::conflict(&qualified, &name)) } else { Ok(Some(object)) }
                })?
                .ok_or_else(|| ApiError::internal("the object was not stored"))?;
        super::lifecycle::after_write(cluster, &target.rt, &stored);
        return Ok(with_warnings(json_response(StatusCode::CREATED, &served(&target.rt, &stored)), &warnings));
    }
    write_existing(cluster, target, query, |current| {
        let served_current = served(&target.rt, current);
        let subresource = target.sub.as_deref().filter(|s| *s == "status");
        let patched =
            super::patching::patch(&target.rt, &served_current, kind, &patch_body, &manager, force, subresource)?;
        let patched = convert::to_storage(&target.rt, patched);
        let next = objects::merge_update(&target.rt, current, patched, part_of(target))?;
        if !is_apply {
            return admit(target, Some(current), next, query, &manager, "Update");
        }
        // Server-side apply has recorded its managed fields already.
        let mut next = next;
        let field_validation = query.get("fieldValidation").map(String::as_str);
        let warnings = super::admission::admit(&target.rt, &name, Some(current), &mut next, field_validation)?;
        Ok((next, warnings))
    })
}

/// Writes an existing object through `next`, which turns the current object into the new one
/// with the warnings for the response. A dry run answers what would be stored; a real one
/// stores it and lets the control plane react.
fn write_existing(
    cluster: &Cluster,
    target: &Target,
    query: &HashMap<String, String>,
    next: impl FnOnce(&Value) -> Result<(Value, Vec<String>), ApiError>,
) -> Result<Response, ApiError> {
    let name = target.name.clone().unwrap_or_default();
    let key = objects::key(&target.rt, target.namespace.as_deref(), &name);
    let not_found = || ApiError::not_found(&target.rt.qualified_resource(), &name);
    let dry = dry_run(query);
    let mut warnings = Vec::new();
    let mut preview = None;
    let stored = cluster.store.write(&key, |current, _| {
        let (object, w) = next(current.ok_or_else(not_found)?)?;
        warnings = w;
        if dry {
            preview = Some(object);
            return Ok(None);
        }
        Ok(Some(object))
    })?;
    if let Some(preview) = preview {
        return Ok(with_warnings(ok(&served(&target.rt, &preview)), &warnings));
    }
    let stored = stored.ok_or_else(not_found)?;
    super::lifecycle::after_write(cluster, &target.rt, &stored);
    objects::finish_deletion_if_due(&cluster.store, &key);
    Ok(with_warnings(ok(&served(&target.rt, &stored)), &warnings))
}

fn propagation(query: &HashMap<String, String>, body: &Bytes) -> Propagation {
    let from_body = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|b| b.get("propagationPolicy").and_then(Value::as_str).map(str::to_owned));
    match query.get("propagationPolicy").cloned().or(from_body).as_deref() {
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        _ => Propagation::Background,
    }
}

fn delete(
    cluster: &Cluster,
    target: &Target,
    query: &HashMap<String, String>,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let (name, key, current) = current(cluster, target)?;
    if dry_run(query) {
        return Ok(ok(&served(&target.rt, &current)));
    }
    if target.rt.group.is_empty() && target.rt.kind == "Namespace" {
        let marked = objects::terminate_namespace(&cluster.store, &key).unwrap_or(current);
        return Ok(ok(&served(&target.rt, &marked)));
    }
    super::lifecycle::before_delete(cluster, &target.rt, &current);
    let last = objects::delete(&cluster.store, &key, propagation(query, body)).unwrap_or(current);
    super::lifecycle::after_delete(cluster, &target.rt, &last);
    let still_there = cluster.store.get(&key).is_some();
    // Kubernetes answers an immediate deletion with a Status, except for the kinds whose
    // storage returns the deleted object.
    let returns_object =
        target.rt.group.is_empty() && matches!(target.rt.kind.as_str(), "Pod" | "Service" | "Namespace");
    if !still_there && !returns_object {
        return Ok(ok(&json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": name, "group": target.rt.group, "kind": target.rt.plural, "uid": last["metadata"]["uid"]},
        })));
    }
    Ok(ok(&served(&target.rt, &last)))
}

fn delete_collection(
    cluster: &Cluster,
    target: &Target,
    query: &HashMap<String, String>,
) -> Result<Response, ApiError> {
    let (labels, fields) = selected(target, query)?;
    let (items, _) = cluster.store.list(&target.rt.storage_group(), &target.rt.plural, target.namespace.as_deref());
    let mut deleted = Vec::new();
    for object in items
        .iter()
        .filter(|o| labels.matches(o.pointer("/metadata/labels").and_then(Value::as_object)) && fields.matches(o))
    {
        let name = objects::name_of(object).unwrap_or_default();
        let ns = object.pointer("/metadata/namespace").and_then(Value::as_str);
        let key = objects::key(&target.rt, ns, name);
        super::lifecycle::before_delete(cluster, &target.rt, object);
        if let Some(last) = objects::delete(&cluster.store, &key, propagation(query, &Bytes::new())) {
            super::lifecycle::after_delete(cluster, &target.rt, &last);
            deleted.push(served(&target.rt, &last));
        }
    }
    Ok(ok(
        &json!({"kind": format!("{}List", target.rt.kind), "apiVersion": target.rt.api_version(), "metadata": {}, "items": deleted}),
    ))
}

fn scale_of(rt: &ResourceType, object: &Value) -> Result<Value, ApiError> {
    let paths = rt.scale.as_ref().ok_or_else(ApiError::no_route)?;
    let at = |path: &str| object.pointer(&path.replace('.', "/")).cloned();
    let selector = paths.label_selector.as_deref().and_then(at).unwrap_or(json!(""));
    let meta = &object["metadata"];
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": at(&paths.spec_replicas).unwrap_or(json!(0))},
        "status": {"replicas": at(&paths.status_replicas).unwrap_or(json!(0)), "selector": selector},
    }))
}

fn scale_get(cluster: &Cluster, target: &Target) -> Result<Response, ApiError> {
    let (_, _, object) = current(cluster, target)?;
    Ok(ok(&scale_of(&target.rt, &object)?))
}

fn set_replicas(
    cluster: &Cluster,
    target: &Target,
    replicas: Value,
    expected_rv: Option<String>,
) -> Result<Response, ApiError> {
    let name = target.name.clone().unwrap_or_default();
    let key = objects::key(&target.rt, target.namespace.as_deref(), &name);
    let paths = target.rt.scale.clone().ok_or_else(ApiError::no_route)?;
    if !replicas.is_i64() {
        return Err(ApiError::bad_request("spec.replicas of a Scale must be an integer"));
    }
    let stored = cluster.store.write(&key, |current, _| {
        let current = current.ok_or_else(|| ApiError::not_found(&target.rt.qualified_resource(), &name))?;
        if let Some(rv) = &expected_rv
            && current.pointer("/metadata/resourceVersion").and_then(Value::as_str) != Some(rv.as_str())
        {
            return Err(ApiError::conflict(&target.rt.qualified_resource(), &name));
        }
        let mut next = current.clone();
        let pointer = paths.spec_replicas.replace('.', "/");
        match next.pointer_mut(&pointer) {
            Some(slot) => *slot = replicas.clone(),
            None => next["spec"]["replicas"] = replicas.clone(),
        }
        let generation = current.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
        if next != *current {
            next["metadata"]["generation"] = json!(generation + 1);
        }
        Ok(Some(next))
    })?;
    let stored = stored.ok_or_else(|| ApiError::not_found(&target.rt.qualified_resource(), &name))?;
    super::lifecycle::after_write(cluster, &target.rt, &stored);
    Ok(ok(&scale_of(&target.rt, &stored)?))
}

fn scale_update(
    cluster: &Cluster,
    target: &Target,
    _query: &HashMap<String, String>,
    body: &Value,
) -> Result<Response, ApiError> {
    let rv =
        body.pointer("/metadata/resourceVersion").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    set_replicas(cluster, target, body.pointer("/spec/replicas").cloned().unwrap_or(json!(null)), rv)
}

fn scale_patch(
    cluster: &Cluster,
    target: &Target,
    _query: &HashMap<String, String>,
    kind: super::patching::PatchKind,
    patch_body: &Value,
) -> Result<Response, ApiError> {
    let (_, _, object) = current(cluster, target)?;
    let scale = scale_of(&target.rt, &object)?;
    let patched = super::patching::patch_plain(&scale, kind, patch_body)?;
    set_replicas(cluster, target, patched.pointer("/spec/replicas").cloned().unwrap_or(json!(null)), None)
}

async fn logs(cluster: &Cluster, target: &Target, query: &HashMap<String, String>) -> Result<Response, ApiError> {
    let name = target.name.clone().unwrap_or_default();
    let ns = target.namespace.clone().unwrap_or_else(|| "default".into());
    let key = objects::key(&target.rt, Some(&ns), &name);
    let pod = cluster.store.get(&key).ok_or_else(|| ApiError::not_found("pods", &name))?;
    let containers: Vec<String> = ["/spec/containers", "/spec/initContainers"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    let container = match query.get("container") {
        Some(c) if containers.contains(c) => c.clone(),
        Some(c) => {
            return Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}")));
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    let since = query
        .get("sinceSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(|s| std::time::SystemTime::now().checked_sub(Duration::from_secs(s)).unwrap_or(std::time::UNIX_EPOCH))
        .or_else(|| query.get("sinceTime").and_then(|t| crate::time::parse(t)));
    let tail = query.get("tailLines").and_then(|t| t.parse().ok());
    let timestamps = flag(query, "timestamps");
    let lines = cluster.store.logs(&ns, &name, &container, since, tail);
    let mut text = String::new();
    for (time, line) in lines {
        if timestamps {
            text.push_str(&crate::time::rfc3339_micros(time));
            text.push(' ');
        }
        text.push_str(&line);
        text.push('\n');
    }
    Ok((StatusCode::OK, [("content-type", "text/plain")], text).into_response())
}
