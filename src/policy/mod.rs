//! Kueue's rules for Ray objects, as pure functions: no I/O, no HTTP types.
//!
//! [`mutate()`] and [`validate()`] take one admission [`Request`] and the
//! [`Policy`] configuration and return a [`Decision`]: the violated rules (none
//! means allowed), the JSON patch (mutating webhook only) and warnings.

pub mod elastic;
pub mod errors;
pub mod json;
pub mod kinds;
pub mod labels;
pub mod local_queues;
pub mod mutate;
pub mod names;
pub mod profile;
pub mod ray;
pub mod rayjob;
pub mod validate;
pub mod violations;
pub mod warning;
pub mod wire;

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
    /// label (given or defaulted), or every object is managed and its
    /// namespace is not excluded. The one place this is decided.
    pub fn manages(&self, obj: &RayObject) -> bool {
        obj.queue_name.is_some() || (self.manage_jobs_without_queue_name && !obj.namespace_excluded)
    }
}

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
    /// RayJobs when Kueue's RayJob integration is off.
    fn out_of_scope(&self, policy: &Policy) -> bool {
        self.kind.is_none()
            || self.sub_resource.is_some_and(|s| !s.is_empty())
            || (self.kind == Some(RayKind::RayJob)
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

/// The request's object, with whether its namespace is excluded.
fn object(req: &mut Request, kind: RayKind, policy: &Policy) -> Result<RayObject, RequestError> {
    let operation = operation_name(&req.operation);
    let wire = std::mem::take(&mut req.object);
    let mut obj = RayObject::from_wire(kind, wire, "object")?
        .ok_or(RequestError::MissingObject { operation })?;
    obj.namespace_excluded = policy.excludes(req.namespace);
    Ok(obj)
}

/// The mutating webhook: on CREATE, default the queue label, suspend the
/// workload and gate an elastic job's pods, then validate the result (so a cluster registered with only the
/// mutating webhook still gets the whole policy). Other operations pass.
pub fn mutate(mut req: Request, policy: &Policy) -> Result<Decision, RequestError> {
    let Some(kind) = req.kind else {
        return Ok(Decision::default());
    };
    if req.out_of_scope(policy) || req.operation != Operation::Create {
        return Ok(Decision::default());
    }
    let mut obj = object(&mut req, kind, policy)?;
    let mut mutation = mutate::Mutation::default();
    mutate::queue_label(&mut obj, req.namespace, policy, &mut mutation);
    mutate::suspend(&mut obj, policy, &mut mutation);
    mutate::elastic_job_gates(&mut obj, policy, &mut mutation);
    rayjob::existing_cluster_warning(&obj, policy, &mut mutation);
    let mut violations = validate::violations(&obj, None, policy);
    validate::local_queue(
        &obj,
        req.namespace,
        policy,
        &mut violations,
        &mut mutation.warnings,
    );
    Ok(Decision {
        violations,
        patch: json_patch::Patch(mutation.patch),
        changes: mutation.changes,
        warnings: mutation.warnings,
        object_name: obj.name,
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
            _ => "a subresource: the rules do not apply".into(),
        }));
    }
    let obj = object(&mut req, kind, policy)?;
    if policy.manages(&obj) {
        return Ok(None);
    }
    if obj.namespace_excluded
        && (policy.default_queue.is_some() || policy.manage_jobs_without_queue_name)
    {
        let namespace = req.namespace.unwrap_or_default();
        return Ok(Some(format!(
            "no {QUEUE_NAME_KEY} label, and namespace {namespace:?} is excluded \
             (--exclude-namespace), where --default-queue and --manage-jobs-without-queue-name \
             do not apply: Kueue does not manage this object, so its rules were not applied"
        )));
    }
    Ok(Some(format!(
        "no {QUEUE_NAME_KEY} label and --manage-jobs-without-queue-name is off: Kueue does not \
         manage this object, so its rules were not applied"
    )))
}

/// The validating webhook: CREATE and UPDATE of managed objects must follow
/// the rules; deletes, connects, subresources and objects being deleted pass.
pub fn validate(mut req: Request, policy: &Policy) -> Result<Decision, RequestError> {
    let Some(kind) = req.kind else {
        return Ok(Decision::default());
    };
    match req.operation {
        _ if req.out_of_scope(policy) => return Ok(Decision::default()),
        Operation::Create | Operation::Update => {}
        Operation::Delete | Operation::Connect => return Ok(Decision::default()),
    }
    let obj = object(&mut req, kind, policy)?;
    let old = match req.operation {
        // Finalizers must always be removable.
        Operation::Update if obj.deleting => return Ok(Decision::default()),
        Operation::Update => {
            let old = RayObject::from_wire(kind, req.old_object, "oldObject")?;
            Some(old.ok_or(RequestError::MissingOldObject)?)
        }
        _ => None,
    };
    let mut violations = validate::violations(&obj, old.as_ref(), policy);
    let mut warnings = Vec::new();
    validate::local_queue(&obj, req.namespace, policy, &mut violations, &mut warnings);
    Ok(Decision {
        violations,
        warnings,
        object_name: obj.name,
        ..Decision::default()
    }
    .deny_if_violated())
}

#[cfg(test)]
mod rayjob_tests;
#[cfg(test)]
mod tests;
