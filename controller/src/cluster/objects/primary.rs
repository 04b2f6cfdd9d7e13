//! The primary Deployment: the stable copy of the target that serves traffic outside a
//! rollout, with its own selector label value and its own copies of the tracked configs. No I/O.

use super::configs::rewrite_config_refs;
use super::{ConfigRefs, Names, ObjectError, PRIMARY_SUFFIX, copied_annotations, owned_meta};
use crate::cluster::rules::{Rules, SelectorLabels};
use fledge_crds::canary::Canary;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// The selector label of the target, `(key, value)` from `spec.selector.matchLabels`: the first
/// of `keys` it has (by default `app`, `name`, `app.kubernetes.io/name`, Flagger's order). The
/// primary and the Services select on this key, with the value suffixed `-primary` for the
/// primary's pods.
pub fn selector_label(target: &Deployment, keys: &SelectorLabels) -> Result<(String, String), ObjectError> {
    selected_spec(target, keys).map(|(_, label)| label)
}

/// The target's spec with its selector label, or the error naming the target.
fn selected_spec<'a>(
    target: &'a Deployment,
    keys: &SelectorLabels,
) -> Result<(&'a DeploymentSpec, (String, String)), ObjectError> {
    let found = target.spec.as_ref().and_then(|spec| {
        let match_labels = spec.selector.match_labels.as_ref()?;
        let (key, value) = keys.keys().iter().find_map(|key| Some((key, match_labels.get(key)?)))?;
        Some((spec, (key.clone(), value.clone())))
    });
    found.ok_or_else(|| ObjectError::NoSelectorLabel {
        namespace: target.metadata.namespace.clone().unwrap_or_default(),
        name: target.metadata.name.clone().unwrap_or_default(),
        labels: keys.to_string(),
    })
}

/// The primary Deployment `<target>-primary`, complete for server-side apply.
///
/// The pod template is the target's, with the selector label's value suffixed `-primary` (in
/// the selector, the template and the Deployment's own labels) so the primary's pods are never
/// selected by the target or the canary Service, and with references to the configs in
/// `configs` renamed to their `-primary` copies. The Deployment's own labels are the target's
/// that `rules.copied_labels` lets through (all by default); the pod template keeps all of its
/// labels. `replicas` is decided by the caller (it follows the HPA or the target's replicas).
pub fn primary_deployment(
    canary: &Canary,
    target: &Deployment,
    configs: &ConfigRefs,
    replicas: i32,
    rules: &Rules,
) -> Result<Deployment, ObjectError> {
    let (spec, (key, value)) = selected_spec(target, &rules.selector_labels)?;
    let primary_value = format!("{value}{PRIMARY_SUFFIX}");

    let mut template = spec.template.clone();
    let template_meta = template.metadata.get_or_insert_with(Default::default);
    template_meta.labels = Some(with_label(template_meta.labels.as_ref(), &key, &primary_value));
    // kubectl and some generators write `creationTimestamp: null` into templates; it is not
    // the user's intent and must not become a field Fledge owns.
    template_meta.creation_timestamp = None;
    if let Some(pod) = &mut template.spec {
        rewrite_config_refs(pod, configs);
    }

    let selector = LabelSelector {
        match_labels: Some(with_label(spec.selector.match_labels.as_ref(), &key, &primary_value)),
        match_expressions: spec.selector.match_expressions.clone(),
    };

    let mut metadata = owned_meta(canary, Names::of(canary).primary);
    let copied = rules.copied_labels.filter(target.metadata.labels.as_ref());
    metadata.labels = Some(with_label(Some(&copied), &key, &primary_value));
    metadata.annotations = copied_annotations(target.metadata.annotations.as_ref());

    Ok(Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector,
            template,
            strategy: spec.strategy.clone(),
            min_ready_seconds: spec.min_ready_seconds,
            revision_history_limit: spec.revision_history_limit,
            progress_deadline_seconds: spec.progress_deadline_seconds,
            // A paused target is the user holding their own rollout; the primary is Fledge's
            // and must always roll out what was promoted.
            paused: None,
        }),
        status: None,
    })
}

