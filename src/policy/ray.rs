//! The policy's view of a Ray object ([`RayObject`]), built from its wire view
//! ([`ObjectDoc`]) as the [`KINDS`](super::kinds::KINDS) table says where each part lives.
//!
//! Wrong JSON types become [`FieldError`]s that name the path, so a hostile
//! object is a denial, never a crash.

use super::cluster::{Controller, OwnerKind};
use super::elastic::{ELASTIC_JOB_KEY, PodTemplate};
use super::errors::RequestError;
use super::json::{Field, FirstItems};
use super::kinds::RayKind;
use super::labels::{MAX_EXEC_TIME_KEY, PRIORITY_CLASS_KEY, WorkloadLabels};
use super::topology::Topology;
use super::violations::Violations;
use super::wire::{
    ClusterSpecDoc, GroupDoc, JobSpecDoc, MetaDoc, ObjectDoc, OwnerRefDoc, SpecDoc, TopSpecDoc,
};

mod read;
use read::{non_empty, read, read_policy, read_template, unreadable};

/// The queue label (and, before Kueue v0.15, annotation) key.
pub const QUEUE_NAME_KEY: &str = "kueue.x-k8s.io/queue-name";

/// The queue label as a field path: `metadata.labels[kueue.x-k8s.io/queue-name]`.
pub fn queue_label_path() -> String {
    format!("metadata.labels[{QUEUE_NAME_KEY}]")
}

/// Where a kind's runs' spec lives, as a field path (`spec.jobTemplate`).
pub fn dotted_run_template(kind: RayKind) -> String {
    super::kinds::dotted(kind.info().run_template)
}

/// Who controls a RayCluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Created by a user: Kueue's workload is the object itself.
    TopLevel,
    /// Created by a RayJob, which is Kueue's workload.
    RayJob,
    /// Created by a RayService.
    RayService,
}

/// One worker group entry of `workerGroupSpecs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupName {
    /// `groupName`, when it is a string.
    Named(String),
    /// No usable `groupName` (missing, or the entry is `null`).
    Unnamed,
    /// The entry or its name has the wrong type (already in `type_errors`).
    Unreadable,
}

/// The cluster spec: where the kind's [`KINDS`](super::kinds::KINDS) entry says it lives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterSpec {
    /// `enableInTreeAutoscaling`, when a boolean.
    pub autoscaling: Option<bool>,
    /// The first [`READ_ITEMS`](super::json::READ_ITEMS) of `workerGroupSpecs`, when an array.
    pub groups: Vec<GroupName>,
    /// How many worker groups there are, read or not.
    pub group_count: usize,
    /// `headGroupSpec.template`'s scheduling gates (elastic jobs).
    pub head: PodTemplate,
    /// Each worker group's `template` scheduling gates, as `groups`.
    pub templates: Vec<PodTemplate>,
    /// Each worker group's pod count as Kueue counts its PodSet, as
    /// `groups` ([`worker_pods`]); `None` when not an int32.
    pub worker_pods: Vec<Option<i32>>,
}

/// A worker group's PodSet count as Kueue computes it (Kueue
/// `pkg/controller/jobs/raycluster/common.go`, `effectiveWorkerCount`):
/// `replicas`, times `numOfHosts` when that is over 1, in Go's wrapping int32
/// arithmetic. An absent field takes its CRD default (KubeRay
/// `apis/ray/v1/raycluster_types.go`: `replicas` 0, `numOfHosts` 1), which the
/// API server sets before any webhook sees the object. `None`: a value that
/// is not an int32 (the API server's to reject).
pub fn worker_pods(replicas: Field<i64>, num_of_hosts: Field<i64>) -> Option<i32> {
    let int32 = |field: Field<i64>, default: i32| match field {
        Field::Absent => Some(default),
        Field::Value(v) => i32::try_from(v).ok(),
        Field::Wrong(_) => None,
    };
    let (replicas, hosts) = (int32(replicas, 0)?, int32(num_of_hosts, 1)?);
    Some(if hosts > 1 {
        replicas.wrapping_mul(hosts)
    } else {
        replicas
    })
}

