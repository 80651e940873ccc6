//! Defaulting on CREATE: the queue label, suspension and an elastic job's
//! scheduling gates, as a minimal JSON patch.
//!
//! Each step changes the [`RayObject`] view as the patch changes the object,
//! so validation afterwards sees the object as it will be stored.

use super::cluster::{Cluster, OwnerKind};
use super::config::{Policy, RayJobWorkload};
use super::elastic::{self, ELASTIC_JOB_GATE};
use super::errors::echoed;
use super::kinds::RayKind;
use super::local_queues::DEFAULT_LOCAL_QUEUE;
use super::ray::{Owner, QUEUE_NAME_KEY, RayObject, queue_label_path};
use super::warning::Warning;
use super::workload::{is_suspended_workload, needs_elastic_job_gates};
use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation};
use serde_json::Value;

/// One change the mutating webhook makes (bounded set, fit for metric labels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// Queue label copied from the legacy annotation.
    QueueLabelFromAnnotation,
    /// Queue label set to `--default-queue`.
    DefaultQueueLabel,
    /// Queue label set to the namespace's LocalQueue `default` (Kueue's LocalQueue defaulting).
    LocalQueueDefaultLabel,
    /// A RayCronJob's run given its RayCronJob's queue label.
    CronJobQueueLabel,
    /// `spec.suspend` (RayService: `spec.rayClusterConfig.suspend`) set to true.
    Suspend,
    /// The elastic-job scheduling gate added to pod templates.
    ElasticJobGate,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::QueueLabelFromAnnotation => "queue_label_from_annotation",
            Change::DefaultQueueLabel => "default_queue_label",
            Change::LocalQueueDefaultLabel => "local_queue_default_label",
            Change::CronJobQueueLabel => "cron_job_queue_label",
            Change::Suspend => "suspend",
            Change::ElasticJobGate => "elastic_job_gate",
        }
    }
}

/// The patch being built, with what it does in words.
#[derive(Debug, Default)]
pub struct Mutation {
    pub patch: Vec<PatchOperation>,
    pub changes: Vec<Change>,
    pub warnings: Vec<Warning>,
}

impl Mutation {
    fn add(&mut self, path: &[&str], value: Value) {
        self.patch.push(PatchOperation::Add(AddOperation {
            path: PointerBuf::from_tokens(path.iter().copied()),
            value,
        }));
    }

    /// Adds `value` at `path`, creating first the parent maps after the
    /// `present` ones that exist.
    fn add_with_parents(&mut self, path: &[&str], present: usize, value: Value) {
        for depth in present..path.len().saturating_sub(1) {
            if let Some(parent) = path.get(..=depth) {
                self.add(parent, Value::Object(Default::default()));
            }
        }
        self.add(path, value);
    }
}

/// Step 1: give the object a queue label if it has none: the legacy
/// annotation's, its RayCronJob's, `--default-queue` (only outside the
/// excluded namespaces), or the namespace's LocalQueue `default`.
pub fn queue_label(
    obj: &mut RayObject,
    namespace: Option<&str>,
    policy: &Policy,
    cluster: &dyn Cluster,
    out: &mut Mutation,
) {
    let has_default_local_queue =
        || namespace.is_some_and(|ns| cluster.local_queue(ns, DEFAULT_LOCAL_QUEUE) == Some(true));
    if obj.queue_name.is_some() || !obj.identity_errors.is_empty() {
        return;
    }
    let (queue, change, warning) = if let Some(legacy) = &obj.legacy_queue_name {
        (
            legacy.clone(),
            Change::QueueLabelFromAnnotation,
            format!(
                "set label {QUEUE_NAME_KEY}={legacy:?} from the legacy annotation of that name: \
                 Kueue v0.15 and later read only the label"
            ),
        )
    } else if let Some((cron, queue)) = cron_queue(obj, namespace, cluster) {
        let warning = format!(
            "set label {QUEUE_NAME_KEY}={:?}: the label of RayCronJob {cron:?}, which \
             created this run (KubeRay copies no labels to runs)",
            echoed(&queue)
        );
        (queue, Change::CronJobQueueLabel, warning)
    } else if let (Some(default), true, false) = (
        &policy.default_queue,
        is_top_level(obj, policy),
        obj.namespace_excluded,
    ) {
        (
            default.clone(),
            Change::DefaultQueueLabel,
            format!(
                "set label {QUEUE_NAME_KEY}={default:?}: no queue was given, so the default queue applies"
            ),
        )
    } else if obj.owner == Owner::TopLevel && has_default_local_queue() {
        (
            DEFAULT_LOCAL_QUEUE.to_owned(),
            Change::LocalQueueDefaultLabel,
            format!(
                "set label {QUEUE_NAME_KEY}={DEFAULT_LOCAL_QUEUE:?}: no queue was given and \
                 the namespace has a LocalQueue named {DEFAULT_LOCAL_QUEUE:?} (Kueue's LocalQueue defaulting)"
            ),
        )
    } else {
        return;
    };
    out.add_with_parents(
        &["metadata", "labels", QUEUE_NAME_KEY],
        obj.label_parents,
        Value::from(queue.as_str()),
    );
    obj.label_parents = 2;
    obj.queue_name = Some(queue);
    out.changes.push(change);
    out.warnings.push(Warning::on(queue_label_path(), warning));
}

