//! The rules a Kueue-managed Ray object must follow.

use super::cluster::Cluster;
use super::config::Policy;
use super::elastic::{self, ELASTIC_JOB_KEY};
use super::errors::{ErrorKind, FieldError, Rule, quoted};
use super::json::READ_ITEMS;
use super::kinds::RayKind;
use super::labels;
use super::names::{dns1123_label, dns1123_subdomain};
use super::ray::{GroupName, RayObject, SubmissionMode, queue_label_path};
use super::rayjob::{self, SUBMITTER_POD_SET};
use super::release_rules;
use super::topology::{self, Template};
use super::violations::Violations;
use super::warning::Warning;
use super::workload::{is_suspended_workload, needs_elastic_job_gates};
use std::collections::HashMap;

/// The PodSet name Kueue gives the head group; no worker group may take it.
const HEAD_POD_SET: &str = "head";

/// All violations of `obj` (with `old`, the stored object, on UPDATE).
fn violations(obj: &RayObject, old: Option<&RayObject>, policy: &Policy) -> Violations {
    let mut errors = obj.identity_errors.clone();
    // Kueue checks these on every object, managed or not.
    topology_annotations(obj, policy, &mut errors);
    let managed = policy.manages(obj);
    // A RayJob on an existing cluster is not a Kueue workload: only its
    // queue label's format is checked.
    let workload = managed && !obj.job.selects_cluster_only();
    if managed && !workload {
        queue_name(obj, &mut errors);
    } else if workload {
        errors.append(&obj.type_errors);
        queue_name(obj, &mut errors);
        worker_groups(obj, policy, &mut errors);
        head_containers(obj, policy, &mut errors);
        autoscaling(obj, policy, &mut errors);
        release_rules::multikueue_autoscaling(obj, policy, &mut errors);
        release_rules::upgrade_strategy(obj, policy, &mut errors);
        rayjob::violations(obj, &mut errors);
        labels::values(&obj.labels, &mut errors);
        if needs_elastic_job_gates(obj, policy) {
            errors.append(&obj.template_errors);
            let base = obj.kind.cluster_spec_path();
            elastic::gates(
                &base,
                &obj.cluster.head,
                &obj.cluster.templates,
                &mut errors,
            );
        }
    }
    if let Some(old) = old {
        queue_name_unchanged(obj, old, policy, &mut errors);
        if workload {
            workload_labels_unchanged(obj, old, policy, &mut errors);
            if policy.elastic_jobs {
                let (new, was) = (obj.elastic_job.as_deref(), old.elastic_job.as_deref());
                elastic::annotation_unchanged(new, was, &mut errors);
            }
        }
    }
    errors
}

/// The priority-class and max-exec-time labels on UPDATE, for an object
/// that is Kueue's workload itself (whose suspend field says whether the
/// workload runs); other objects' labels are their workload's business.
fn workload_labels_unchanged(
    obj: &RayObject,
    old: &RayObject,
    policy: &Policy,
    errors: &mut Violations,
) {
    if is_suspended_workload(obj, policy) {
        let suspended = |o: &RayObject| o.suspend == Some(true);
        labels::unchanged(
            &obj.labels,
            &old.labels,
            suspended(obj),
            suspended(old),
            errors,
        );
    }
}

/// Every violation of `obj` in `namespace`, the LocalQueue check against
/// the cluster's view included; its warnings go to `warnings`.
pub fn in_namespace(
    obj: &RayObject,
    old: Option<&RayObject>,
    namespace: Option<&str>,
    policy: &Policy,
    cluster: &dyn Cluster,
    warnings: &mut Vec<Warning>,
) -> Violations {
    let mut errors = violations(obj, old, policy);
    local_queue(obj, namespace, policy, cluster, &mut errors, warnings);
    errors
}

/// A managed object's queue label must name a LocalQueue of its namespace,
/// when the LocalQueues are known: a warning, or a violation with
/// `require_local_queue` (Kueue itself accepts the object, and its workload
/// then waits forever with "LocalQueue doesn't exist").
fn local_queue(
    obj: &RayObject,
    namespace: Option<&str>,
    policy: &Policy,
    cluster: &dyn Cluster,
    errors: &mut Violations,
    warnings: &mut Vec<Warning>,
) {
    let managed = policy.manages(obj);
    let (Some(namespace), Some(queue)) = (namespace, &obj.queue_name) else {
        return;
    };
    if !managed || !obj.identity_errors.is_empty() {
        return;
    }
    if cluster.local_queue(namespace, queue) != Some(false) {
        return;
    }
    if dns1123_subdomain(queue).is_err() {
        return; // already reported as an invalid name
    }
    let detail = format!(
        "no LocalQueue {queue:?} in namespace {}: Kueue would leave the workload pending forever",
        quoted(namespace)
    );
    if policy.require_local_queue {
        errors.push(FieldError {
            path: queue_label_path(),
            kind: ErrorKind::NotFound,
            value: Some(quoted(queue)),
            detail,
            rule: Rule::LocalQueueNotFound,
        });
    } else {
        let field = queue_label_path();
        let message = format!("{field}: {detail}");
        warnings.push(Warning::on(field, message));
    }
}

