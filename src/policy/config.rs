//! The policy's settings in one place: [`Policy`], the workload modes it
//! picks between, and the list of its knobs with where each came from.

use super::local_queues::LocalQueues;
use super::profile::{self, Knob, Provenance, Release, ReleaseRules, Source};
use super::ray::RayObject;

/// Which object Kueue admits for a RayService.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RayServiceWorkload {
    /// Kueue manages the RayCluster that KubeRay creates for the RayService
    /// (it inherits the RayService's labels); that RayCluster is suspended.
    #[default]
    Raycluster,
    /// Kueue (v0.17+) admits the RayService itself, suspended through
    /// `spec.rayClusterConfig.suspend`; its RayClusters are left alone.
    Rayservice,
}

impl RayServiceWorkload {
    /// The value as `--rayservice-workload` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RayServiceWorkload::Raycluster => "raycluster",
            RayServiceWorkload::Rayservice => "rayservice",
        }
    }
}

/// Which object Kueue admits for a RayJob.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RayJobWorkload {
    /// Kueue's `ray.io/rayjob` integration is on: the RayJob is the workload,
    /// suspended through `spec.suspend`; its RayCluster is never suspended.
    #[default]
    Rayjob,
    /// The integration is off: the RayJob is left alone, and the RayCluster
    /// KubeRay creates for it (it inherits the RayJob's labels) is the
    /// workload, treated as a top-level RayCluster.
    Raycluster,
}

impl RayJobWorkload {
    /// The value as `--rayjob-workload` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RayJobWorkload::Rayjob => "rayjob",
            RayJobWorkload::Raycluster => "raycluster",
        }
    }
}

/// The policy configuration shared by `serve`, `check` and `review`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The Kueue release whose profile set the defaults (`--kueue-version`).
    pub kueue_version: Option<Release>,
    /// Most worker groups a cluster may have (Kueue: 8 PodSets = head + 7).
    pub max_worker_groups: usize,
    /// Queue given to top-level objects that arrive without a queue label.
    pub default_queue: Option<String>,
    /// Manage every object, labelled or not (Kueue's option of that name).
    pub manage_jobs_without_queue_name: bool,
    /// Which object is Kueue's workload for a RayService.
    pub rayservice_workload: RayServiceWorkload,
    /// Which object is Kueue's workload for a RayJob.
    pub rayjob_workload: RayJobWorkload,
    /// Kueue's `ElasticJobsViaWorkloadSlices`: objects annotated
    /// `kueue.x-k8s.io/elastic-job: "true"` may autoscale.
    pub elastic_jobs: bool,
    /// Namespaces where `default_queue` and `manage_jobs_without_queue_name`
    /// do not apply (Kueue's `managedJobsNamespaceSelector`).
    pub exclude_namespaces: Vec<String>,
    /// Where each of the values above came from (for the startup log and reports).
    pub provenance: Provenance,
    /// The LocalQueues that exist, when known (`check --local-queues`; a
    /// server could be fed them from a watch). `None`: any queue name passes.
    pub local_queues: Option<LocalQueues>,
    /// A queue label naming no known LocalQueue is a violation, not a warning.
    pub require_local_queue: bool,
    /// The rules of the release's row that no flag sets.
    pub rules: ReleaseRules,
    /// MultiKueue's worker clusters run with `MultiKueueRayInTreeAutoscaling`
    /// (Kueue v0.20, #17466): a MultiKueue elastic job may autoscale in-tree.
    pub multikueue_ray_autoscaling: bool,
    /// The serving webhook gives a RayCronJob's runs the RayCronJob's queue
    /// label (`serve --api-access`, which watches RayCronJobs): KubeRay
    /// copies no labels to runs, so without it the label never reaches them.
    pub cron_runs_labelled: bool,
    /// A queue label on a RayCronJob that its runs will not carry
    /// (`cron_runs_labelled` off) is a violation, not a warning.
    pub deny_unqueued_cron_runs: bool,
    /// The cluster runs Kueue's Alpha gate `TASTopologySpreading` (v0.20,
    /// #14820): `podset-topology-spreading` is validated, from the v0.20
    /// row on. Off, Kueue ignores the annotation, and so does this.
    pub tas_topology_spreading: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self::for_release(None)
    }
}

