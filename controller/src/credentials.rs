//! Credentials for the services Fledge asks (Prometheus, Loki), read from a Kubernetes Secret
//! at the moment they are needed, so a rotated Secret takes effect at the next check. Their
//! values are never logged: [`Auth`]'s `Debug` redacts them.

use fledge_analysis::prometheus::Auth;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

/// The Secret's `token` (a bearer token), or its `username` and `password` (basic auth).
/// Errors are sentences for the status: which Secret, and what is wrong with it.
pub async fn auth(client: &Client, namespace: &str, name: &str) -> Result<Option<Auth>, String> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| format!("reading Secret {namespace}/{name}: {e}"))?
        .ok_or_else(|| format!("Secret {namespace}/{name} does not exist"))?;
    let data = secret.data.unwrap_or_default();
    let text = |key: &str| data.get(key).map(|v| String::from_utf8_lossy(&v.0).trim().to_owned());
    Ok(match (text("token"), text("username"), text("password")) {
        (Some(token), _, _) => Some(Auth::Bearer(token)),
        (None, Some(username), Some(password)) => Some(Auth::Basic { username, password }),
        _ => return Err(format!("Secret {namespace}/{name} has neither token nor username and password")),
    })
}
