//! Credentials for the services Fledge asks (Prometheus, Loki, webhooks, chat), read from a
//! Kubernetes Secret at the moment they are needed, so a rotated Secret takes effect at the next
//! check. Their values are never logged: [`Auth`]'s `Debug` redacts them.

use crate::checks::lookup::{self, LookupError};
use fledge_analysis::prometheus::Auth;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use std::collections::BTreeMap;

/// Why a Secret gave no credentials; its message is a sentence for the status: which Secret,
/// and what is wrong with it. Never a value of the Secret.
#[derive(thiserror::Error, Debug)]
pub enum SecretError {
    /// The Secret could not be read, or does not exist.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The Secret has no such key.
    #[error("Secret {namespace}/{name} has no key {key:?}")]
    NoKey {
        /// The Secret's namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The key that is missing.
        key: String,
    },
    /// The Secret has neither a `token` nor a `username` and a `password`.
    #[error("Secret {namespace}/{name} has neither token nor username and password")]
    NoCredentials {
        /// The Secret's namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
}

/// The data of a Secret.
async fn data(client: &Client, namespace: &str, name: &str) -> Result<BTreeMap<String, ByteString>, SecretError> {
    let secret: Secret = lookup::named(client, namespace, name).await?;
    Ok(secret.data.unwrap_or_default())
}

/// Every key of a Secret as trimmed text (for addresses, tokens and the like).
pub async fn texts(client: &Client, namespace: &str, name: &str) -> Result<BTreeMap<String, String>, SecretError> {
    let data = data(client, namespace, name).await?;
    Ok(data.into_iter().map(|(k, v)| (k, String::from_utf8_lossy(&v.0).trim().to_owned())).collect())
}

/// The bytes of one key of a Secret.
pub async fn value(client: &Client, namespace: &str, name: &str, key: &str) -> Result<Vec<u8>, SecretError> {
    let value = data(client, namespace, name).await?.remove(key);
    value.map(|v| v.0).ok_or_else(|| SecretError::NoKey {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        key: key.to_owned(),
    })
}

/// The Secret's `token` (a bearer token), or its `username` and `password` (basic auth).
pub async fn auth(client: &Client, namespace: &str, name: &str) -> Result<Auth, SecretError> {
    let data = data(client, namespace, name).await?;
    let text = |key: &str| data.get(key).map(|v| String::from_utf8_lossy(&v.0).trim().to_owned());
    match (text("token"), text("username"), text("password")) {
        (Some(token), _, _) => Ok(Auth::Bearer(token)),
        (None, Some(username), Some(password)) => Ok(Auth::Basic { username, password }),
        _ => Err(SecretError::NoCredentials { namespace: namespace.to_owned(), name: name.to_owned() }),
    }
}
