//! Kueue's rules for Ray objects, as pure functions: no I/O, no HTTP types.
//!
//! [`mutate()`] and [`validate()`] take one admission [`Request`] and the
//! [`Policy`] configuration and return a [`Decision`]: the violated rules (none
//! means allowed), the JSON patch (mutating webhook only) and warnings.

pub mod cluster;
pub mod config;
pub mod cron;
pub mod elastic;
pub mod errors;
pub mod json;
pub mod kinds;
pub mod labels;
pub mod local_queues;
pub mod mutate;
pub mod names;
pub mod owners;
pub mod profile;
pub mod ray;
pub mod rayjob;
pub mod release_rules;
pub mod topology;
pub mod validate;
pub mod violations;
pub mod warning;
pub mod wire;
pub mod workload;

pub use cluster::{Claim, Cluster, Controller, OwnerKind, OwnerRead};
pub use config::{KUBE_SYSTEM, Policy, RayJobWorkload, RayServiceWorkload};
pub use errors::{ECHO_LIMIT, ErrorKind, FieldError, RequestError, Rule, cut, echoed};
pub use json::Field;
pub use kinds::{KINDS, KindInfo, RAY_GROUP, RayKind};
pub use kube::core::admission::Operation;
pub use local_queues::LocalQueues;
pub use mutate::Change;
pub use profile::{Knob, Provenance, Release, Source};
pub use ray::{QUEUE_NAME_KEY, RayObject};
pub use violations::{LISTED_VIOLATIONS, Violations};
pub use warning::Warning;
pub use wire::ObjectDoc;

/// `CREATE`, `UPDATE`, …: an operation as the API server spells it.
pub fn operation_name(operation: &Operation) -> &'static str {
    match operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

/// One admission request, as far as the policy reads it.
#[derive(Debug)]
pub struct Request<'a> {
    pub operation: Operation,
    /// `None` for kinds this webhook does not handle: they are allowed unchanged.
    pub kind: Option<RayKind>,
    /// `status`, `scale`, …: requests for subresources are allowed unchanged.
    pub sub_resource: Option<&'a str>,
    /// `request.namespace`: where the object lives (its LocalQueues are
    /// there; excluded namespaces get no default queue and are not managed
    /// without a queue label).
    pub namespace: Option<&'a str>,
    /// `request.object`, read in the same pass as the envelope.
    pub object: Field<ObjectDoc>,
    /// `request.oldObject`.
    pub old_object: Field<ObjectDoc>,
}

impl Request<'_> {
    /// Requests the rules do not look at: other kinds, subresources, and
    /// RayJobs and the RayCronJobs that create them when Kueue's RayJob
    /// integration is off.
    fn out_of_scope(&self, policy: &Policy) -> bool {
        self.kind.is_none()
            || self.sub_resource.is_some_and(|s| !s.is_empty())
            || (matches!(self.kind, Some(RayKind::RayJob | RayKind::RayCronJob))
                && policy.rayjob_workload == RayJobWorkload::Raycluster)
    }
}

/// What the policy decided for one request.
#[derive(Debug, Default)]
pub struct Decision {
    /// Every violated rule; empty means allowed.
    pub violations: Violations,
    /// RFC 6902 operations (mutating webhook, allowed requests only).
    pub patch: json_patch::Patch,
    /// What the patch does, in words.
    pub changes: Vec<Change>,
    /// Messages for the user (`kubectl` prints them), each with its field.
    pub warnings: Vec<Warning>,
    /// `metadata.name` (or `generateName`) of the object, for messages.
    pub object_name: Option<String>,
    /// The owner a server should read from the API server and then decide
    /// again ([`Claim::Miss`]): this decision trusted its reference.
    pub owner_read: Option<OwnerRead>,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.violations.is_empty()
    }

    fn deny_if_violated(mut self) -> Self {
        if !self.allowed() {
            // A denied object is not stored: nothing was changed.
            self.patch.0.clear();
            self.changes.clear();
            self.warnings.clear();
        }
        self
    }
}

/// The request's object, with whether its namespace is excluded (by
/// `--exclude-namespace`, or unmanaged in the cluster view).
fn object(
    req: &mut Request,
    kind: RayKind,
    policy: &Policy,
    cluster: &dyn Cluster,
) -> Result<RayObject, RequestError> {
    let operation = operation_name(&req.operation);
    let wire = std::mem::take(&mut req.object);
    let mut obj = RayObject::from_wire(kind, wire, "object")?
        .ok_or(RequestError::MissingObject { operation })?;
    let unmanaged = req
        .namespace
        .is_some_and(|ns| cluster.namespace_managed(ns) == Some(false));
    obj.namespace_excluded = unmanaged || policy.excludes(req.namespace);
    Ok(obj)
}

/// What is known of the cluster without a server's view: `--local-queues`.
pub fn known(policy: &Policy) -> &dyn Cluster {
    match &policy.local_queues {
        Some(queues) => queues,
        None => &cluster::Unknown,
    }
}

/// The mutating webhook: on CREATE, default the queue label, suspend the
/// workload and gate an elastic job's pods, then validate the result (so a cluster registered with only the
/// mutating webhook still gets the whole policy). Other operations pass.
pub fn mutate(req: Request, policy: &Policy) -> Result<Decision, RequestError> {
    mutate_in(req, policy, known(policy))
}

