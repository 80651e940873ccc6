//! Rules that came with Kueue v0.19 and v0.20 and no flag turns off: a
//! RayService's zero-downtime upgrades, and in-tree autoscaling under
//! MultiKueue. Each applies from the release row that sets it
//! ([`ReleaseRules`](super::profile::ReleaseRules)).

use super::config::Policy;
use super::elastic::{self, ELASTIC_JOB_KEY};
use super::errors::{ErrorKind, FieldError, Rule, quoted};
use super::kinds::RayKind;
use super::profile::MultiKueueElastic;
use super::ray::RayObject;
use super::violations::Violations;
use super::workload::is_suspended_workload;

/// `spec.managedBy` of an object MultiKueue dispatches to a worker cluster.
pub const MULTIKUEUE: &str = "kueue.x-k8s.io/multikueue";

/// Whether KubeRay would upgrade a RayService with this `upgradeStrategy.type`
/// by creating a second cluster: a type set to `NewCluster` or
/// `NewClusterWithIncrementalUpgrade`, or no type at all, as the operator's
/// `ENABLE_ZERO_DOWNTIME` is on by default (KubeRay
/// `ray-operator/controllers/ray/rayservice_controller.go`,
/// `isZeroDowntimeUpgradeEnabled`). `None` and types KubeRay does not know
/// (the CRD's enum rejects those) do not.
pub fn zero_downtime(upgrade_type: Option<&str>) -> bool {
    matches!(
        upgrade_type,
        None | Some("NewCluster" | "NewClusterWithIncrementalUpgrade")
    )
}

/// Kueue v0.20 (#16094, gate `RayServiceValidateUpgradeStrategy`): a
/// RayService that Kueue admits itself and that a zero-downtime upgrade
/// would double must be elastic, or opt out with `upgradeStrategy.type: None`.
/// Checked on CREATE and UPDATE alike.
pub fn upgrade_strategy(obj: &RayObject, policy: &Policy, errors: &mut Violations) {
    let elastic = elastic::is_elastic(obj.elastic_job.as_deref(), policy.elastic_jobs);
    if obj.kind != RayKind::RayService
        || !policy.rules.upgrade_strategy
        || !is_suspended_workload(obj, policy)
        || elastic
        || !zero_downtime(obj.upgrade_type.as_deref())
    {
        return;
    }
    let elastic_fix = if policy.elastic_jobs {
        format!("annotate it {ELASTIC_JOB_KEY}: \"true\" to make it elastic")
    } else {
        "make it elastic (--elastic-jobs, and the annotation \
         kueue.x-k8s.io/elastic-job: \"true\")"
            .to_string()
    };
    errors.push(FieldError {
        path: "spec.upgradeStrategy".into(),
        kind: ErrorKind::Invalid,
        value: Some(obj.upgrade_type.as_deref().map_or("null".into(), quoted)),
        detail: format!(
            "a zero-downtime upgrade (the default when the type is unset) runs a second \
             RayCluster beside the admitted one, outside the quota Kueue admitted; set \
             spec.upgradeStrategy.type: None, or {elastic_fix}"
        ),
        rule: Rule::ZeroDowntimeUpgrade,
    });
}

/// Kueue v0.19.1 (RayCluster) and v0.20 (all three kinds; #13435, #16260,
/// #17466): an elastic object that MultiKueue dispatches may not use the
/// in-tree autoscaler unless the worker clusters run with
/// `MultiKueueRayInTreeAutoscaling` (`--multikueue-ray-autoscaling`).
/// Kueue `pkg/controller/jobs/raycluster/raycluster_webhook.go` (`validateElasticJob`).
pub fn multikueue_autoscaling(obj: &RayObject, policy: &Policy, errors: &mut Violations) {
    let covered = match policy.rules.multikueue_elastic {
        MultiKueueElastic::Unchecked => false,
        MultiKueueElastic::RayCluster => obj.kind == RayKind::RayCluster,
        MultiKueueElastic::AllKinds => true,
    };
    let elastic = elastic::is_elastic(obj.elastic_job.as_deref(), policy.elastic_jobs);
    if !covered
        || policy.multikueue_ray_autoscaling
        || !elastic
        || obj.cluster.autoscaling != Some(true)
        || obj.managed_by.as_deref() != Some(MULTIKUEUE)
    {
        return;
    }
    errors.push(FieldError {
        path: format!("{}.enableInTreeAutoscaling", obj.kind.cluster_spec_path()),
        kind: ErrorKind::Forbidden,
        value: None,
        detail: format!(
            "in-tree autoscaling is not supported for an elastic {} that MultiKueue manages \
             (spec.managedBy: {MULTIKUEUE}) unless the worker clusters run with \
             MultiKueueRayInTreeAutoscaling (--multikueue-ray-autoscaling)",
            obj.kind.as_str()
        ),
        rule: Rule::MultiKueueAutoscaling,
    });
}