fn queue_name(obj: &RayObject, errors: &mut Violations) {
    if let Some(queue) = &obj.queue_name
        && let Err(detail) = dns1123_subdomain(queue)
    {
        errors.push(FieldError {
            path: queue_label_path(),
            kind: ErrorKind::Invalid,
            value: Some(quoted(queue)),
            detail,
            rule: Rule::InvalidQueueName,
        });
    }
}

fn worker_groups(obj: &RayObject, policy: &Policy, errors: &mut Violations) {
    // Only the first READ_ITEMS groups are read, so no more can be allowed.
    let limit = rayjob::max_worker_groups(obj, policy).min(READ_ITEMS);
    worker_group_count(obj, limit, errors);
    pod_set_names(obj, limit, errors);
}

/// Where the worker groups are; built only for violations, as this runs on every request.
fn groups_path(obj: &RayObject) -> String {
    format!("{}.workerGroupSpecs", obj.kind.cluster_spec_path())
}

/// At most `limit` worker groups: Kueue's PodSets per Workload, less the others'.
fn worker_group_count(obj: &RayObject, limit: usize, errors: &mut Violations) {
    let count = obj.cluster.group_count;
    if count > limit {
        errors.push(FieldError {
            path: groups_path(obj),
            kind: ErrorKind::TooMany,
            value: Some(count.to_string()),
            detail: format!(
                "must have at most {limit} items{}",
                rayjob::max_worker_groups_reason(obj)
            ),
            rule: Rule::TooManyWorkerGroups,
        });
    }
}

/// PodSet names are the lower-cased group names: unique, not "head" (nor
/// "submitter" beside a submitter Job), DNS-1123 labels. Past the limit,
/// only the groups that may stay are checked (as Kubernetes' own validation
/// stops at a list's limit): the work and the answer follow the policy, not the input.
fn pod_set_names(obj: &RayObject, limit: usize, errors: &mut Violations) {
    let submitter = rayjob::has_submitter_pod_set(obj);
    let groups = obj.cluster.groups.iter().take(limit);
    let mut first_index: HashMap<String, usize> = HashMap::with_capacity(groups.len());
    for (i, group) in groups.enumerate() {
        let path = || format!("{}[{i}].groupName", groups_path(obj));
        let name = match group {
            GroupName::Named(name) => name,
            GroupName::Unnamed => {
                errors.push(FieldError {
                    path: path(),
                    kind: ErrorKind::Required,
                    value: None,
                    detail: "every worker group needs a name: Kueue names its PodSet after it"
                        .into(),
                    rule: Rule::InvalidGroupName,
                });
                continue;
            }
            GroupName::Unreadable => continue,
        };
        let pod_set = name.to_lowercase();
        if let Some(error) = pod_set_name_error(&pod_set, submitter) {
            errors.push(FieldError {
                path: path(),
                kind: ErrorKind::Invalid,
                value: Some(quoted(name)),
                detail: error,
                rule: Rule::InvalidGroupName,
            });
        } else if let Some(first) = first_index.get(&pod_set) {
            errors.push(FieldError {
                path: path(),
                kind: ErrorKind::Duplicate,
                value: Some(quoted(name)),
                detail: format!(
                    "same PodSet name {} as {}[{first}].groupName after lower-casing; \
                     group names must be unique",
                    quoted(&pod_set),
                    groups_path(obj)
                ),
                rule: Rule::InvalidGroupName,
            });
        } else {
            first_index.insert(pod_set, i);
        }
    }
}

/// What is wrong with one PodSet name on its own (duplicates are found by the caller).
fn pod_set_name_error(pod_set: &str, submitter: bool) -> Option<String> {
    if pod_set == HEAD_POD_SET {
        Some(format!(
            "{HEAD_POD_SET:?} is the name of the head's PodSet in Kueue; rename this worker group"
        ))
    } else if submitter && pod_set == SUBMITTER_POD_SET {
        Some(format!(
            "{SUBMITTER_POD_SET:?} is the name of the submitter Job's PodSet in Kueue \
             (K8sJobMode); rename this worker group"
        ))
    } else {
        dns1123_label(pod_set).err().map(|detail| {
            format!(
                "Kueue uses the lower-cased group name {} as a PodSet name: {detail}",
                quoted(pod_set)
            )
        })
    }
}