/// How a RayJob submits its job (`spec.submissionMode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SubmissionMode {
    /// `K8sJobMode`, the CRD's default: a submitter Job, which Kueue counts
    /// as one more PodSet. Also any value this webhook does not know (the
    /// stricter reading).
    #[default]
    K8sJob,
    /// `HTTPMode`, `InteractiveMode` or `SidecarMode`: no submitter PodSet.
    WithoutSubmitterJob,
}

/// What the rules read of a RayJob's `spec` besides its cluster spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobSpec {
    /// `spec.rayClusterSpec` is present: the job brings its own cluster.
    pub has_cluster_spec: bool,
    /// `spec.clusterSelector` is a non-empty map: the job runs on an existing cluster.
    pub uses_existing_cluster: bool,
    pub submission_mode: SubmissionMode,
    /// `spec.shutdownAfterJobFinishes`, when a boolean.
    pub shutdown_after_job_finishes: Option<bool>,
    /// `spec.shutdownAfterJobFinishes` is there but not a boolean (one of
    /// the type errors; kept apart, as those list only the first few).
    pub shutdown_after_job_finishes_wrong_type: bool,
    /// `spec.deletionStrategy.deletionRules` is a non-empty array.
    pub has_deletion_rules: bool,
    /// `spec.deletionStrategy.onSuccess.policy` and `onFailure.policy`, when strings.
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    /// `spec.submitterPodTemplate`'s topology annotations: Kueue groups the
    /// submitter's PodSet (one pod) with the others.
    pub submitter: Topology,
}

impl JobSpec {
    /// A job that only selects an existing cluster: Kueue does not manage it.
    pub fn selects_cluster_only(&self) -> bool {
        self.uses_existing_cluster && !self.has_cluster_spec
    }
}

/// A Ray object as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RayObject {
    pub kind: RayKind,
    /// `metadata.name`, or `generateName` when there is no name yet.
    pub name: Option<String>,
    /// The queue label's value; empty counts as none.
    pub queue_name: Option<String>,
    /// The legacy queue annotation's value (Kueue < v0.15); empty counts as none.
    pub legacy_queue_name: Option<String>,
    pub owner: Owner,
    /// The `ray.io` controller reference (a RayJob, RayService or
    /// RayCronJob), which [`owner`](Self::owner) takes on trust.
    pub controller: Option<Controller>,
    /// `metadata.name` was given (not only `generateName`).
    pub named: bool,
    /// `metadata.deletionTimestamp` is set: the object is being deleted.
    pub deleting: bool,
    /// The kind's suspend field, when a boolean.
    pub suspend: Option<bool>,
    pub cluster: ClusterSpec,
    /// A RayJob's job fields (default for the other kinds).
    pub job: JobSpec,
    /// `spec.managedBy`, when a string.
    pub managed_by: Option<String>,
    /// A RayService's `spec.upgradeStrategy.type`, when a string.
    pub upgrade_type: Option<String>,
    /// How many parent maps of the queue label (`metadata`, `labels`) and of
    /// the suspend field exist, so a patch creates only the missing ones.
    pub label_parents: usize,
    pub suspend_parents: usize,
    /// How many tokens of the kind's cluster spec path exist (for the gate patch).
    pub cluster_parents: usize,
    /// The priority-class and max-exec-time labels.
    pub labels: WorkloadLabels,
    /// The `kueue.x-k8s.io/elastic-job` annotation's value.
    pub elastic_job: Option<String>,
    /// Its namespace is excluded (`--exclude-namespace`): only a queue label
    /// of its own makes it managed. Set from the request, not the object.
    pub namespace_excluded: bool,
    /// Wrong types in metadata, labels or the queue label: the object's
    /// queue cannot be known, so these are reported whether managed or not.
    pub identity_errors: Violations,
    /// Wrong types anywhere else the rules read; reported for managed objects.
    pub type_errors: Violations,
    /// Wrong types in the pod templates' scheduling gates: reported for
    /// elastic objects only (the only rule that reads templates).
    pub template_errors: Violations,
    /// A RayCronJob's run as KubeRay creates it (`constructRayJob` in
    /// `controllers/ray/raycronjob_controller.go`, v1.6): a RayJob whose
    /// `spec` is a copy of `spec.jobTemplate`, labelled only
    /// `ray.io/cronjob-name`, controlled by the RayCronJob. Its paths are
    /// the run's own (`spec.…`). `None` for the other kinds.
    pub run: Option<Box<RayObject>>,
}