/// [`mutate`] with what `cluster` knows: LocalQueues, managed namespaces,
/// owners that created their clusters, RayCronJobs' queues.
pub fn mutate_in(
    mut req: Request,
    policy: &Policy,
    cluster: &dyn Cluster,
) -> Result<Decision, RequestError> {
    let Some(kind) = req.kind else {
        return Ok(Decision::default());
    };
    if req.out_of_scope(policy) || req.operation != Operation::Create {
        return Ok(Decision::default());
    }
    let mut obj = object(&mut req, kind, policy, cluster)?;
    if kind.makes_runs() {
        return Ok(cron::decide(obj, req.namespace, policy, cluster));
    }
    let mut mutation = mutate::Mutation::default();
    let owner_read = owners::verify(&mut obj, req.namespace, cluster, &mut mutation.warnings);
    mutate::queue_label(&mut obj, req.namespace, policy, cluster, &mut mutation);
    mutate::suspend(&mut obj, policy, &mut mutation);
    mutate::elastic_job_gates(&mut obj, policy, &mut mutation);
    rayjob::existing_cluster_warning(&obj, policy, &mut mutation);
    mutate::excluded_namespace_warning(&obj, req.namespace, policy, &mut mutation);
    let violations = validate::in_namespace(
        &obj,
        None,
        req.namespace,
        policy,
        cluster,
        &mut mutation.warnings,
    );
    Ok(Decision {
        violations,
        patch: json_patch::Patch(mutation.patch),
        changes: mutation.changes,
        warnings: mutation.warnings,
        object_name: obj.name,
        owner_read,
    }
    .deny_if_violated())
}

/// Why Kueue would not manage the object of `req` as it stands (after the
/// mutating webhook's patch), or `None` when it would: the rules apply only to
/// managed objects, so `check` reports the others as unmanaged, not admitted.
pub fn unmanaged_reason(mut req: Request, policy: &Policy) -> Result<Option<String>, RequestError> {
    let Some(kind) = req.kind else {
        return Ok(Some("not a kind this webhook handles".into()));
    };
    if req.out_of_scope(policy) {
        return Ok(Some(match kind {
            RayKind::RayJob => "with --rayjob-workload raycluster Kueue leaves the RayJob alone \
                                and manages the RayCluster KubeRay creates for it"
                .into(),
            RayKind::RayCronJob => "with --rayjob-workload raycluster Kueue leaves the RayJobs \
                                    this RayCronJob creates alone and manages the RayClusters \
                                    KubeRay creates for them"
                .into(),
            _ => "a subresource: the rules do not apply".into(),
        }));
    }
    let obj = object(&mut req, kind, policy, known(policy))?;
    if kind.makes_runs() {
        return Ok(cron::unmanaged_reason(obj, req.namespace, policy));
    }
    Ok(unmanaged_because(&obj, req.namespace, policy))
}

/// Why Kueue would not manage `obj` in `namespace`, or `None` when it would.
fn unmanaged_because(obj: &RayObject, namespace: Option<&str>, policy: &Policy) -> Option<String> {
    if policy.manages(obj) {
        return None;
    }
    if policy.ignores_queue_label(obj) && obj.queue_name.is_some() {
        let namespace = namespace.unwrap_or_default();
        return Some(format!(
            "namespace {namespace:?} is excluded (--exclude-namespace), and from Kueue v0.15 \
             an object there is never given a Workload, queue label or not: Kueue does not \
             manage this object, so its rules were not applied"
        ));
    }
    if obj.namespace_excluded
        && (policy.default_queue.is_some() || policy.manage_jobs_without_queue_name)
    {
        let namespace = namespace.unwrap_or_default();
        return Some(format!(
            "no {QUEUE_NAME_KEY} label, and namespace {namespace:?} is excluded \
             (--exclude-namespace), where --default-queue and --manage-jobs-without-queue-name \
             do not apply: Kueue does not manage this object, so its rules were not applied"
        ));
    }
    Some(format!(
        "no {QUEUE_NAME_KEY} label and --manage-jobs-without-queue-name is off: Kueue does not \
         manage this object, so its rules were not applied"
    ))
}

/// The validating webhook: CREATE and UPDATE of managed objects must follow
/// the rules; deletes, connects, subresources and objects being deleted pass.
pub fn validate(req: Request, policy: &Policy) -> Result<Decision, RequestError> {
    validate_in(req, policy, known(policy))
}

/// [`validate`] with what `cluster` knows (LocalQueues, managed namespaces).
pub fn validate_in(
    mut req: Request,
    policy: &Policy,
    cluster: &dyn Cluster,
) -> Result<Decision, RequestError> {
    let Some(kind) = req.kind else {
        return Ok(Decision::default());
    };
    match req.operation {
        _ if req.out_of_scope(policy) => return Ok(Decision::default()),
        Operation::Create | Operation::Update => {}
        Operation::Delete | Operation::Connect => return Ok(Decision::default()),
    }
    let obj = object(&mut req, kind, policy, cluster)?;
    if kind.makes_runs() {
        // Finalizers must always be removable; a RayCronJob's runs are
        // created afresh, so nothing of the stored one binds the new one.
        if obj.deleting {
            return Ok(Decision::default());
        }
        return Ok(cron::decide(obj, req.namespace, policy, cluster));
    }
    let old = match req.operation {
        // Finalizers must always be removable.
        Operation::Update if obj.deleting => return Ok(Decision::default()),
        Operation::Update => {
            let old = RayObject::from_wire(kind, req.old_object, "oldObject")?;
            Some(old.ok_or(RequestError::MissingOldObject)?)
        }
        _ => None,
    };
    let mut warnings = Vec::new();
    let violations = validate::in_namespace(
        &obj,
        old.as_ref(),
        req.namespace,
        policy,
        cluster,
        &mut warnings,
    );
    Ok(Decision {
        violations,
        warnings,
        object_name: obj.name,
        ..Decision::default()
    }
    .deny_if_violated())
}

#[cfg(test)]
mod tests;
