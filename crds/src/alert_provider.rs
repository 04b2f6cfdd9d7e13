//! The `AlertProvider` kind: where notifications about canaries go.

use crate::metric_template::SecretRef;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// A chat or webhook destination that canaries reference from `analysis.alerts[].providerRef`.
///
/// The address (and for some types a token) may come from a Secret (`secretRef`, key
/// `address`, optionally `token`) so webhook URLs stay out of the spec.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "fledge.dev",
    version = "v1beta1",
    kind = "AlertProvider",
    namespaced,
    category = "fledge",
    derive = "PartialEq",
    doc = "A notification destination for canary events.",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.address) || has(self.secretRef)").message("set address or secretRef (a Secret with the key address)"))]
pub struct AlertProviderSpec {
    /// `slack`, `msteams`, `discord`, `rocket`, `gchat` or `generic` (a JSON POST).
    pub r#type: AlertProviderType,
    /// Channel to post to, where the service supports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Name the messages appear from, where the service supports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Incoming-webhook URL. Prefer `secretRef`: the URL is a credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// HTTP(S) proxy for the calls, for example `http://proxy.corp:3128`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Secret in the provider's namespace with the key `address` (and optionally `token`,
    /// `proxy`), overriding the fields above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
}

/// Kinds of notification destination.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertProviderType {
    #[default]
    Slack,
    Msteams,
    Discord,
    Rocket,
    Gchat,
    Generic,
}
