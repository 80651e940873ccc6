//! Kueue release profiles: which defaults of the policy knobs match the
//! Kueue release a cluster runs, and where each knob's value came from.
//!
//! The rules differ between releases (PodSets per Workload, who admits a
//! RayService, elastic jobs); `--kueue-version` picks the row of
//! [`Release::profile`], and an explicit flag still overrides each knob.

use super::config::RayServiceWorkload;
use super::topology::SliceLayers;
use std::fmt;

/// A Kueue release, to minor precision (the patch level changes no rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Release {
    pub major: u32,
    pub minor: u32,
}

/// The oldest release with a profile: older ones are a usage error.
pub const OLDEST_KNOWN: Release = Release {
    major: 0,
    minor: 14,
};

/// The newest release this table knows; newer ones get its row, with a warning.
pub const NEWEST_KNOWN: Release = Release {
    major: 0,
    minor: 20,
};

/// The knob defaults a release implies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// PodSets per Workload minus the head's.
    pub max_worker_groups: usize,
    pub rayservice_workload: RayServiceWorkload,
    /// Kueue's `ElasticJobsViaWorkloadSlices` is on by default.
    pub elastic_jobs: bool,
    /// The rules a release added that no flag turns off.
    pub rules: ReleaseRules,
}

/// Rules that come with a release (no flag: a cluster runs them or not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReleaseRules {
    /// The head's pod template must list containers (Kueue v0.19.6 and
    /// v0.20, #16067/#16084; the patch level is not known here, so from the
    /// v0.20 row).
    pub head_containers: bool,
    /// A managed RayService that a zero-downtime upgrade would replace must
    /// be elastic or set `upgradeStrategy.type: None` (Kueue v0.20, #16094,
    /// gate `RayServiceValidateUpgradeStrategy`).
    pub upgrade_strategy: bool,
    /// Which kinds under MultiKueue may not autoscale in-tree as elastic
    /// jobs unless the worker clusters allow it.
    pub multikueue_elastic: MultiKueueElastic,
    /// `kueue.x-k8s.io/podset-unconstrained-topology: "false"` is rejected
    /// (Kueue v0.20, #15262).
    pub unconstrained_false: bool,
    /// An object in an excluded namespace is not managed even with its own
    /// queue label (Kueue v0.15+, `ManagedJobsNamespaceSelectorAlwaysRespected`).
    pub excluded_namespaces_respected: bool,
    /// A grouped PodSet may also be sliced (Kueue v0.20, #15111,
    /// `TASGroupedPodSetSlicing` Beta and on).
    pub tas_grouped_slicing: bool,
    /// What Kueue does with `podset-slice-required-topology-constraints`
    /// (v0.17 #9506 behind an Alpha gate; Beta and on from v0.19).
    pub tas_slice_layers: SliceLayers,
    /// Partial last slices: more than one slice layer must divide the pod
    /// count (Kueue v0.20, #15640, `TASPartialSlices` Beta and on).
    pub tas_partial_slices: bool,
    /// The release knows `podset-topology-spreading` (Kueue v0.20, #14820);
    /// it is validated only under `--tas-topology-spreading` (Alpha gate).
    pub tas_spreading: bool,
}

/// Which elastic kinds Kueue's MultiKueue rule covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MultiKueueElastic {
    /// No such rule (before v0.19).
    #[default]
    Unchecked,
    /// RayCluster only (v0.19.1; v0.19 row).
    RayCluster,
    /// RayCluster, RayService and RayJob (v0.20, #17466).
    AllKinds,
}

/// The defaults without `--kueue-version`: those of the Kueue guide this
/// project started from, which match the v0.14 – v0.16 row.
pub const PLAIN: Profile = Profile {
    max_worker_groups: 7,
    rayservice_workload: RayServiceWorkload::Raycluster,
    elastic_jobs: false,
    rules: ReleaseRules {
        head_containers: false,
        upgrade_strategy: false,
        multikueue_elastic: MultiKueueElastic::Unchecked,
        unconstrained_false: false,
        excluded_namespaces_respected: false,
        tas_grouped_slicing: false,
        tas_slice_layers: SliceLayers::Unknown,
        tas_partial_slices: false,
        tas_spreading: false,
    },
};

/// The rules of the v0.15 – v0.16 rows.
const V0_15_RULES: ReleaseRules = ReleaseRules {
    excluded_namespaces_respected: true,
    ..PLAIN.rules
};