/// The head's pod template must list containers (Kueue v0.19.6/v0.20,
/// #16067/#16084: Kueue builds the head's PodSet from it). A RayJob without a
/// cluster spec is denied for that already.
fn head_containers(obj: &RayObject, policy: &Policy, errors: &mut Violations) {
    let head = &obj.cluster.head;
    let no_cluster = obj.kind == RayKind::RayJob && !obj.job.has_cluster_spec;
    if !policy.rules.head_containers || !head.no_containers || head.unreadable || no_cluster {
        return;
    }
    errors.push(FieldError {
        path: format!(
            "{}.headGroupSpec.template.spec.containers",
            obj.kind.cluster_spec_path()
        ),
        kind: ErrorKind::Required,
        value: None,
        detail: "the head's pod template needs at least one container: Kueue builds the \
                 head's PodSet from it"
            .into(),
        rule: Rule::HeadContainersMissing,
    });
}

/// The topology annotations of the head's and every worker group's
/// template, and the PodSets they shape (the head is one pod).
fn topology_annotations(obj: &RayObject, policy: &Policy, errors: &mut Violations) {
    let rules = topology::Rules {
        false_unconstrained: policy.rules.unconstrained_false,
        grouped_slicing: policy.rules.tas_grouped_slicing,
        slice_layers: policy.rules.tas_slice_layers,
        partial_slices: policy.rules.tas_partial_slices,
        spreading: policy.rules.tas_spreading && policy.tas_topology_spreading,
    };
    let cluster = &obj.cluster;
    let head = topology::PodSet {
        template: Template::Head,
        topology: &cluster.head.topology,
        pods: Some(1),
    };
    let workers = cluster
        .templates
        .iter()
        .enumerate()
        .map(|(i, template)| topology::PodSet {
            template: Template::Worker(i),
            topology: &template.topology,
            pods: cluster.worker_pods.get(i).copied().flatten(),
        });
    // A RayJob that brings its cluster and submits with a Job: the
    // submitter's PodSet (Kueue `rayjob_controller.go`, `addSubmitterPodSet`).
    let job = &obj.job;
    let submitter = (obj.kind == RayKind::RayJob
        && job.has_cluster_spec
        && job.submission_mode == SubmissionMode::K8sJob)
        .then_some(topology::PodSet {
            template: Template::Submitter,
            topology: &job.submitter,
            pods: Some(1),
        });
    let pod_sets: Vec<_> = std::iter::once(head)
        .chain(workers)
        .chain(submitter)
        .collect();
    let base = || obj.kind.cluster_spec_path();
    topology::validate_pod_sets(&pod_sets, &base, rules, errors);
}

/// KubeRay's autoscaler must be off, unless the object is an elastic job.
fn autoscaling(obj: &RayObject, policy: &Policy, errors: &mut Violations) {
    if obj.cluster.autoscaling == Some(true)
        && !elastic::is_elastic(obj.elastic_job.as_deref(), policy.elastic_jobs)
    {
        let elastic_jobs = if policy.elastic_jobs {
            format!(
                "; or make it an elastic job, which may autoscale: annotate it \
                 {ELASTIC_JOB_KEY}: \"true\""
            )
        } else {
            "; Kueue's elastic jobs, which may autoscale, are off in this configuration \
             (--elastic-jobs)"
                .to_string()
        };
        errors.push(FieldError {
            path: format!("{}.enableInTreeAutoscaling", obj.kind.cluster_spec_path()),
            kind: ErrorKind::Invalid,
            value: Some("true".into()),
            detail: format!(
                "Kueue sizes the cluster, so KubeRay's in-tree autoscaler must be off; \
                 set it to false or remove it{elastic_jobs}"
            ),
            rule: Rule::AutoscalingEnabled,
        });
    }
}

/// The queue label may change only while the workload is suspended.
fn queue_name_unchanged(
    obj: &RayObject,
    old: &RayObject,
    policy: &Policy,
    errors: &mut Violations,
) {
    if obj.queue_name == old.queue_name
        || !obj.identity_errors.is_empty()
        || policy.ignores_queue_label(obj)
    {
        return;
    }
    let how_to_fix = if is_suspended_workload(obj, policy) {
        if obj.suspend == Some(true) {
            return;
        }
        format!(
            "set {}: true in the same update to change it",
            obj.kind.suspend_path()
        )
    } else if obj.kind == RayKind::RayService {
        // `--rayservice-workload raycluster`: the workload is its RayCluster.
        "its RayCluster already runs under the queue it was created with; \
         delete and recreate the RayService to move it to another queue"
            .to_string()
    } else {
        // A child whose parent is Kueue's workload.
        return;
    };
    let from = old.queue_name.as_deref().map_or("none".to_string(), quoted);
    errors.push(FieldError {
        path: queue_label_path(),
        kind: ErrorKind::Invalid,
        value: Some(obj.queue_name.as_deref().map_or("\"\"".to_string(), quoted)),
        detail: format!(
            "field is immutable while the {} is running (was {from}): {how_to_fix}",
            obj.kind.as_str()
        ),
        rule: Rule::QueueNameImmutable,
    });
}
