//! Reading what a Canary depends on from the cluster: the target Deployment and the configs it
//! uses, the primary, the target's autoscaler and the live routes. Does I/O (reads only).

use crate::cluster::objects::{self, ConfigKind, ConfigRefs, Names};
use crate::cluster::rules::Rules;
use crate::cluster::{revision, workload};
use crate::error::Error;
use fledge_core::Observed;
use fledge_crds::canary::Canary;
use fledge_crds::istio::VirtualService;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};
use std::collections::BTreeMap;

/// The annotation on the primary that records which revision Fledge gave it.
pub const ANNOTATION_REVISION: &str = "fledge.dev/revision";

/// Everything read for one reconcile.
#[derive(Debug)]
pub struct World {
    /// The target Deployment.
    pub target: Deployment,
    /// The target's selector label (`app: podinfo`).
    pub selector: (String, String),
    /// The ConfigMaps the target uses and Fledge tracks.
    pub config_maps: Vec<ConfigMap>,
    /// The Secrets the target uses and Fledge tracks.
    pub secrets: Vec<Secret>,
    /// Names of the tracked configs, for rewriting the primary's references.
    pub tracked: ConfigRefs,
    /// The primary Deployment, when it exists.
    pub primary: Option<Deployment>,
    /// The target's HorizontalPodAutoscaler, when the spec names one and it exists.
    pub target_hpa: Option<HorizontalPodAutoscaler>,
    /// The live VirtualService, when it exists.
    pub virtual_service: Option<VirtualService>,
    /// What the lifecycle decides on.
    pub observed: Observed,
}

/// What one reconcile read: the world of a target Fledge can use, or why it cannot.
#[derive(Debug)]
pub enum Observation {
    /// The target can be used; everything was read.
    Usable(Box<World>),
    /// The target is missing or unusable; nothing else was read, and
    /// [`Observed::target_unavailable`] says why.
    TargetUnavailable(Observed),
}

impl Observation {
    fn unavailable(why: String) -> Self {
        Self::TargetUnavailable(Observed { target_unavailable: Some(why), ..Observed::default() })
    }

    /// What the lifecycle decides on.
    pub fn observed(&self) -> &Observed {
        match self {
            Self::Usable(world) => &world.observed,
            Self::TargetUnavailable(observed) => observed,
        }
    }

    /// The world read, when the target can be used.
    pub fn world(&self) -> Option<&World> {
        match self {
            Self::Usable(world) => Some(world),
            Self::TargetUnavailable(_) => None,
        }
    }
}

/// Read the world of a Canary as the controller's `rules` say (the selector labels, whether
/// configs are tracked). A missing target or an unusable one is an observation the lifecycle
/// decides on ([`Observation::TargetUnavailable`]); an API failure is an error (transient).
pub async fn observe(client: &Client, canary: &Canary, rules: &Rules) -> Result<Observation, Error> {
    let namespace = canary.metadata.namespace.as_deref().unwrap_or_default();
    let names = Names::of(canary);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let target = deployments.get_opt(&names.target).await.map_err(|e| Error::observe("the target Deployment", e))?;
    let Some(target) = target else {
        return Ok(Observation::unavailable(format!(
            "spec.targetRef: Deployment {namespace}/{} does not exist; create it or fix the name",
            names.target
        )));
    };
    let selector = match objects::selector_label(&target, &rules.selector_labels) {
        Ok(selector) => selector,
        Err(e) => return Ok(Observation::unavailable(e.to_string())),
    };
    let template = target.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();

    // Without config tracking nothing is read, hashed or copied: the primary uses the target's
    // ConfigMaps and Secrets themselves, and only a new pod template is a new revision.
    let referenced = if rules.config_tracking { objects::referenced_configs(&template) } else { ConfigRefs::default() };
    let mut tracked = ConfigRefs::default();
    let mut hashes = BTreeMap::new();
    let config_maps_api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let mut config_maps = Vec::new();
    for name in &referenced.config_maps {
        let cm = config_maps_api.get_opt(name).await.map_err(|e| Error::observe(format!("ConfigMap {name}"), e))?;
        // A missing config is the target's problem (its pods will not start), not ours.
        if let Some(cm) = cm.filter(|cm| objects::is_tracked(&cm.metadata)) {
            hashes.insert(objects::tracked_config_key(ConfigKind::ConfigMap, name), objects::config_map_hash(&cm));
            tracked.config_maps.insert(name.clone());
            config_maps.push(cm);
        }
    }
    let secrets_api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut secrets = Vec::new();
    for name in &referenced.secrets {
        let secret = secrets_api.get_opt(name).await.map_err(|e| Error::observe(format!("Secret {name}"), e))?;
        if let Some(secret) = secret.filter(objects::is_tracked_secret) {
            hashes.insert(objects::tracked_config_key(ConfigKind::Secret, name), objects::secret_hash(&secret));
            tracked.secrets.insert(name.clone());
            secrets.push(secret);
        }
    }

    let primary = deployments.get_opt(&names.primary).await.map_err(|e| Error::observe("the primary Deployment", e))?;
    let target_hpa = match &canary.spec.autoscaler_ref {
        Some(r) => Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), namespace)
            .get_opt(&r.name)
            .await
            .map_err(|e| Error::observe(format!("HorizontalPodAutoscaler {}", r.name), e))?,
        None => None,
    };
    let virtual_service = Api::<VirtualService>::namespaced(client.clone(), namespace)
        .get_opt(&names.apex)
        .await
        .map_err(|e| Error::observe("the VirtualService", e))?;

    let analysis = &canary.spec.analysis;
    let observed = Observed {
        target_unavailable: None,
        revision: revision::revision(&template, &hashes),
        images: template
            .spec
            .as_ref()
            .map(|pod| pod.containers.iter().filter_map(|c| c.image.clone()).collect())
            .unwrap_or_default(),
        tracked_configs: hashes,
        canary: workload::state(&target, analysis.canary_ready_threshold),
        primary: primary.as_ref().map(|p| workload::state(p, analysis.primary_ready_threshold)),
        primary_revision: primary
            .as_ref()
            .and_then(|p| p.metadata.annotations.as_ref())
            .and_then(|a| a.get(ANNOTATION_REVISION))
            .cloned(),
    };
    Ok(Observation::Usable(Box::new(World {
        target,
        selector,
        config_maps,
        secrets,
        tracked,
        primary,
        target_hpa,
        virtual_service,
        observed,
    })))
}
