//! A RayCronJob (`ray.io/v1`, KubeRay v1.6+, feature gate `RayCronJob`):
//! not a workload, but a schedule that creates a RayJob (a run) from
//! `spec.jobTemplate` (KubeRay `apis/ray/v1/raycronjob_types.go`,
//! `controllers/ray/raycronjob_controller.go` `constructRayJob`).
//!
//! A run's `spec` is a copy of the template, its labels only
//! `ray.io/cronjob-name`: a queue label on the RayCronJob reaches its runs
//! only when the serving webhook gives it to them ([`Policy::cron_runs_labelled`]).
//! So the RayCronJob is judged by its run: the run is built as KubeRay
//! builds it, given its queue label as the webhook would on its CREATE, and
//! decided by the RayJob rules, its errors at `spec.jobTemplate.*`. The
//! RayCronJob itself is never patched (its `spec.suspend` pauses the
//! schedule) and Kueue never manages it.

use super::cluster::Cluster;
use super::config::Policy;
use super::errors::{ErrorKind, FieldError, Rule, quoted};
use super::mutate::{self, Change, Mutation};
use super::ray::{QUEUE_NAME_KEY, RayObject, dotted_run_template, queue_label_path};
use super::validate;
use super::violations::Violations;
use super::warning::Warning;
use super::{Decision, local_queues::DEFAULT_LOCAL_QUEUE};

/// What the webhook would decide for one run of a RayCronJob.
struct Run {
    /// The run as created and mutated: its queue label, suspended.
    obj: RayObject,
    /// How the run got its queue label on CREATE, if it did.
    labelled_by: Option<Change>,
    /// Its violations, at the RayCronJob's paths (`spec.jobTemplate.…`).
    violations: Violations,
    warnings: Vec<Warning>,
}

/// The run of `cron` as the webhook would decide its CREATE: its RayCronJob's
/// queue label when the serving webhook gives it, else the defaults
/// (`--default-queue`, the LocalQueue `default`); then the RayJob rules.
fn decide_run(
    cron: &mut RayObject,
    namespace: Option<&str>,
    policy: &Policy,
    cluster: &dyn Cluster,
) -> Run {
    // Every RayCronJob read off the wire has its run.
    let mut obj = cron
        .run
        .take()
        .map_or_else(|| cron.run_of(None), |run| *run);
    obj.namespace_excluded = cron.namespace_excluded;
    if policy.cron_runs_labelled {
        obj.queue_name = cron.queue_name.clone();
    }
    // The run's own patch is not the RayCronJob's: only what it does to the
    // run's view (its label, its suspension) is kept.
    let mut scratch = Mutation::default();
    mutate::queue_label(&mut obj, namespace, policy, cluster, &mut scratch);
    let labelled_by = scratch.changes.first().copied();
    mutate::suspend(&mut obj, policy, &mut scratch);
    let mut warnings = Vec::new();
    let mut violations =
        validate::in_namespace(&obj, None, namespace, policy, cluster, &mut warnings);
    let template = dotted_run_template(cron.kind);
    violations.rebase("spec.", &format!("{template}."));
    Run {
        labelled_by,
        obj,
        violations,
        warnings,
    }
}

