//! Reading one object a check or a notification names (a MetricTemplate, an AlertProvider, a
//! Secret, a Deployment) at the moment it is needed, with an error that names it. Does I/O.

use k8s_openapi::NamespaceResourceScope;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// Why a named object could not be had.
#[derive(thiserror::Error, Debug)]
pub enum LookupError {
    /// The API server did not answer the read (or refused it).
    #[error("reading {kind} {namespace}/{name}: {source}")]
    Read {
        /// The object's kind, such as `Secret`.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// There is no such object.
    #[error("{kind} {namespace}/{name} does not exist")]
    Missing {
        /// The object's kind, such as `Secret`.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
}

/// The `K` called `name` in `namespace`.
pub async fn named<K>(client: &Client, namespace: &str, name: &str) -> Result<K, LookupError>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
{
    let kind = || K::kind(&()).into_owned();
    Api::<K>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|source| LookupError::Read {
            kind: kind(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            source,
        })?
        .ok_or_else(|| LookupError::Missing { kind: kind(), namespace: namespace.to_owned(), name: name.to_owned() })
}