/// The rules of the v0.17 – v0.18 rows: slice layers exist, gated off.
const V0_17_RULES: ReleaseRules = ReleaseRules {
    tas_slice_layers: SliceLayers::Gated,
    ..V0_15_RULES
};

impl Release {
    /// Reads `v0.19`, `0.19`, `0.19.2` or `v0.19.2` (the patch level is ignored).
    /// Releases before [`OLDEST_KNOWN`] and other strings are errors that say
    /// which releases are known.
    pub fn parse(text: &str) -> Result<Self, String> {
        let known = format!(
            "known releases are {OLDEST_KNOWN} to {NEWEST_KNOWN} (newer ones get the {NEWEST_KNOWN} profile)"
        );
        let number = |part: Option<&str>| {
            part.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u32>().ok())
        };
        let digits = text.strip_prefix('v').unwrap_or(text);
        let mut parts = digits.split('.');
        let (major, minor) = (number(parts.next()), number(parts.next()));
        let patch = parts.next().map(|p| number(Some(p)));
        let (Some(major), Some(minor), None | Some(Some(_)), None) =
            (major, minor, patch, parts.next())
        else {
            return Err(format!(
                "{text:?} is not a Kueue release (expected e.g. v0.19 or 0.19.2): {known}"
            ));
        };
        let release = Release { major, minor };
        if release < OLDEST_KNOWN {
            return Err(format!(
                "{release} is older than any release with a profile: {known}"
            ));
        }
        Ok(release)
    }

    /// Newer than the newest row of the table: the newest row applies, but
    /// its rules may be out of date.
    pub fn is_newer_than_known(self) -> bool {
        self > NEWEST_KNOWN
    }

    /// The row of the release table.
    pub fn profile(self) -> Profile {
        match self.minor_of_zero() {
            Some(..=14) => PLAIN,
            // Excluded namespaces are respected even with a queue label.
            Some(15 | 16) => Profile {
                rules: V0_15_RULES,
                ..PLAIN
            },
            // Kueue admits a RayService itself.
            Some(17) => Profile {
                rayservice_workload: RayServiceWorkload::Rayservice,
                rules: V0_17_RULES,
                ..PLAIN
            },
            // 10 PodSets per Workload; elastic jobs (workload slices) on by default.
            Some(18) => Profile {
                max_worker_groups: 9,
                rayservice_workload: RayServiceWorkload::Rayservice,
                elastic_jobs: true,
                rules: V0_17_RULES,
            },
            // 18 PodSets per Workload; MultiKueue denies an autoscaling elastic RayCluster.
            Some(19) => Profile {
                max_worker_groups: 17,
                rayservice_workload: RayServiceWorkload::Rayservice,
                elastic_jobs: true,
                rules: ReleaseRules {
                    multikueue_elastic: MultiKueueElastic::RayCluster,
                    tas_slice_layers: SliceLayers::Checked,
                    ..V0_15_RULES
                },
            },
            // The v0.19 knobs, and v0.20's rules; later releases get this row.
            _ => Profile {
                max_worker_groups: 17,
                rayservice_workload: RayServiceWorkload::Rayservice,
                elastic_jobs: true,
                rules: ReleaseRules {
                    head_containers: true,
                    upgrade_strategy: true,
                    multikueue_elastic: MultiKueueElastic::AllKinds,
                    unconstrained_false: true,
                    excluded_namespaces_respected: true,
                    tas_grouped_slicing: true,
                    tas_slice_layers: SliceLayers::Checked,
                    tas_partial_slices: true,
                    tas_spreading: true,
                },
            },
        }
    }

    fn minor_of_zero(self) -> Option<u32> {
        (self.major == 0).then_some(self.minor)
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)
    }
}

/// Where a knob's value came from, strongest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// The flag's environment variable.
    Environment,
    /// The row of `--kueue-version`.
    Profile,
    /// `serve --api-access`: what the server itself does with its cluster view.
    ApiAccess,
    /// The built-in default.
    #[default]
    Default,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Environment => "environment",
            Source::Profile => "profile",
            Source::ApiAccess => "api-access",
            Source::Default => "default",
        }
    }
}

