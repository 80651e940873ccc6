//! The policy flags, shared by every command that decides, and the plain
//! [`Policy`] they describe.

use crate::policy::{
    KUBE_SYSTEM, Policy, Provenance, RayJobWorkload, RayServiceWorkload, Release, Source,
};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches, Parser};

/// The policy flags, shared by every command that decides, with where each
/// value came from (read off clap's matches while parsing).
#[derive(Clone, Debug)]
pub struct PolicyArgs {
    flags: PolicyFlags,
    sources: Sources,
}

/// The knobs without a clap default: an absent one takes the release
/// profile's value (`--kueue-version`), else the plain default.
#[derive(Clone, Debug, Args)]
struct PolicyFlags {
    /// The Kueue release the cluster runs, e.g. v0.19 or 0.18.2: sets the
    /// defaults of --max-worker-groups, --rayservice-workload and
    /// --elastic-jobs to that release's (explicit flags still win). Without
    /// it, the defaults match Kueue v0.14 - v0.16.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_KUEUE_VERSION", value_name = "RELEASE", value_parser = Release::parse)]
    kueue_version: Option<Release>,
    /// Most worker groups a RayCluster, RayService or RayJob may have: a Kueue
    /// Workload's PodSets minus the head's [default: 7, or the release's]
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MAX_WORKER_GROUPS", value_name = "N")]
    max_worker_groups: Option<usize>,
    /// Queue label given to top-level objects that arrive without one.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_DEFAULT_QUEUE")]
    default_queue: Option<String>,
    /// Manage every object, with or without a queue label.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_MANAGE_JOBS_WITHOUT_QUEUE_NAME")]
    manage_jobs_without_queue_name: bool,
    /// Which object Kueue admits for a RayService [default: raycluster, or the release's]
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_RAYSERVICE_WORKLOAD", value_enum)]
    rayservice_workload: Option<RayServiceWorkloadArg>,
    /// Which object Kueue admits for a RayJob: the RayJob itself (Kueue's
    /// `ray.io/rayjob` integration on) or the RayCluster KubeRay creates for it.
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_RAYJOB_WORKLOAD",
        value_enum,
        default_value_t
    )]
    rayjob_workload: RayJobWorkloadArg,
    /// Kueue's ElasticJobsViaWorkloadSlices: objects annotated
    /// kueue.x-k8s.io/elastic-job: "true" may autoscale (--elastic-jobs=false
    /// turns it off) [default: false, or the release's]
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_ELASTIC_JOBS",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    elastic_jobs: Option<bool>,
    /// A namespace where --default-queue and --manage-jobs-without-queue-name
    /// do not apply (repeatable; the environment variable is comma-separated;
    /// --exclude-namespace= excludes none) [default: kube-system and
    /// $POD_NAMESPACE, the webhook's own]
    #[arg(
        long = "exclude-namespace",
        env = "KUEUE_RAY_WEBHOOK_EXCLUDE_NAMESPACE",
        value_name = "NAMESPACE",
        value_delimiter = ','
    )]
    exclude_namespaces: Option<Vec<String>>,
    /// MultiKueue's worker clusters run Kueue with the
    /// MultiKueueRayInTreeAutoscaling feature gate: an elastic job managed by
    /// MultiKueue may keep KubeRay's in-tree autoscaler on
    /// (--multikueue-ray-autoscaling=false: they do not) [default: false]
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_MULTIKUEUE_RAY_AUTOSCALING",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    multikueue_ray_autoscaling: Option<bool>,
    /// The serving webhook gives a RayCronJob's runs its queue label (it runs
    /// `serve --api-access`): a labelled RayCronJob's runs are queued by it.
    /// Off: the label never reaches the runs (KubeRay copies none), which
    /// is warned [default: false; serve: whether --api-access is on, and
    /// true without it is a usage error]
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_CRON_RUNS_LABELLED",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    cron_runs_labelled: Option<bool>,
    /// A queue label on a RayCronJob that its runs will not carry
    /// (--cron-runs-labelled off) is denied, not warned.
    #[arg(long, env = "KUEUE_RAY_WEBHOOK_DENY_UNQUEUED_CRON_RUNS")]
    deny_unqueued_cron_runs: bool,
    /// The cluster runs Kueue (v0.20 or later) with the Alpha feature gate
    /// TASTopologySpreading: the podset-topology-spreading annotation is
    /// validated as Kueue does (off: Kueue ignores it, and so does this)
    /// [default: false]
    #[arg(
        long,
        env = "KUEUE_RAY_WEBHOOK_TAS_TOPOLOGY_SPREADING",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    tas_topology_spreading: Option<bool>,
}