impl Policy {
    /// The defaults for a Kueue release (`None`: the plain defaults).
    pub fn for_release(release: Option<Release>) -> Self {
        let profile = release.map_or(profile::PLAIN, Release::profile);
        let from_profile = if release.is_some() {
            Source::Profile
        } else {
            Source::Default
        };
        Self {
            kueue_version: release,
            max_worker_groups: profile.max_worker_groups,
            default_queue: None,
            manage_jobs_without_queue_name: false,
            rayservice_workload: profile.rayservice_workload,
            rayjob_workload: RayJobWorkload::Rayjob,
            elastic_jobs: profile.elastic_jobs,
            exclude_namespaces: vec![KUBE_SYSTEM.to_string()],
            provenance: Provenance {
                max_worker_groups: from_profile,
                rayservice_workload: from_profile,
                elastic_jobs: from_profile,
                ..Provenance::default()
            },
            local_queues: None,
            require_local_queue: false,
            rules: profile.rules,
            multikueue_ray_autoscaling: false,
            cron_runs_labelled: false,
            deny_unqueued_cron_runs: false,
            tas_topology_spreading: false,
        }
    }
}

/// Always in the default `--exclude-namespace` list, as in Kueue's default
/// `managedJobsNamespaceSelector`.
pub const KUBE_SYSTEM: &str = "kube-system";

impl Policy {
    /// Every knob, its value and where it came from, in flag order.
    pub fn knobs(&self) -> Vec<Knob> {
        let p = &self.provenance;
        let knob = |name, value: String, source: Source| Knob {
            name,
            value,
            source: source.as_str(),
        };
        let or_none = |value: Option<String>| value.unwrap_or_else(|| "none".to_string());
        vec![
            knob(
                "kueue-version",
                or_none(self.kueue_version.map(|r| r.to_string())),
                p.kueue_version,
            ),
            knob(
                "max-worker-groups",
                self.max_worker_groups.to_string(),
                p.max_worker_groups,
            ),
            knob(
                "default-queue",
                or_none(self.default_queue.clone()),
                p.default_queue,
            ),
            knob(
                "manage-jobs-without-queue-name",
                self.manage_jobs_without_queue_name.to_string(),
                p.manage_jobs_without_queue_name,
            ),
            knob(
                "rayservice-workload",
                self.rayservice_workload.as_str().to_string(),
                p.rayservice_workload,
            ),
            knob(
                "rayjob-workload",
                self.rayjob_workload.as_str().to_string(),
                p.rayjob_workload,
            ),
            knob(
                "elastic-jobs",
                self.elastic_jobs.to_string(),
                p.elastic_jobs,
            ),
            knob(
                "exclude-namespace",
                self.exclude_namespaces.join(","),
                p.exclude_namespaces,
            ),
            knob(
                "multikueue-ray-autoscaling",
                self.multikueue_ray_autoscaling.to_string(),
                p.multikueue_ray_autoscaling,
            ),
            knob(
                "cron-runs-labelled",
                self.cron_runs_labelled.to_string(),
                p.cron_runs_labelled,
            ),
            knob(
                "deny-unqueued-cron-runs",
                self.deny_unqueued_cron_runs.to_string(),
                p.deny_unqueued_cron_runs,
            ),
            knob(
                "tas-topology-spreading",
                self.tas_topology_spreading.to_string(),
                p.tas_topology_spreading,
            ),
        ]
    }

    /// The knobs on one line, `name=value (source)`, for the startup log.
    pub fn describe(&self) -> String {
        self.knobs()
            .iter()
            .map(|k| format!("{}={} ({})", k.name, k.value, k.source))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A warning when `--kueue-version` names a release newer than the table.
    pub fn release_warning(&self) -> Option<String> {
        let release = self.kueue_version.filter(|r| r.is_newer_than_known())?;
        Some(format!(
            "Kueue {release} is newer than the newest release this webhook knows \
             ({newest}): using the {newest} profile; check its rules against {release}'s",
            newest = profile::NEWEST_KNOWN
        ))
    }

    /// Whether `namespace` is excluded: `default_queue` and
    /// `manage_jobs_without_queue_name` do not apply there.
    pub fn excludes(&self, namespace: Option<&str>) -> bool {
        namespace.is_some_and(|ns| self.exclude_namespaces.iter().any(|x| x == ns))
    }

    /// Whether Kueue manages `obj`, so that the rules apply: it has a queue
    /// label (given or defaulted) that the release heeds, or every object is
    /// managed and its namespace is not excluded. The one place this is decided.
    pub fn manages(&self, obj: &RayObject) -> bool {
        let own_label = obj.queue_name.is_some() && !self.ignores_queue_label(obj);
        own_label || (self.manage_jobs_without_queue_name && !obj.namespace_excluded)
    }

    /// Whether `obj`'s queue label counts for nothing: its namespace is
    /// excluded and the release respects that even for labelled objects
    /// (Kueue v0.15+: the reconciler never gives it a Workload, so
    /// suspending it would strand it).
    pub fn ignores_queue_label(&self, obj: &RayObject) -> bool {
        obj.namespace_excluded && self.rules.excluded_namespaces_respected
    }
}
