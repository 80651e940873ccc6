//! Defaulting on CREATE: the queue label and suspension, as a minimal JSON patch.
//!
//! Each step changes the [`RayObject`] view as the patch changes the object,
//! so validation afterwards sees the object as it will be stored.

use super::kinds::RayKind;
use super::ray::{Owner, QUEUE_NAME_KEY, RayObject};
use super::{Policy, RayServiceWorkload};
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
    /// `spec.suspend` (RayService: `spec.rayClusterConfig.suspend`) set to true.
    Suspend,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::QueueLabelFromAnnotation => "queue_label_from_annotation",
            Change::DefaultQueueLabel => "default_queue_label",
            Change::Suspend => "suspend",
        }
    }
}

/// The patch being built, with what it does in words.
#[derive(Debug, Default)]
pub struct Mutation {
    pub patch: Vec<PatchOperation>,
    pub changes: Vec<Change>,
    pub warnings: Vec<String>,
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

/// Step 1: give the object a queue label if it has none.
pub fn queue_label(obj: &mut RayObject, policy: &Policy, out: &mut Mutation) {
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
    } else if let (Some(default), Owner::TopLevel) = (&policy.default_queue, obj.owner) {
        (
            default.clone(),
            Change::DefaultQueueLabel,
            format!(
                "set label {QUEUE_NAME_KEY}={default:?}: no queue was given, so the default queue applies"
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
    out.warnings.push(warning);
}

/// Whether Kueue's workload for `obj` is `obj` itself, so that it must be created suspended.
pub fn is_suspended_workload(obj: &RayObject, policy: &Policy) -> bool {
    match (obj.kind, obj.owner, policy.rayservice_workload) {
        (RayKind::RayCluster, Owner::TopLevel, _) => true,
        (RayKind::RayCluster, Owner::RayService, mode) => mode == RayServiceWorkload::Raycluster,
        (RayKind::RayCluster, Owner::RayJob, _) => false,
        (RayKind::RayService, _, mode) => mode == RayServiceWorkload::Rayservice,
    }
}

/// Step 2: suspend a managed workload so that Kueue starts it on admission.
pub fn suspend(obj: &mut RayObject, policy: &Policy, out: &mut Mutation) {
    let managed = obj.queue_name.is_some() || policy.manage_jobs_without_queue_name;
    if !managed || !is_suspended_workload(obj, policy) || obj.suspend == Some(true) {
        return;
    }
    let path = obj.kind.info().suspend;
    out.add_with_parents(path, obj.suspend_parents, Value::Bool(true));
    obj.suspend_parents = path.len().saturating_sub(1);
    obj.suspend = Some(true);
    let admitted_by = match &obj.queue_name {
        Some(queue) => format!("LocalQueue {queue:?} admits it"),
        None => "Kueue admits it".to_string(),
    };
    out.changes.push(Change::Suspend);
    out.warnings.push(format!(
        "set {}=true: Kueue starts this {} when {admitted_by}",
        obj.kind.suspend_path(),
        obj.kind.as_str(),
    ));
}