impl RayObject {
    /// The object as `kind`, from what was read off the wire; `None` when absent.
    pub fn from_wire(
        kind: RayKind,
        wire: Field<ObjectDoc>,
        field: &'static str,
    ) -> Result<Option<Self>, RequestError> {
        match wire {
            Field::Value(doc) => Ok(Some(Self::from_doc(kind, doc))),
            Field::Absent => Ok(None),
            Field::Wrong(found) => Err(RequestError::UnreadableObject {
                field,
                kind: kind.as_str(),
                reason: format!("it is a JSON {}", found.as_str()),
            }),
        }
    }

    fn from_doc(kind: RayKind, doc: ObjectDoc) -> Self {
        let mut obj = Self::empty(kind);
        obj.read_metadata(doc.metadata);
        if kind.makes_runs() {
            obj.read_runs(doc.spec);
        } else {
            obj.read_spec(doc.spec);
        }
        obj
    }

    /// An object of `kind` with nothing read yet.
    fn empty(kind: RayKind) -> Self {
        RayObject {
            kind,
            name: None,
            queue_name: None,
            legacy_queue_name: None,
            owner: Owner::TopLevel,
            controller: None,
            named: false,
            deleting: false,
            suspend: None,
            cluster: ClusterSpec::default(),
            job: JobSpec::default(),
            managed_by: None,
            upgrade_type: None,
            label_parents: 0,
            suspend_parents: 0,
            cluster_parents: 0,
            labels: WorkloadLabels::default(),
            elastic_job: None,
            namespace_excluded: false,
            identity_errors: Violations::default(),
            type_errors: Violations::default(),
            template_errors: Violations::default(),
            run: None,
        }
    }

    /// A RayCronJob's `spec`: only the template of its runs is read (its
    /// `schedule` and `suspend` are the RayCronJob's own business).
    fn read_runs(&mut self, spec: Field<TopSpecDoc>) {
        let template = read(spec, || "spec".into(), &mut self.type_errors)
            .map_or(Field::Absent, |spec: TopSpecDoc| spec.job_template);
        let path = || dotted_run_template(self.kind);
        let template = read(template, path, &mut self.type_errors);
        self.run = Some(Box::new(self.run_of(template.map(|boxed| *boxed))));
    }

    /// The run KubeRay would create from `template`: no labels or
    /// annotations of ours (KubeRay sets only `ray.io/cronjob-name` and a
    /// timestamp), this object as its controller, the template as its spec.
    pub(super) fn run_of(&self, template: Option<JobSpecDoc>) -> RayObject {
        let mut run = Self::empty(RayKind::RayJob);
        run.name = self.name.clone();
        run.named = self.named;
        run.controller = Some(Controller {
            kind: OwnerKind::RayCronJob,
            name: self.name.clone().unwrap_or_default(),
            // Not known until the RayCronJob is stored: no cluster view
            // answers for it.
            uid: String::new(),
        });
        run.read_spec(template.map_or(Field::Absent, Field::Value));
        run
    }

