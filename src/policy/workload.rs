//! What the mutating and the validating webhook both ask of an object:
//! whether it is Kueue's suspended workload itself, and whether its own pod
//! templates carry the elastic-job gate.

use super::config::{Policy, RayJobWorkload, RayServiceWorkload};
use super::elastic;
use super::kinds::RayKind;
use super::ray::{Owner, RayObject};

/// Whether Kueue's workload for `obj` is `obj` itself, so that it must be created suspended.
pub fn is_suspended_workload(obj: &RayObject, policy: &Policy) -> bool {
    match (obj.kind, obj.owner) {
        (RayKind::RayCluster, Owner::TopLevel) => true,
        (RayKind::RayCluster, Owner::RayService) => {
            policy.rayservice_workload == RayServiceWorkload::Raycluster
        }
        (RayKind::RayCluster, Owner::RayJob) => {
            policy.rayjob_workload == RayJobWorkload::Raycluster
        }
        (RayKind::RayService, _) => policy.rayservice_workload == RayServiceWorkload::Rayservice,
        // A job on an existing cluster is not a Kueue workload.
        (RayKind::RayJob, _) => {
            policy.rayjob_workload == RayJobWorkload::Rayjob && !obj.job.selects_cluster_only()
        }
        // Never: its `spec.suspend` pauses its schedule; its runs are the workloads.
        (RayKind::RayCronJob, _) => false,
    }
}

/// Whether `obj`'s own pod templates must carry the elastic-job gate: an
/// elastic top-level RayCluster or RayService, and the RayCluster of an
/// elastic RayJob, which inherits the annotation and which Kueue's RayCluster
/// webhook gates (Kueue `pkg/controller/jobs/raycluster/raycluster_webhook.go`,
/// `Default`: every elastic RayCluster, whoever owns it). A RayService's
/// RayCluster inherits templates gated at the RayService. An elastic RayJob
/// may autoscale, but its own templates are left as they are: its
/// RayCluster is gated instead.
pub fn needs_elastic_job_gates(obj: &RayObject, policy: &Policy) -> bool {
    let place = match (obj.kind, obj.owner) {
        (RayKind::RayJob | RayKind::RayCronJob, _) => false,
        (_, Owner::TopLevel) => true,
        (RayKind::RayCluster, Owner::RayJob) => true,
        _ => false,
    };
    place && elastic::is_elastic(obj.elastic_job.as_deref(), policy.elastic_jobs)
}