/// Where each knob of a [`Policy`](super::config::Policy) came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    pub kueue_version: Source,
    pub max_worker_groups: Source,
    pub rayservice_workload: Source,
    pub rayjob_workload: Source,
    pub elastic_jobs: Source,
    pub default_queue: Source,
    pub manage_jobs_without_queue_name: Source,
    pub exclude_namespaces: Source,
    pub multikueue_ray_autoscaling: Source,
    pub cron_runs_labelled: Source,
    pub deny_unqueued_cron_runs: Source,
    pub tas_topology_spreading: Source,
}

/// One knob of the effective policy, for the startup log and `check`'s report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Knob {
    /// The flag's name without dashes, e.g. `max-worker-groups`.
    pub name: &'static str,
    /// The value as the flag would spell it (`none` when unset).
    pub value: String,
    pub source: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(text: &str) -> Release {
        Release::parse(text).unwrap()
    }

    #[test]
    fn reads_releases_with_or_without_v_and_patch() {
        for text in ["v0.19", "0.19", "0.19.2", "v0.19.0"] {
            assert_eq!(
                release(text),
                Release {
                    major: 0,
                    minor: 19
                },
                "{text}"
            );
        }
        assert_eq!(release("v0.14").to_string(), "v0.14");
        assert_eq!(release("v1.2.3"), Release { major: 1, minor: 2 });
    }

    #[test]
    fn rejects_non_versions_and_old_releases_naming_the_known_ones() {
        for text in [
            "",
            "v",
            "19",
            "v0.",
            "v0.x",
            "0.19.",
            "0.19.2.1",
            "v0.19-rc1",
            "0.-1",
            "latest",
            " 0.19",
            "V0.19",
            "0.19.x",
            "+0.19",
        ] {
            let error = Release::parse(text).unwrap_err();
            assert!(
                error.contains("is not a Kueue release"),
                "{text:?}: {error}"
            );
            assert!(error.contains("v0.14 to v0.20"), "{text:?}: {error}");
        }
        let error = Release::parse("v0.13.5").unwrap_err();
        assert!(error.starts_with("v0.13 is older"), "{error}");
        assert!(error.contains("v0.14 to v0.20"), "{error}");
    }

    #[test]
    fn every_row_of_the_table() {
        use MultiKueueElastic::{AllKinds, RayCluster, Unchecked};
        use RayServiceWorkload::{Raycluster, Rayservice};
        let before = PLAIN.rules;
        let v0_15 = ReleaseRules {
            excluded_namespaces_respected: true,
            ..before
        };
        let v0_17 = ReleaseRules {
            tas_slice_layers: SliceLayers::Gated,
            ..v0_15
        };
        let v0_19 = ReleaseRules {
            multikueue_elastic: RayCluster,
            tas_slice_layers: SliceLayers::Checked,
            ..v0_15
        };
        let v0_20 = ReleaseRules {
            head_containers: true,
            upgrade_strategy: true,
            multikueue_elastic: AllKinds,
            unconstrained_false: true,
            excluded_namespaces_respected: true,
            tas_grouped_slicing: true,
            tas_slice_layers: SliceLayers::Checked,
            tas_partial_slices: true,
            tas_spreading: true,
        };
        assert_eq!(before.multikueue_elastic, Unchecked);
        let rows = [
            ("v0.14", 7, Raycluster, false, before),
            ("v0.15", 7, Raycluster, false, v0_15),
            ("v0.16.4", 7, Raycluster, false, v0_15),
            ("v0.17", 7, Rayservice, false, v0_17),
            ("v0.18", 9, Rayservice, true, v0_17),
            ("v0.19", 17, Rayservice, true, v0_19),
            ("v0.19.9", 17, Rayservice, true, v0_19),
            ("v0.20", 17, Rayservice, true, v0_20),
            ("v0.21", 17, Rayservice, true, v0_20),
            ("v1.0", 17, Rayservice, true, v0_20),
        ];
        for (text, max_worker_groups, rayservice_workload, elastic_jobs, rules) in rows {
            let expected = Profile {
                max_worker_groups,
                rayservice_workload,
                elastic_jobs,
                rules,
            };
            assert_eq!(release(text).profile(), expected, "{text}");
        }
        assert_eq!(release("v0.14").profile(), PLAIN);
    }

    #[test]
    fn only_releases_after_the_table_are_newer_than_known() {
        assert!(!release("v0.14").is_newer_than_known());
        assert!(!release("v0.19.9").is_newer_than_known());
        assert!(!release("v0.20.7").is_newer_than_known());
        assert!(release("v0.21").is_newer_than_known());
        assert!(release("v1.0").is_newer_than_known());
    }
}