    /// Identity: name, queue, owner, deletion.
    fn read_metadata(&mut self, metadata: Field<MetaDoc>) {
        let Some(meta) = read(metadata, || "metadata".into(), &mut self.identity_errors) else {
            return;
        };
        self.label_parents = 1;
        let labels = read(
            meta.labels,
            || "metadata.labels".into(),
            &mut self.identity_errors,
        );
        if let Some(labels) = labels {
            self.label_parents = 2;
            let path = queue_label_path;
            self.queue_name = read(labels.queue_name, path, &mut self.identity_errors)
                .filter(|queue| !queue.is_empty());
            let errors = &mut self.type_errors;
            let path = |key: &'static str| move || format!("metadata.labels[{key}]");
            self.labels = WorkloadLabels {
                priority_class: read(labels.priority_class, path(PRIORITY_CLASS_KEY), errors)
                    .filter(|class| !class.is_empty()),
                max_exec_time: read(labels.max_exec_time, path(MAX_EXEC_TIME_KEY), errors)
                    .filter(|seconds| !seconds.is_empty()),
            };
        }
        let annotations = read(
            meta.annotations,
            || "metadata.annotations".into(),
            &mut self.type_errors,
        );
        if let Some(annotations) = annotations {
            let path = || format!("metadata.annotations[{QUEUE_NAME_KEY}]");
            self.legacy_queue_name = read(annotations.queue_name, path, &mut self.type_errors)
                .filter(|queue| !queue.is_empty());
            let path = || format!("metadata.annotations[{ELASTIC_JOB_KEY}]");
            self.elastic_job = read(annotations.elastic_job, path, &mut self.type_errors);
        }
        self.owner = self.read_owner(meta.owner_references);
        let name = read(meta.name, || "metadata.name".into(), &mut self.type_errors);
        self.named = name.as_deref().is_some_and(|name| !name.is_empty());
        self.name = name
            .filter(|name| !name.is_empty())
            .or_else(|| non_empty(meta.generate_name));
        self.deleting = !matches!(meta.deletion_timestamp, Field::Absent);
    }

    /// A controller reference to a `ray.io` RayJob or RayService makes a
    /// RayCluster a child (until the cluster view says otherwise); one to a
    /// RayCronJob makes a RayJob its run. Only the first
    /// [`READ_ITEMS`](super::json::READ_ITEMS) references are read.
    fn read_owner(&mut self, refs: Field<FirstItems<Field<OwnerRefDoc>>>) -> Owner {
        let errors = &mut self.type_errors;
        let refs = read(refs, || "metadata.ownerReferences".into(), errors);
        let mut owner = Owner::TopLevel;
        let refs = refs.into_iter().flat_map(|refs| refs.items);
        for (i, reference) in refs.enumerate() {
            let path = |field: &str| format!("metadata.ownerReferences[{i}]{field}");
            let Some(reference) = read(reference, || path(""), errors) else {
                continue;
            };
            let api_version = read(reference.api_version, || path(".apiVersion"), errors);
            let kind = read(reference.kind, || path(".kind"), errors);
            let controller = read(reference.controller, || path(".controller"), errors);
            let is_ray = api_version.is_some_and(|v| v.split('/').next() == Some("ray.io"));
            let kind = kind.as_deref().and_then(OwnerKind::from_kind);
            let Some(kind) = kind.filter(|kind| kind.owns() == self.kind) else {
                continue;
            };
            if controller != Some(true) || !is_ray {
                continue;
            }
            let name = read(reference.name, || path(".name"), errors);
            let uid = read(reference.uid, || path(".uid"), errors);
            self.controller = Some(Controller {
                kind,
                name: name.unwrap_or_default(),
                uid: uid.unwrap_or_default(),
            });
            match kind {
                OwnerKind::RayJob => owner = Owner::RayJob,
                OwnerKind::RayService => owner = Owner::RayService,
                OwnerKind::RayCronJob => {}
            }
        }
        owner
    }

