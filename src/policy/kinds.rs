//! The Ray kinds this webhook handles, as one table: a kind is one [`KINDS`]
//! entry (plus its own rules); the routes, the offline loader, the wire views
//! and the tests all read it from here.

/// The API group of every handled kind.
pub const RAY_GROUP: &str = "ray.io";

/// The `ray.io` kinds this webhook handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RayKind {
    RayCluster,
    RayService,
    RayJob,
    /// Not a workload: it creates a RayJob (a run) from `spec.jobTemplate`
    /// on a schedule (KubeRay v1.6+, feature gate `RayCronJob`).
    RayCronJob,
}

/// What the webhook knows of one kind.
#[derive(Debug)]
pub struct KindInfo {
    pub kind: RayKind,
    /// The `kind` of its objects (`RayCluster`).
    pub name: &'static str,
    /// Its REST resource (`rayclusters`), as webhook registrations name it.
    pub plural: &'static str,
    /// The per-kind routes are `/mutate-{route_suffix}` and
    /// `/validate-{route_suffix}` (Kueue's path style).
    pub route_suffix: &'static str,
    /// Where the cluster spec (worker groups, autoscaling) lives, as JSON path tokens.
    pub cluster_spec: &'static [&'static str],
    /// The boolean that suspends the workload, as JSON path tokens: read to
    /// tell whether it is suspended, written (with its missing parents) to
    /// suspend it. Empty for a kind that is never suspended.
    pub suspend: &'static [&'static str],
    /// Where the spec of the RayJobs it creates lives, as JSON path tokens:
    /// a kind that is not a workload itself, but whose runs are (empty for
    /// the workload kinds).
    pub run_template: &'static [&'static str],
}

/// Every handled kind, one entry each.
pub const KINDS: &[KindInfo] = &[
    KindInfo {
        kind: RayKind::RayCluster,
        name: "RayCluster",
        plural: "rayclusters",
        route_suffix: "ray-io-v1-raycluster",
        cluster_spec: &["spec"],
        suspend: &["spec", "suspend"],
        run_template: &[],
    },
    KindInfo {
        kind: RayKind::RayService,
        name: "RayService",
        plural: "rayservices",
        route_suffix: "ray-io-v1-rayservice",
        cluster_spec: &["spec", "rayClusterConfig"],
        // Read and written when Kueue admits the RayService itself
        // (`--rayservice-workload rayservice`).
        suspend: &["spec", "rayClusterConfig", "suspend"],
        run_template: &[],
    },
    KindInfo {
        kind: RayKind::RayJob,
        name: "RayJob",
        plural: "rayjobs",
        route_suffix: "ray-io-v1-rayjob",
        // May be absent: a job that runs on an existing cluster (`clusterSelector`).
        cluster_spec: &["spec", "rayClusterSpec"],
        suspend: &["spec", "suspend"],
        run_template: &[],
    },
    KindInfo {
        kind: RayKind::RayCronJob,
        name: "RayCronJob",
        plural: "raycronjobs",
        route_suffix: "ray-io-v1-raycronjob",
        // Its runs' cluster spec: each run's spec is a copy of
        // `spec.jobTemplate` (KubeRay `controllers/ray/raycronjob_controller.go`,
        // `constructRayJob`).
        cluster_spec: &["spec", "jobTemplate", "rayClusterSpec"],
        // Never written: its `spec.suspend` pauses the schedule, and Kueue
        // admits the runs, not the RayCronJob.
        suspend: &[],
        run_template: &["spec", "jobTemplate"],
    },
];

/// JSON path tokens as the API server writes field paths (`spec.rayClusterConfig`).
pub fn dotted(tokens: &[&str]) -> String {
    tokens.join(".")
}

impl RayKind {
    /// This kind's entry in [`KINDS`].
    pub fn info(self) -> &'static KindInfo {
        match KINDS.iter().find(|info| info.kind == self) {
            Some(info) => info,
            // Every variant has an entry (the `every_kind_has_one_entry` test).
            None => unreachable!("{self:?} has no entry in KINDS"),
        }
    }

    /// The handled kind named `kind` (`RayCluster`), in any `ray.io` version.
    pub fn named(kind: &str) -> Option<Self> {
        KINDS
            .iter()
            .find(|info| info.name == kind)
            .map(|info| info.kind)
    }

    /// The handled kind for a request's `kind` (any `ray.io` version: v1, v1alpha1).
    pub fn from_group_kind(group: &str, kind: &str) -> Option<Self> {
        if group == RAY_GROUP {
            Self::named(kind)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        self.info().name
    }

    pub fn plural(self) -> &'static str {
        self.info().plural
    }

    /// Where the cluster spec (worker groups, autoscaling) lives, as a field path.
    pub fn cluster_spec_path(self) -> String {
        dotted(self.info().cluster_spec)
    }

    /// The field that suspends the workload, as a field path (`spec.suspend`).
    pub fn suspend_path(self) -> String {
        dotted(self.info().suspend)
    }

    /// Whether objects of this kind are not workloads but create RayJobs
    /// (runs) from a template: a RayCronJob.
    pub fn makes_runs(self) -> bool {
        !self.info().run_template.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_entry() {
        for kind in [
            RayKind::RayCluster,
            RayKind::RayService,
            RayKind::RayJob,
            RayKind::RayCronJob,
        ] {
            assert_eq!(KINDS.iter().filter(|i| i.kind == kind).count(), 1);
            assert_eq!(RayKind::named(kind.as_str()), Some(kind));
            assert_eq!(kind.info().plural, kind.as_str().to_lowercase() + "s");
            assert_eq!(
                kind.info().route_suffix,
                format!("ray-io-v1-{}", kind.as_str().to_lowercase())
            );
        }
    }

    #[test]
    fn the_suspend_field_is_in_spec_or_in_the_cluster_spec() {
        // What `RayObject::read_spec` can read; a kind that makes runs is
        // never suspended, and its runs' cluster spec is in the run template.
        for info in KINDS {
            if info.kind.makes_runs() {
                assert!(info.suspend.is_empty(), "{}", info.name);
                assert_eq!(
                    info.cluster_spec,
                    [info.run_template, &["rayClusterSpec"]].concat(),
                    "{}",
                    info.name
                );
                assert_eq!(
                    RayKind::RayJob.info().cluster_spec,
                    ["spec", "rayClusterSpec"]
                );
                continue;
            }
            let parent = info.suspend.strip_suffix(&["suspend"]);
            assert!(
                parent == Some(&["spec"][..]) || parent == Some(info.cluster_spec),
                "{}",
                info.name
            );
            assert!(
                matches!(info.cluster_spec, ["spec"] | ["spec", _]),
                "{}",
                info.name
            );
        }
    }

    #[test]
    fn only_ray_io_kinds_are_handled() {
        assert_eq!(
            RayKind::from_group_kind("ray.io", "RayService"),
            Some(RayKind::RayService)
        );
        assert_eq!(RayKind::from_group_kind("example.com", "RayCluster"), None);
        assert_eq!(RayKind::from_group_kind("ray.io", "Pod"), None);
    }
}