/// Where each flag's value came from: clap's `ValueSource` per argument id
/// (the field names of [`PolicyFlags`]).
#[derive(Clone, Debug, Default)]
struct Sources(Vec<(&'static str, Source)>);

impl Sources {
    const IDS: [&'static str; 12] = [
        "kueue_version",
        "max_worker_groups",
        "default_queue",
        "manage_jobs_without_queue_name",
        "rayservice_workload",
        "rayjob_workload",
        "elastic_jobs",
        "exclude_namespaces",
        "multikueue_ray_autoscaling",
        "cron_runs_labelled",
        "deny_unqueued_cron_runs",
        "tas_topology_spreading",
    ];

    fn read(matches: &ArgMatches) -> Self {
        Self(
            Self::IDS
                .iter()
                .filter_map(|id| {
                    let source = match matches.value_source(id)? {
                        ValueSource::CommandLine => Source::Flag,
                        ValueSource::EnvVariable => Source::Environment,
                        _ => Source::Default,
                    };
                    Some((*id, source))
                })
                .collect(),
        )
    }

    /// The source of a given flag's value (`Default` when absent).
    fn of(&self, id: &str) -> Source {
        self.0
            .iter()
            .find_map(|(known, source)| (*known == id).then_some(*source))
            .unwrap_or_default()
    }

    /// A knob's value and source: the flag's, else the profile's when a
    /// release was named, else the plain default.
    fn pick<T>(&self, id: &str, flag: Option<T>, profile: Option<T>, default: T) -> (T, Source) {
        match (flag, profile) {
            (Some(value), _) => (value, self.of(id)),
            (None, Some(value)) => (value, Source::Profile),
            (None, None) => (default, Source::Default),
        }
    }
}

impl FromArgMatches for PolicyArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self {
            flags: PolicyFlags::from_arg_matches(matches)?,
            sources: Sources::read(matches),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.flags.update_from_arg_matches(matches)?;
        self.sources = Sources::read(matches);
        Ok(())
    }
}

impl Args for PolicyArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        PolicyFlags::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        PolicyFlags::augment_args_for_update(cmd)
    }
}

/// Where the Deployment puts the webhook's own namespace (downward API).
const POD_NAMESPACE: &str = "POD_NAMESPACE";

impl PolicyArgs {
    /// The policy these flags describe; an invalid `--default-queue` or
    /// `--exclude-namespace` is a usage error.
    pub fn policy(&self) -> Result<Policy, String> {
        let flags = &self.flags;
        let default_queue = self.default_queue()?;
        let exclude_namespaces = self.exclude_namespaces()?;
        let profile = flags.kueue_version.map(Release::profile);
        let plain = crate::policy::profile::PLAIN;
        let (max_worker_groups, max_worker_groups_source) = self.sources.pick(
            "max_worker_groups",
            flags.max_worker_groups,
            profile.map(|p| p.max_worker_groups),
            plain.max_worker_groups,
        );
        let (rayservice_workload, rayservice_workload_source) = self.sources.pick(
            "rayservice_workload",
            flags.rayservice_workload.map(RayServiceWorkload::from),
            profile.map(|p| p.rayservice_workload),
            plain.rayservice_workload,
        );
        let (elastic_jobs, elastic_jobs_source) = self.sources.pick(
            "elastic_jobs",
            flags.elastic_jobs,
            profile.map(|p| p.elastic_jobs),
            plain.elastic_jobs,
        );
        let (multikueue_ray_autoscaling, multikueue_ray_autoscaling_source) = self.sources.pick(
            "multikueue_ray_autoscaling",
            flags.multikueue_ray_autoscaling,
            None,
            false,
        );
        let (cron_runs_labelled, cron_runs_labelled_source) =
            self.sources
                .pick("cron_runs_labelled", flags.cron_runs_labelled, None, false);
        let (tas_topology_spreading, tas_topology_spreading_source) = self.sources.pick(
            "tas_topology_spreading",
            flags.tas_topology_spreading,
            None,
            false,
        );
        Ok(Policy {
            kueue_version: flags.kueue_version,
            max_worker_groups,
            default_queue,
            manage_jobs_without_queue_name: flags.manage_jobs_without_queue_name,
            rayservice_workload,
            rayjob_workload: flags.rayjob_workload.into(),
            elastic_jobs,
            exclude_namespaces,
            provenance: Provenance {
                kueue_version: self.sources.of("kueue_version"),
                max_worker_groups: max_worker_groups_source,
                rayservice_workload: rayservice_workload_source,
                rayjob_workload: self.sources.of("rayjob_workload"),
                elastic_jobs: elastic_jobs_source,
                default_queue: self.sources.of("default_queue"),
                manage_jobs_without_queue_name: self.sources.of("manage_jobs_without_queue_name"),
                exclude_namespaces: self.sources.of("exclude_namespaces"),
                multikueue_ray_autoscaling: multikueue_ray_autoscaling_source,
                cron_runs_labelled: cron_runs_labelled_source,
                deny_unqueued_cron_runs: self.sources.of("deny_unqueued_cron_runs"),
                tas_topology_spreading: tas_topology_spreading_source,
            },
            // Known only from manifests (`check --local-queues`), not a server flag.
            local_queues: None,
            require_local_queue: false,
            rules: profile.map_or(plain.rules, |p| p.rules),
            multikueue_ray_autoscaling,
            cron_runs_labelled,
            deny_unqueued_cron_runs: flags.deny_unqueued_cron_runs,
            tas_topology_spreading,
        })
    }