    /// The cluster spec and the suspend field, where the kind's table entry says.
    fn read_spec<J>(&mut self, spec: Field<SpecDoc<ClusterSpecDoc, J>>)
    where
        SpecDoc<ClusterSpecDoc, J>: super::json::Expected,
    {
        let Some(mut spec) = read(spec, || "spec".into(), &mut self.type_errors) else {
            return;
        };
        self.suspend_parents = 1;
        self.cluster_parents = 1;
        let errors = &mut self.type_errors;
        let managed_by = std::mem::take(&mut spec.managed_by);
        self.managed_by = read(managed_by, || "spec.managedBy".into(), errors);
        if self.kind == RayKind::RayService {
            let strategy = std::mem::take(&mut spec.upgrade_strategy);
            let path = || "spec.upgradeStrategy".into();
            if let Some(strategy) = read(strategy, path, errors) {
                let path = || "spec.upgradeStrategy.type".into();
                self.upgrade_type = read(strategy.kind, path, errors);
            }
        }
        if self.kind == RayKind::RayJob {
            self.read_job(&mut spec);
        }
        let info = self.kind.info();
        // The suspend field sits in the cluster spec (RayCluster, RayService)
        // or directly in `spec`.
        let suspend_in_cluster = info.suspend.strip_suffix(&["suspend"]) == Some(info.cluster_spec);
        match info.cluster_spec {
            [_spec] => {
                let suspend = std::mem::take(&mut spec.suspend);
                self.read_cluster(spec, suspend_in_cluster.then_some(suspend));
            }
            [_spec, key] => {
                let nested = spec.take_nested(key);
                let path = || self.kind.cluster_spec_path();
                if let Some(mut cluster) = read(nested, path, &mut self.type_errors) {
                    self.cluster_parents = 2;
                    if suspend_in_cluster {
                        self.suspend_parents = 2;
                    }
                    let suspend = std::mem::take(&mut cluster.suspend);
                    self.read_cluster(*cluster, suspend_in_cluster.then_some(suspend));
                }
                if !suspend_in_cluster {
                    self.read_suspend(spec.suspend);
                }
            }
            _ => {}
        }
    }

    /// A RayJob's own fields: cluster or cluster selector, submission, clean-up.
    fn read_job<J>(&mut self, spec: &mut SpecDoc<ClusterSpecDoc, J>) {
        let errors = &mut self.type_errors;
        let job = &mut self.job;
        job.has_cluster_spec = matches!(spec.ray_cluster_spec, Field::Value(_));
        let selector = std::mem::take(&mut spec.cluster_selector);
        job.uses_existing_cluster = read(selector, || "spec.clusterSelector".into(), errors)
            .is_some_and(|entries| entries.0 > 0);
        let submitter = std::mem::take(&mut spec.submitter_pod_template);
        job.submitter = match submitter {
            Field::Value(template) => Topology::from_doc(template.metadata),
            _ => Topology::default(),
        };
        let mode = std::mem::take(&mut spec.submission_mode);
        job.submission_mode = match read(mode, || "spec.submissionMode".into(), errors).as_deref() {
            Some("HTTPMode" | "InteractiveMode" | "SidecarMode") => {
                SubmissionMode::WithoutSubmitterJob
            }
            _ => SubmissionMode::K8sJob,
        };
        let shutdown = std::mem::take(&mut spec.shutdown_after_job_finishes);
        job.shutdown_after_job_finishes_wrong_type = matches!(shutdown, Field::Wrong(_));
        job.shutdown_after_job_finishes =
            read(shutdown, || "spec.shutdownAfterJobFinishes".into(), errors);
        let strategy = std::mem::take(&mut spec.deletion_strategy);
        if let Some(strategy) = read(strategy, || "spec.deletionStrategy".into(), errors) {
            let path = || "spec.deletionStrategy.deletionRules".into();
            job.has_deletion_rules =
                read(strategy.deletion_rules, path, errors).is_some_and(|rules| !rules.is_empty());
            job.on_success = read_policy(strategy.on_success, "onSuccess", errors);
            job.on_failure = read_policy(strategy.on_failure, "onFailure", errors);
        }
    }