/// The name of the RayCronJob that created the RayJob `obj` and its queue
/// label, when the cluster view knows it.
fn cron_queue(
    obj: &RayObject,
    namespace: Option<&str>,
    cluster: &dyn Cluster,
) -> Option<(String, String)> {
    let cron = obj
        .controller
        .as_ref()
        .filter(|c| c.kind == OwnerKind::RayCronJob && obj.kind == RayKind::RayJob)?;
    let queue = cluster.cron_queue(namespace?, cron)?;
    Some((echoed(&cron.name).into_owned(), queue))
}

/// Whether `obj` is a top-level object to Kueue (so `--default-queue` applies):
/// not the child of a workload Kueue manages through its parent.
fn is_top_level(obj: &RayObject, policy: &Policy) -> bool {
    match obj.owner {
        Owner::TopLevel => true,
        // With the RayJob integration off, Kueue sees the RayCluster alone.
        Owner::RayJob => policy.rayjob_workload == RayJobWorkload::Raycluster,
        Owner::RayService => false,
    }
}

/// Step 2: suspend a managed workload so that Kueue starts it on admission.
pub fn suspend(obj: &mut RayObject, policy: &Policy, out: &mut Mutation) {
    let managed = policy.manages(obj);
    if !managed || !is_suspended_workload(obj, policy) || obj.suspend == Some(true) {
        return;
    }
    let info = obj.kind.info();
    let path = info.suspend;
    out.add_with_parents(path, obj.suspend_parents, Value::Bool(true));
    obj.suspend_parents = path.len().saturating_sub(1);
    if path.starts_with(info.cluster_spec) {
        // The parents created for suspend include the cluster spec.
        obj.cluster_parents = info.cluster_spec.len();
    }
    obj.suspend = Some(true);
    let admitted_by = match &obj.queue_name {
        Some(queue) => format!("LocalQueue {queue:?} admits it"),
        None => "Kueue admits it".to_string(),
    };
    out.changes.push(Change::Suspend);
    let field = obj.kind.suspend_path();
    let message = format!(
        "set {field}=true: Kueue starts this {} when {admitted_by}",
        obj.kind.as_str(),
    );
    out.warnings.push(Warning::on(field, message));
}

/// Step 3: gate every pod template of a managed elastic job that lacks the
/// gate, so that its pods wait for Kueue's admission.
pub fn elastic_job_gates(obj: &mut RayObject, policy: &Policy, out: &mut Mutation) {
    if !policy.manages(obj) || !needs_elastic_job_gates(obj, policy) {
        return;
    }
    let cluster_spec = obj.kind.info().cluster_spec;
    let cluster_exists = obj.cluster_parents >= cluster_spec.len();
    let mut gated = Vec::new();
    for (group, template) in elastic::ungated(&obj.cluster.head, &obj.cluster.templates) {
        let add = elastic::gate_add(group, template);
        let path: Vec<&str> = cluster_spec
            .iter()
            .copied()
            .chain(add.tokens.iter().map(String::as_str))
            .collect();
        let present = if cluster_exists {
            cluster_spec.len() + add.present
        } else {
            obj.cluster_parents
        };
        out.add_with_parents(&path, present, add.value);
        // A missing cluster spec has no workers: only the head was gated.
        obj.cluster_parents = cluster_spec.len();
        gated.push(group);
    }
    if gated.is_empty() {
        return;
    }
    let cluster = obj.kind.cluster_spec_path();
    let places: Vec<String> = gated.iter().map(|group| group.path()).collect();
    for template in std::iter::once(&mut obj.cluster.head).chain(obj.cluster.templates.iter_mut()) {
        if !template.unreadable {
            template.gated = true;
            template.depth = 4;
        }
    }
    out.changes.push(Change::ElasticJobGate);
    out.warnings.push(Warning::on(
        cluster.clone(),
        format!(
            "added the scheduling gate {ELASTIC_JOB_GATE} to the pod templates of {cluster} ({}): \
         the pods of this elastic job wait until Kueue admits it and lifts the gate",
            places.join(", ")
        ),
    ));
}

/// CREATE of an object with a queue label in a namespace that the release
/// leaves alone even so (Kueue v0.15+): it is not suspended, which would
/// strand it, and the user is told that Kueue will not manage it there.
pub fn excluded_namespace_warning(
    obj: &RayObject,
    namespace: Option<&str>,
    policy: &Policy,
    out: &mut Mutation,
) {
    let (Some(queue), true) = (&obj.queue_name, policy.ignores_queue_label(obj)) else {
        return;
    };
    let release = policy
        .kueue_version
        .map_or("this release".to_string(), |r| format!("Kueue {r}"));
    out.warnings.push(Warning::on(
        queue_label_path(),
        format!(
            "not suspended: namespace {:?} is outside Kueue's managedJobsNamespaceSelector \
             (--exclude-namespace), where {release} never gives an object a Workload, queue \
             label or not; the label {QUEUE_NAME_KEY}={queue:?} is ignored and the {} runs \
             unmanaged",
            namespace.unwrap_or_default(),
            obj.kind.as_str()
        ),
    ));
}
