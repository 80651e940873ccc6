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
    }
}

/// Whether `obj`'s own pod templates must carry the elastic-job gate: an
/// elastic top-level RayCluster or RayService (a child's templates are its
/// owner's, gated there). An elastic RayJob may autoscale, but the gate
/// rule of issue #10 names RayCluster and RayService only: its templates
/// are left as they are.
pub fn needs_elastic_job_gates(obj: &RayObject, policy: &Policy) -> bool {
    obj.owner == Owner::TopLevel
        && obj.kind != RayKind::RayJob
        && elastic::is_elastic(obj.elastic_job.as_deref(), policy.elastic_jobs)
}