    fn read_suspend(&mut self, suspend: Field<bool>) {
        let path = || self.kind.suspend_path();
        self.suspend = read(suspend, path, &mut self.type_errors);
    }

    fn read_cluster<N, J>(&mut self, doc: SpecDoc<N, J>, suspend: Option<Field<bool>>) {
        // Paths are built only for wrong types: this runs on every request.
        let kind = self.kind;
        let base = move || kind.cluster_spec_path();
        if let Some(suspend) = suspend {
            self.read_suspend(suspend);
        }
        let errors = &mut self.type_errors;
        self.cluster.autoscaling = read(
            doc.enable_in_tree_autoscaling,
            || format!("{}.enableInTreeAutoscaling", base()),
            errors,
        );
        let head_path = || format!("{}.headGroupSpec", base());
        let head_wrong = matches!(doc.head_group_spec, Field::Wrong(_));
        self.cluster.head = match read(doc.head_group_spec, head_path, &mut self.template_errors) {
            Some(head) => read_template(head.template, &head_path, &mut self.template_errors),
            None if head_wrong => unreadable(),
            None => PodTemplate {
                no_containers: true,
                ..PodTemplate::default()
            },
        };
        let groups = read(
            doc.worker_group_specs,
            || format!("{}.workerGroupSpecs", base()),
            errors,
        );
        self.cluster.group_count = groups.as_ref().map_or(0, |groups| groups.len);
        let groups = groups.into_iter().flat_map(|groups| groups.items);
        for (i, group) in groups.enumerate() {
            let path = || format!("{}.workerGroupSpecs[{i}]", base());
            let (name, template, pods) = match group {
                Field::Absent => (GroupName::Unnamed, PodTemplate::default(), None),
                group => match read(group, path, errors) {
                    None => (GroupName::Unreadable, unreadable(), None),
                    Some(GroupDoc {
                        group_name,
                        replicas,
                        num_of_hosts,
                        template,
                    }) => {
                        let name = match group_name {
                            Field::Absent => GroupName::Unnamed,
                            name => read(name, || format!("{}.groupName", path()), errors)
                                .map_or(GroupName::Unreadable, GroupName::Named),
                        };
                        (
                            name,
                            read_template(template, &path, &mut self.template_errors),
                            worker_pods(replicas, num_of_hosts),
                        )
                    }
                },
            };
            self.cluster.groups.push(name);
            self.cluster.templates.push(template);
            self.cluster.worker_pods.push(pods);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::errors::FieldError;

    /// `json` as the `object` of a review of `kind`.
    fn read(kind: RayKind, json: &str) -> Result<Option<RayObject>, RequestError> {
        let wire: Field<ObjectDoc> = serde_json::from_str(json).unwrap();
        RayObject::from_wire(kind, wire, "object")
    }

    fn parse(kind: RayKind, json: &str) -> RayObject {
        read(kind, json).unwrap().unwrap()
    }

    #[test]
    fn reads_a_raycluster() {
        let obj = parse(
            RayKind::RayCluster,
            r#"{"metadata":{"name":"c","labels":{"kueue.x-k8s.io/queue-name":"q","app":"x"},
                "ownerReferences":[{"apiVersion":"ray.io/v1","kind":"RayService","controller":true}]},
               "spec":{"suspend":false,"workerGroupSpecs":[{"groupName":"a","template":{"spec":{}}},{}]}}"#,
        );
        assert_eq!(obj.name.as_deref(), Some("c"));
        assert_eq!(obj.queue_name.as_deref(), Some("q"));
        assert_eq!(obj.owner, Owner::RayService);
        assert_eq!(obj.suspend, Some(false));
        assert_eq!(
            obj.cluster.groups,
            vec![GroupName::Named("a".into()), GroupName::Unnamed]
        );
        assert_eq!((obj.label_parents, obj.suspend_parents), (2, 1));
        assert!(obj.identity_errors.is_empty() && obj.type_errors.is_empty());
    }