/// `labels` with `key` set to `value` (added when missing).
fn with_label(labels: Option<&BTreeMap<String, String>>, key: &str, value: &str) -> BTreeMap<String, String> {
    let mut labels = labels.cloned().unwrap_or_default();
    labels.insert(key.to_owned(), value.to_owned());
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::fixtures::*;
    use serde_json::json;

    fn tracked() -> ConfigRefs {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect();
        ConfigRefs {
            config_maps: names(&["podinfo-config", "podinfo-bundle", "podinfo-env", "podinfo-init"]),
            secrets: names(&["podinfo-tls", "podinfo-bundle-secret", "podinfo-token", "podinfo-secret-env"]),
        }
    }

    fn primary_json() -> serde_json::Value {
        primary_json_with(&Rules::default())
    }

    fn primary_json_with(rules: &Rules) -> serde_json::Value {
        let primary = primary_deployment(&podinfo_canary(), &podinfo_deployment(), &tracked(), 2, rules).unwrap();
        serde_json::to_value(primary).unwrap()
    }

    #[test]
    fn selector_label_prefers_app_then_name_then_the_recommended_label() {
        let with_selector = |labels: &str| {
            mk_deployment(&format!(
                "{{metadata: {{name: podinfo, namespace: test}}, \
                  spec: {{selector: {{matchLabels: {labels}}}, template: {{}}}}}}"
            ))
        };
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let keys = SelectorLabels::default();
        assert_eq!(selector_label(&with_selector("{name: n, app: a}"), &keys), Ok(pair("app", "a")));
        assert_eq!(
            selector_label(&with_selector("{app.kubernetes.io/name: r, name: n}"), &keys),
            Ok(pair("name", "n"))
        );
        assert_eq!(
            selector_label(&with_selector("{app.kubernetes.io/name: r}"), &keys),
            Ok(pair("app.kubernetes.io/name", "r"))
        );
        assert_eq!(
            selector_label(&with_selector("{tier: web}"), &keys).unwrap_err().to_string(),
            "Deployment test/podinfo: spec.selector.matchLabels has none of the labels app, name, \
             app.kubernetes.io/name (the controller's --selector-labels)"
        );

        // --selector-labels tier,app: its keys, in its order.
        let custom = SelectorLabels::parse("tier,app").unwrap();
        assert_eq!(selector_label(&with_selector("{app: a, tier: web}"), &custom), Ok(pair("tier", "web")));
        assert_eq!(
            selector_label(&with_selector("{name: n}"), &custom).unwrap_err().to_string(),
            "Deployment test/podinfo: spec.selector.matchLabels has none of the labels tier, app \
             (the controller's --selector-labels)"
        );
    }

    #[test]
    fn a_custom_selector_label_is_the_one_suffixed() {
        let rules = Rules { selector_labels: SelectorLabels::parse("tier").unwrap(), ..Rules::default() };
        let primary = primary_json_with(&rules);
        assert_eq!(primary["spec"]["selector"], json!({"matchLabels": {"app": "podinfo", "tier": "backend-primary"}}));
        assert_eq!(
            primary["spec"]["template"]["metadata"]["labels"],
            json!({"app": "podinfo", "tier": "backend-primary"})
        );
        assert_eq!(primary["metadata"]["labels"], json!({"app": "podinfo", "team": "web", "tier": "backend-primary"}));
    }

    #[test]
    fn include_label_prefix_chooses_the_deployments_labels_not_the_pods() {
        let none = Rules { copied_labels: crate::cluster::rules::LabelPrefixes::parse(""), ..Rules::default() };
        let primary = primary_json_with(&none);
        assert_eq!(primary["metadata"]["labels"], json!({"app": "podinfo-primary"}), "Flagger's default");
        assert_eq!(
            primary["spec"]["template"]["metadata"]["labels"],
            json!({"app": "podinfo-primary", "tier": "backend"}),
            "the pods keep every label"
        );
        let teams = Rules { copied_labels: crate::cluster::rules::LabelPrefixes::parse("te"), ..Rules::default() };
        assert_eq!(primary_json_with(&teams)["metadata"]["labels"], json!({"app": "podinfo-primary", "team": "web"}));
    }

    #[test]
    fn primary_is_a_complete_owned_object() {
        let primary = primary_json();
        assert_eq!(primary["apiVersion"], "apps/v1");
        assert_eq!(primary["kind"], "Deployment");
        assert_eq!(primary["metadata"]["name"], "podinfo-primary");
        assert_eq!(primary["metadata"]["namespace"], "test");
        assert_eq!(primary["metadata"]["ownerReferences"][0]["name"], "podinfo");
        assert_eq!(primary["metadata"]["ownerReferences"][0]["controller"], true);
        for server_set in ["uid", "resourceVersion", "creationTimestamp", "managedFields"] {
            assert_eq!(primary["metadata"].get(server_set), None, "{server_set}");
        }
        assert_eq!(primary.get("status"), None);
    }

    #[test]
    fn selector_value_is_suffixed_everywhere_and_other_labels_are_kept() {
        let primary = primary_json();
        assert_eq!(primary["spec"]["selector"], json!({"matchLabels": {"app": "podinfo-primary", "tier": "backend"}}));
        assert_eq!(
            primary["spec"]["template"]["metadata"]["labels"],
            json!({"app": "podinfo-primary", "tier": "backend"})
        );
        assert_eq!(primary["metadata"]["labels"], json!({"app": "podinfo-primary", "team": "web"}));
    }

    #[test]
    fn server_and_kubectl_annotations_are_dropped() {
        let primary = primary_json();
        assert_eq!(primary["metadata"]["annotations"], json!({"owner": "web-team"}));
        assert_eq!(primary["spec"]["template"]["metadata"]["annotations"], json!({"prometheus.io/scrape": "true"}));
    }

    #[test]
    fn replicas_and_rollout_settings() {
        let spec = &primary_json()["spec"];
        assert_eq!(spec["replicas"], 2);
        assert_eq!(spec["minReadySeconds"], 3);
        assert_eq!(spec["revisionHistoryLimit"], 5);
        assert_eq!(spec["progressDeadlineSeconds"], 60);
        assert_eq!(spec["strategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}));
        assert_eq!(spec.get("paused"), None);
    }

    #[test]
    fn tracked_config_references_point_at_the_primary_copies() {
        let primary = primary_json();
        let pod = &primary["spec"]["template"]["spec"];
        let volumes = &pod["volumes"];
        assert_eq!(volumes[0]["configMap"]["name"], "podinfo-config-primary");
        assert_eq!(volumes[1]["configMap"]["name"], "shared-config", "untracked configs are left alone");
        assert_eq!(volumes[2]["secret"]["secretName"], "podinfo-tls-primary");
        assert_eq!(volumes[3]["projected"]["sources"][0]["configMap"]["name"], "podinfo-bundle-primary");
        assert_eq!(volumes[3]["projected"]["sources"][1]["secret"]["name"], "podinfo-bundle-secret-primary");
        assert_eq!(volumes[3]["projected"]["sources"][2], json!({"serviceAccountToken": {"path": "token"}}));

        let app = &pod["containers"][0];
        assert_eq!(app["env"][0]["valueFrom"]["configMapKeyRef"]["name"], "podinfo-env-primary");
        assert_eq!(app["env"][1]["valueFrom"]["secretKeyRef"]["name"], "podinfo-token-primary");
        assert_eq!(app["env"][2], json!({"name": "PLAIN", "value": "x"}));
        assert_eq!(app["envFrom"][0]["secretRef"]["name"], "podinfo-secret-env-primary");
        assert_eq!(pod["initContainers"][0]["envFrom"][0]["configMapRef"]["name"], "podinfo-init-primary");
        assert_eq!(app["image"], "ghcr.io/stefanprodan/podinfo:6.0.0");
    }

    #[test]
    fn nothing_is_rewritten_without_tracked_configs() {
        let target = podinfo_deployment();
        let primary =
            primary_deployment(&podinfo_canary(), &target, &ConfigRefs::default(), 1, &Rules::default()).unwrap();
        assert_eq!(primary.spec.unwrap().template.spec, target.spec.unwrap().template.spec);
    }
}
