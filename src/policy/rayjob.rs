//! A RayJob's own rules, beside those every kind shares: the cluster it runs
//! on, its clean-up, and the submitter PodSet of `K8sJobMode`.

use super::config::{Policy, RayJobWorkload};
use super::errors::{ErrorKind, FieldError, Rule};
use super::kinds::RayKind;
use super::mutate::Mutation;
use super::ray::{RayObject, SubmissionMode};
use super::violations::Violations;
use super::warning::Warning;

/// The PodSet name Kueue gives the submitter Job of a `K8sJobMode` RayJob.
pub const SUBMITTER_POD_SET: &str = "submitter";

/// Whether `obj` is a RayJob whose Workload has a submitter PodSet.
pub fn has_submitter_pod_set(obj: &RayObject) -> bool {
    obj.kind == RayKind::RayJob && obj.job.submission_mode == SubmissionMode::K8sJob
}

/// Most worker groups `obj` may have: one less for a `K8sJobMode` RayJob,
/// whose submitter Job is a PodSet of the same Workload.
pub fn max_worker_groups(obj: &RayObject, policy: &Policy) -> usize {
    if has_submitter_pod_set(obj) {
        policy.max_worker_groups.saturating_sub(1)
    } else {
        policy.max_worker_groups
    }
}

/// Why the limit is lower, for the message (empty for the other kinds).
pub fn max_worker_groups_reason(obj: &RayObject) -> &'static str {
    if has_submitter_pod_set(obj) {
        " (in K8sJobMode the submitter Job is a PodSet of the Workload too, \
         beside the head and each worker group)"
    } else {
        ""
    }
}

/// The RayJob rules for a managed job that brings (or should bring) its own cluster.
pub fn violations(obj: &RayObject, errors: &mut Violations) {
    if obj.kind != RayKind::RayJob {
        return;
    }
    let job = &obj.job;
    if job.uses_existing_cluster && job.has_cluster_spec {
        errors.push(FieldError {
            path: "spec.clusterSelector".into(),
            kind: ErrorKind::Forbidden,
            value: None,
            detail: "a Kueue-managed RayJob brings its own cluster (spec.rayClusterSpec) \
                     or runs on an existing one (spec.clusterSelector), not both; remove one"
                .into(),
            rule: Rule::ClusterSelectorWithClusterSpec,
        });
    }
    if !job.uses_existing_cluster && !job.has_cluster_spec {
        errors.push(FieldError {
            path: "spec.rayClusterSpec".into(),
            kind: ErrorKind::Required,
            value: None,
            detail: "Kueue admits the RayJob by the resources of its cluster, so it needs the \
                     cluster spec (or spec.clusterSelector, to run on an existing cluster that \
                     Kueue does not manage)"
                .into(),
            rule: Rule::ClusterSpecMissing,
        });
    }
    // A wrong type is already reported (among the type errors, listed or
    // only counted); absent counts as false.
    let shutdown = job.shutdown_after_job_finishes;
    if shutdown != Some(true) && !job.shutdown_after_job_finishes_wrong_type {
        errors.push(FieldError {
            path: "spec.shutdownAfterJobFinishes".into(),
            kind: ErrorKind::Invalid,
            value: Some("false".into()),
            detail: "Kueue releases the job's quota only when its RayCluster is deleted; set it \
                     to true (with ttlSecondsAfterFinished to keep the cluster a while for logs)"
                .into(),
            rule: Rule::ShutdownAfterJobFinishesOff,
        });
    }
    if job.has_deletion_rules {
        errors.push(FieldError {
            path: "spec.deletionStrategy.deletionRules".into(),
            kind: ErrorKind::Forbidden,
            value: None,
            detail: "KubeRay does not allow deletion rules together with \
                     shutdownAfterJobFinishes: true, which a Kueue-managed job needs (the job \
                     would fail after admission); remove them and use shutdownAfterJobFinishes \
                     (with ttlSecondsAfterFinished) instead"
                .into(),
            rule: Rule::DeletionRulesSet,
        });
    }
    deletion_policies(obj, errors);
}

/// The legacy deletion policies that keep pods after the job: with KubeRay's
/// `RayJobDeletionPolicy` (Beta, on) `onSuccess`/`onFailure` take precedence
/// over `shutdownAfterJobFinishes` (KubeRay `rayjob_controller.go`), and
/// `DeleteNone` keeps the whole cluster, `DeleteWorkers` the head, running
/// after Kueue has released the quota (KubeRay `apis/ray/v1/rayjob_types.go`;
/// Kueue #3994).
fn deletion_policies(obj: &RayObject, errors: &mut Violations) {
    let policies = [
        ("onSuccess", &obj.job.on_success),
        ("onFailure", &obj.job.on_failure),
    ];
    for (when, policy) in policies {
        let (name, kept) = match policy.as_deref() {
            Some(name @ "DeleteNone") => (name, "the whole cluster"),
            Some(name @ "DeleteWorkers") => (name, "the head"),
            _ => continue,
        };
        errors.push(FieldError {
            path: format!("spec.deletionStrategy.{when}.policy"),
            kind: ErrorKind::Forbidden,
            value: None,
            detail: format!(
                "{name} takes precedence over shutdownAfterJobFinishes and keeps {kept} \
                 running after the job ends, when Kueue has already released its quota; use \
                 DeleteCluster or DeleteSelf"
            ),
            rule: Rule::DeletionPolicyKeepsPods,
        });
    }
}

/// CREATE of a managed RayJob that only selects an existing cluster: it is
/// not suspended (KubeRay would fail it, and Kueue would never start it), so
/// say where its resources are accounted.
pub fn existing_cluster_warning(obj: &RayObject, policy: &Policy, out: &mut Mutation) {
    let managed = policy.manages(obj);
    if obj.kind != RayKind::RayJob
        || policy.rayjob_workload != RayJobWorkload::Rayjob
        || !managed
        || !obj.job.selects_cluster_only()
    {
        return;
    }
    let queue = match &obj.queue_name {
        Some(queue) => format!("LocalQueue {queue:?}"),
        None => "its own queue".to_string(),
    };
    out.warnings.push(Warning::on("spec.clusterSelector", format!(
        "not suspended: this RayJob runs on an existing RayCluster (spec.clusterSelector), which \
         KubeRay cannot suspend and Kueue does not manage; it starts now, and its resources are \
         accounted to the cluster it selects, not to {queue}"
    )));
}