    #[test]
    fn owner_must_be_a_ray_controller() {
        for refs in [
            r#"[{"apiVersion":"ray.io/v1","kind":"RayJob"}]"#,
            r#"[{"apiVersion":"batch/v1","kind":"RayJob","controller":true}]"#,
            r#"[{"apiVersion":"ray.io/v1","kind":"Other","controller":true}]"#,
        ] {
            let json = format!(r#"{{"metadata":{{"ownerReferences":{refs}}}}}"#);
            assert_eq!(parse(RayKind::RayCluster, &json).owner, Owner::TopLevel);
        }
        let json = r#"{"metadata":{"ownerReferences":[{"apiVersion":"ray.io/v1alpha1","kind":"RayJob","controller":true}]}}"#;
        assert_eq!(parse(RayKind::RayCluster, json).owner, Owner::RayJob);
        // A RayService is never a child.
        assert_eq!(parse(RayKind::RayService, json).owner, Owner::TopLevel);
    }

    #[test]
    fn reads_a_rayservice_cluster_config() {
        let obj = parse(
            RayKind::RayService,
            r#"{"spec":{"suspend":true,"rayClusterConfig":{"enableInTreeAutoscaling":true,
                "workerGroupSpecs":[{"groupName":"g"}]}}}"#,
        );
        assert_eq!(obj.suspend, None);
        assert_eq!(obj.suspend_parents, 2);
        assert_eq!(obj.cluster.autoscaling, Some(true));
        assert_eq!(obj.cluster.groups, vec![GroupName::Named("g".into())]);
        assert_eq!(obj.label_parents, 0);
    }

    #[test]
    fn empty_and_null_queue_labels_are_absent() {
        for labels in [
            r#"{"kueue.x-k8s.io/queue-name":""}"#,
            r#"{"kueue.x-k8s.io/queue-name":null}"#,
            "null",
        ] {
            let json = format!(r#"{{"metadata":{{"labels":{labels}}}}}"#);
            let obj = parse(RayKind::RayCluster, &json);
            assert_eq!(obj.queue_name, None, "{labels}");
            assert!(obj.identity_errors.is_empty());
        }
    }

    #[test]
    fn wrong_types_name_their_path() {
        let obj = parse(
            RayKind::RayService,
            r#"{"metadata":{"labels":{"kueue.x-k8s.io/queue-name":5},"ownerReferences":{}},
               "spec":{"rayClusterConfig":{"enableInTreeAutoscaling":"yes","workerGroupSpecs":[3,{"groupName":[]}]}}}"#,
        );
        let paths =
            |errors: &[FieldError]| errors.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        assert_eq!(
            paths(&obj.identity_errors),
            [
                "metadata.labels[kueue.x-k8s.io/queue-name]: Invalid value: \"number\": must be of type string"
            ]
        );
        assert_eq!(
            paths(&obj.type_errors),
            [
                "metadata.ownerReferences: Invalid value: \"object\": must be of type array",
                "spec.rayClusterConfig.enableInTreeAutoscaling: Invalid value: \"string\": must be of type boolean",
                "spec.rayClusterConfig.workerGroupSpecs[0]: Invalid value: \"number\": must be of type object",
                "spec.rayClusterConfig.workerGroupSpecs[1].groupName: Invalid value: \"array\": must be of type string",
            ]
        );
    }

    #[test]
    fn non_objects_are_unreadable() {
        for json in ["[]", "\"x\"", "7"] {
            assert!(read(RayKind::RayCluster, json).is_err(), "{json}");
        }
        assert_eq!(read(RayKind::RayCluster, "null").unwrap(), None);
    }
}