/// Both webhooks, CREATE and UPDATE: the run's violations, and a queue label
/// that the runs will not carry (a warning, or a violation with
/// `deny_unqueued_cron_runs`). Never a patch.
pub fn decide(
    mut cron: RayObject,
    namespace: Option<&str>,
    policy: &Policy,
    cluster: &dyn Cluster,
) -> Decision {
    let run = decide_run(&mut cron, namespace, policy, cluster);
    let mut violations = cron.identity_errors.clone();
    let mut warnings = run.warnings.clone();
    if policy.manages(&run.obj) {
        violations.append(&cron.type_errors);
    }
    violations.append(&run.violations);
    if let (Some(queue), true) = (&cron.queue_name, policy.ignores_queue_label(&cron)) {
        let field = queue_label_path();
        let message = format!(
            "{field}: the RayJobs this RayCronJob creates run unmanaged, outside any quota: \
             namespace {} is outside Kueue's managedJobsNamespaceSelector \
             (--exclude-namespace), where Kueue never gives an object a Workload, queue label \
             or not; the label {QUEUE_NAME_KEY}={} is ignored there",
            quoted(namespace.unwrap_or_default()),
            quoted(queue)
        );
        warnings.push(Warning::on(field, message));
    }
    if let Some(queue) = label_not_carried(&cron, policy) {
        let detail = not_carried_detail(&run, policy);
        if policy.deny_unqueued_cron_runs {
            violations.push(FieldError {
                path: queue_label_path(),
                kind: ErrorKind::Invalid,
                value: Some(quoted(queue)),
                detail,
                rule: Rule::CronQueueLabelNotCarried,
            });
        } else {
            let field = queue_label_path();
            let message = format!("{field}: {detail}");
            warnings.push(Warning::on(field, message));
        }
    }
    Decision {
        violations,
        warnings,
        object_name: cron.name,
        ..Decision::default()
    }
    .deny_if_violated()
}

/// Why Kueue would not manage the runs of `cron`, or `None` when it would
/// (then `check` reports the RayCronJob admitted or denied by its runs' rules).
pub fn unmanaged_reason(
    mut cron: RayObject,
    namespace: Option<&str>,
    policy: &Policy,
) -> Option<String> {
    let run = decide_run(&mut cron, namespace, policy, super::known(policy));
    let why = super::unmanaged_because(&run.obj, namespace, policy)?;
    if run.obj.queue_name.is_some() || run.obj.namespace_excluded {
        return Some(format!("its runs (RayJobs from spec.jobTemplate): {why}"));
    }
    // With `cron_runs_labelled`, a labelled RayCronJob's runs carry its label.
    let source = if cron.queue_name.is_none() {
        "the RayCronJob has none to give them"
    } else {
        "KubeRay copies none from the RayCronJob, and this webhook gives them its label only \
         when it serves with --api-access (--cron-runs-labelled)"
    };
    Some(format!(
        "its runs (RayJobs from spec.jobTemplate) get no {QUEUE_NAME_KEY} label ({source}) and \
         --manage-jobs-without-queue-name is off: Kueue does not manage them, so the RayJob \
         rules were not applied"
    ))
}

/// The RayCronJob's queue label, when its runs will not carry it. Not one
/// that Kueue would ignore on the runs anyway (an excluded namespace, v0.15+):
/// serving with --api-access would not queue them there, so that advice (or
/// a denial under `deny_unqueued_cron_runs`) would be wrong; the run's own
/// rules say why its namespace is not managed.
fn label_not_carried<'a>(cron: &'a RayObject, policy: &Policy) -> Option<&'a str> {
    if policy.cron_runs_labelled
        || !cron.identity_errors.is_empty()
        || policy.ignores_queue_label(cron)
    {
        return None;
    }
    cron.queue_name.as_deref()
}

/// Why the runs lack the label, what queues them instead, and the fix.
fn not_carried_detail(run: &Run, policy: &Policy) -> String {
    let instead = match (&run.labelled_by, &run.obj.queue_name) {
        (Some(Change::DefaultQueueLabel), Some(queue)) => {
            format!(
                "they are queued by --default-queue {} instead",
                quoted(queue)
            )
        }
        (Some(Change::LocalQueueDefaultLabel), _) => {
            format!("they are queued by the namespace's LocalQueue {DEFAULT_LOCAL_QUEUE:?} instead")
        }
        _ if policy.manages(&run.obj) => "Kueue manages them without a queue label \
             (--manage-jobs-without-queue-name) instead"
            .to_string(),
        _ => "they are not queued at all: Kueue does not manage them, and they start at once, \
              outside any quota"
            .to_string(),
    };
    format!(
        "the RayJobs this RayCronJob creates will not carry this label: KubeRay copies no \
         labels to its runs, and this webhook gives them the RayCronJob's {QUEUE_NAME_KEY} \
         only when it serves with --api-access (check and review: --cron-runs-labelled); \
         {instead}; to queue them here, serve the webhook with --api-access"
    )
}
