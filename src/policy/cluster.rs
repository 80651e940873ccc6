//! What the webhook knows of the cluster beyond the request: a policy input
//! as plain lookups, so the rules stay pure. `check` knows only the
//! LocalQueues of `--local-queues`; `serve` with API access answers from
//! caches fed by watches ([`crate::policy`] never asks the API server).

use super::kinds::RayKind;
use super::local_queues::LocalQueues;

/// The kinds whose controller reference the rules read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OwnerKind {
    RayJob,
    RayService,
    /// KubeRay's RayCronJob, which creates a RayJob per run.
    RayCronJob,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::RayJob => "RayJob",
            OwnerKind::RayService => "RayService",
            OwnerKind::RayCronJob => "RayCronJob",
        }
    }

    /// The kind named by an owner reference's `kind`, if one the rules read.
    pub fn from_kind(kind: &str) -> Option<Self> {
        match kind {
            "RayJob" => Some(OwnerKind::RayJob),
            "RayService" => Some(OwnerKind::RayService),
            "RayCronJob" => Some(OwnerKind::RayCronJob),
            _ => None,
        }
    }

    /// The kind a reference of this kind may own (a cluster's or a run's owner).
    pub fn owns(self) -> RayKind {
        match self {
            OwnerKind::RayJob | OwnerKind::RayService => RayKind::RayCluster,
            OwnerKind::RayCronJob => RayKind::RayJob,
        }
    }
}

/// An object's `ray.io` controller reference: who claims to have created it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Controller {
    pub kind: OwnerKind,
    /// Empty when the reference has none (the API server requires both).
    pub name: String,
    pub uid: String,
}

/// The owner a server reads from the API server before deciding again: the
/// controller of a RayCluster whose owner was not in its cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnerRead {
    pub namespace: String,
    pub controller: Controller,
}

/// Whether a RayCluster's controller owner created it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The owner exists with the reference's UID and records this cluster
    /// (a RayJob's `status.rayClusterName`, a RayService's active or pending
    /// cluster name): a child.
    Claimed,
    /// Nothing is known (offline, or no API access): the reference is
    /// trusted, as without a cluster view.
    Unknown,
    /// The owner is not in the cache: the server reads it ([`OwnerRead`]) and
    /// decides again; meanwhile the reference is trusted.
    Miss,
    /// The owner could not be checked (the API server unreachable, the
    /// webhook forbidden): the reference is trusted, with a warning that says
    /// why.
    Trusted(String),
    /// The owner does not exist, has another UID or does not record this
    /// cluster (the reason, in words): the cluster is top-level.
    Disowned(String),
}

/// The cluster as the rules see it. Every answer may be "not known", and
/// then the rules decide as they would from the request alone.
pub trait Cluster {
    /// Whether the LocalQueue `name` exists in `namespace`; `None`: not known
    /// (any queue name passes).
    fn local_queue(&self, namespace: &str, name: &str) -> Option<bool>;

    /// Whether Kueue manages `namespace` (its `managedJobsNamespaceSelector`);
    /// `None`: not known (the `--exclude-namespace` list decides).
    fn namespace_managed(&self, namespace: &str) -> Option<bool>;

    /// Whether `owner` created the RayCluster `cluster` in `namespace`.
    fn claim(&self, namespace: &str, owner: &Controller, cluster: &str) -> Claim;

    /// The queue label of the RayCronJob `owner` in `namespace`, when it
    /// exists with that UID and has one.
    fn cron_queue(&self, namespace: &str, owner: &Controller) -> Option<String>;
}

/// Knows nothing: decisions from the request alone.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unknown;

impl Cluster for Unknown {
    fn local_queue(&self, _: &str, _: &str) -> Option<bool> {
        None
    }
    fn namespace_managed(&self, _: &str) -> Option<bool> {
        None
    }
    fn claim(&self, _: &str, _: &Controller, _: &str) -> Claim {
        Claim::Unknown
    }
    fn cron_queue(&self, _: &str, _: &Controller) -> Option<String> {
        None
    }
}

/// `check --local-queues`: the LocalQueues of the manifests, nothing else.
impl Cluster for LocalQueues {
    fn local_queue(&self, namespace: &str, name: &str) -> Option<bool> {
        Some(self.contains(namespace, name))
    }
    fn namespace_managed(&self, _: &str) -> Option<bool> {
        None
    }
    fn claim(&self, _: &str, _: &Controller, _: &str) -> Claim {
        Claim::Unknown
    }
    fn cron_queue(&self, _: &str, _: &Controller) -> Option<String> {
        None
    }
}