    /// The policy of `serve`: as [`policy`](Self::policy), and the server
    /// labels a RayCronJob's runs when it has API access (it watches
    /// RayCronJobs), unless --cron-runs-labelled says otherwise; saying it
    /// does without API access is a usage error (it cannot).
    pub fn serve_policy(&self, api_access: bool) -> Result<Policy, String> {
        let mut policy = self.policy()?;
        match self.flags.cron_runs_labelled {
            Some(true) if !api_access => {
                return Err(
                    "--cron-runs-labelled needs --api-access: only a webhook that \
                            watches RayCronJobs gives their runs a queue label"
                        .into(),
                );
            }
            Some(_) => {}
            None => {
                policy.cron_runs_labelled = api_access;
                policy.provenance.cron_runs_labelled = Source::ApiAccess;
            }
        }
        Ok(policy)
    }
}

impl PolicyArgs {
    /// `--default-queue` (empty is none), a DNS-1123 subdomain.
    fn default_queue(&self) -> Result<Option<String>, String> {
        if let Some(queue) = &self.flags.default_queue {
            crate::policy::names::dns1123_subdomain(queue)
                .map_err(|why| format!("--default-queue {queue:?}: {why}"))?;
        }
        Ok(self.flags.default_queue.clone().filter(|q| !q.is_empty()))
    }

    /// `--exclude-namespace` (empty entries dropped), else `kube-system` and
    /// the webhook's own namespace; each a DNS-1123 label.
    fn exclude_namespaces(&self) -> Result<Vec<String>, String> {
        let namespaces: Vec<String> = match &self.flags.exclude_namespaces {
            Some(given) => given.iter().filter(|ns| !ns.is_empty()).cloned().collect(),
            None => default_excluded_namespaces(std::env::var(POD_NAMESPACE).ok()),
        };
        for namespace in &namespaces {
            crate::policy::names::dns1123_label(namespace)
                .map_err(|why| format!("--exclude-namespace {namespace:?}: {why}"))?;
        }
        Ok(namespaces)
    }
}

/// Only the policy flags, for [`policy_from_flags`].
#[derive(Debug, Parser)]
#[command(name = "policy", no_binary_name = true)]
struct PolicyOnly {
    #[command(flatten)]
    policy: PolicyArgs,
}

/// The policy that `flags` (policy flags as on a command line, e.g.
/// `--kueue-version=v0.19`) describe, with their environment twins applied
/// as for any command: for tools and tests that decide without a command.
pub fn policy_from_flags<I, S>(flags: I) -> Result<Policy, String>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let parsed = PolicyOnly::try_parse_from(flags).map_err(|e| e.to_string())?;
    parsed.policy.policy()
}

/// `kube-system` and the webhook's own namespace, when known.
fn default_excluded_namespaces(pod_namespace: Option<String>) -> Vec<String> {
    let mut namespaces = vec![KUBE_SYSTEM.to_string()];
    namespaces.extend(pod_namespace.filter(|ns| !ns.is_empty() && ns != KUBE_SYSTEM));
    namespaces
}

/// `--rayservice-workload`: the command line's names for [`RayServiceWorkload`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
enum RayServiceWorkloadArg {
    /// Kueue manages the RayCluster that KubeRay creates for the RayService
    /// (it inherits the RayService's labels); that RayCluster is suspended.
    #[default]
    Raycluster,
    /// Kueue (v0.17+) admits the RayService itself, suspended through
    /// `spec.rayClusterConfig.suspend`; its RayClusters are left alone.
    Rayservice,
}

impl From<RayServiceWorkloadArg> for RayServiceWorkload {
    fn from(arg: RayServiceWorkloadArg) -> Self {
        match arg {
            RayServiceWorkloadArg::Raycluster => RayServiceWorkload::Raycluster,
            RayServiceWorkloadArg::Rayservice => RayServiceWorkload::Rayservice,
        }
    }
}

