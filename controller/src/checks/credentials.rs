//! Credentials for the services Fledge asks (Prometheus, Loki, webhooks, chat), read from a
//! Kubernetes Secret at the moment they are needed, so a rotated Secret takes effect at the next
//! check. Their values are never logged: [`Auth`]'s `Debug` redacts them.

use fledge_analysis::prometheus::Auth;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use std::collections::BTreeMap;

/// The data of a Secret; errors are sentences naming it.
async fn data(client: &Client, namespace: &str, name: &str) -> Result<BTreeMap<String, ByteString>, String> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| format!("reading Secret {namespace}/{name}: {e}"))?
        .ok_or_else(|| format!("Secret {namespace}/{name} does not exist"))?;
    Ok(secret.data.unwrap_or_default())
}

/// Every key of a Secret as trimmed text (for addresses, tokens and the like).
pub async fn texts(client: &Client, namespace: &str, name: &str) -> Result<BTreeMap<String, String>, String> {
    let data = data(client, namespace, name).await?;
    Ok(data.into_iter().map(|(k, v)| (k, String::from_utf8_lossy(&v.0).trim().to_owned())).collect())
}

/// The bytes of one key of a Secret.
pub async fn value(client: &Client, namespace: &str, name: &str, key: &str) -> Result<Vec<u8>, String> {
    let value = data(client, namespace, name).await?.remove(key);
    value.map(|v| v.0).ok_or_else(|| format!("Secret {namespace}/{name} has no key {key:?}"))
}

/// The Secret's `token` (a bearer token), or its `username` and `password` (basic auth).
/// Errors are sentences for the status: which Secret, and what is wrong with it.
pub async fn auth(client: &Client, namespace: &str, name: &str) -> Result<Option<Auth>, String> {
    let data = data(client, namespace, name).await?;
    let text = |key: &str| data.get(key).map(|v| String::from_utf8_lossy(&v.0).trim().to_owned());
    Ok(match (text("token"), text("username"), text("password")) {
        (Some(token), _, _) => Some(Auth::Bearer(token)),
        (None, Some(username), Some(password)) => Some(Auth::Basic { username, password }),
        _ => return Err(format!("Secret {namespace}/{name} has neither token nor username and password")),
    })
}