/// `--rayjob-workload`: the command line's names for [`RayJobWorkload`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
enum RayJobWorkloadArg {
    /// Kueue's `ray.io/rayjob` integration is on: the RayJob is the workload,
    /// suspended through `spec.suspend`; its RayCluster is never suspended.
    #[default]
    Rayjob,
    /// The integration is off: the RayJob is left alone, and the RayCluster
    /// KubeRay creates for it (it inherits the RayJob's labels) is the
    /// workload, treated as a top-level RayCluster.
    Raycluster,
}

impl From<RayJobWorkloadArg> for RayJobWorkload {
    fn from(arg: RayJobWorkloadArg) -> Self {
        match arg {
            RayJobWorkloadArg::Rayjob => RayJobWorkload::Rayjob,
            RayJobWorkloadArg::Raycluster => RayJobWorkload::Raycluster,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy of `flags` (environment variables of the test process
    /// apply too; none of ours is set under `cargo test`).
    fn policy(flags: &[&str]) -> Result<Policy, String> {
        policy_from_flags(flags)
    }

    #[test]
    fn without_a_release_the_plain_defaults_apply() {
        let policy = policy(&[]).unwrap();
        assert_eq!(
            (
                policy.max_worker_groups,
                policy.rayservice_workload,
                policy.elastic_jobs
            ),
            (7, RayServiceWorkload::Raycluster, false)
        );
        assert_eq!(policy.provenance, Provenance::default());
        assert_eq!(policy.kueue_version, None);
    }

    #[test]
    fn a_release_sets_the_defaults_of_its_row() {
        let policy = policy(&["--kueue-version", "v0.19.3"]).unwrap();
        assert_eq!(
            policy,
            Policy {
                provenance: Provenance {
                    kueue_version: Source::Flag,
                    ..Policy::for_release(policy.kueue_version).provenance
                },
                exclude_namespaces: policy.exclude_namespaces.clone(),
                ..Policy::for_release(Release::parse("v0.19").ok())
            }
        );
        assert_eq!(policy.max_worker_groups, 17);
        assert_eq!(policy.provenance.max_worker_groups, Source::Profile);
        assert_eq!(policy.provenance.elastic_jobs, Source::Profile);
    }

    #[test]
    fn an_explicit_flag_beats_the_profile() {
        let policy = policy(&[
            "--kueue-version=0.18",
            "--max-worker-groups",
            "5",
            "--elastic-jobs=false",
            "--rayservice-workload",
            "raycluster",
        ])
        .unwrap();
        assert_eq!(policy.max_worker_groups, 5);
        assert!(!policy.elastic_jobs);
        assert_eq!(policy.rayservice_workload, RayServiceWorkload::Raycluster);
        let p = &policy.provenance;
        assert_eq!(
            [p.max_worker_groups, p.elastic_jobs, p.rayservice_workload],
            [Source::Flag; 3]
        );
        // A bare --elastic-jobs turns it on.
        let policy = self::policy(&["--elastic-jobs"]).unwrap();
        assert!(policy.elastic_jobs);
        assert_eq!(policy.provenance.elastic_jobs, Source::Flag);
    }

    #[test]
    fn releases_before_the_table_and_non_versions_are_usage_errors() {
        for bad in ["v0.13", "0.9.1", "latest"] {
            let error = policy(&["--kueue-version", bad]).unwrap_err();
            assert!(
                error.contains("known releases are v0.14 to v0.20"),
                "{error}"
            );
        }
    }

    #[test]
    fn excluded_namespaces_repeat_split_on_commas_and_can_be_none() {
        let policy = policy(&["--exclude-namespace", "a", "--exclude-namespace=b,c"]).unwrap();
        assert_eq!(policy.exclude_namespaces, ["a", "b", "c"]);
        assert_eq!(policy.provenance.exclude_namespaces, Source::Flag);
        assert!(
            self::policy(&["--exclude-namespace="])
                .unwrap()
                .exclude_namespaces
                .is_empty()
        );
        let error = self::policy(&["--exclude-namespace", "Not_A_Namespace"]).unwrap_err();
        assert!(
            error.starts_with("--exclude-namespace \"Not_A_Namespace\": "),
            "{error}"
        );
    }

    #[test]
    fn the_default_exclusions_are_kube_system_and_the_webhooks_namespace() {
        assert_eq!(default_excluded_namespaces(None), ["kube-system"]);
        assert_eq!(
            default_excluded_namespaces(Some(String::new())),
            ["kube-system"]
        );
        assert_eq!(
            default_excluded_namespaces(Some("kueue-ray-webhook".into())),
            ["kube-system", "kueue-ray-webhook"]
        );
        assert_eq!(
            default_excluded_namespaces(Some("kube-system".into())),
            ["kube-system"]
        );
    }
}
