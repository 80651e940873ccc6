//! Kueue's topology-aware scheduling annotations on the head's and each
//! worker group's pod template, validated as Kueue's webhooks do: which may
//! be combined, which need which, the form of each value, how a slice
//! compares with its PodSet's pod count, and which PodSets may be grouped.
//! Kueue checks them on every object, managed or not, so this does too.
//!
//! Sources (Kueue): `pkg/controller/jobframework/tas_validation.go`
//! (`ValidateTASPodSetRequest`, `ValidateSliceSizeAnnotationUpperBound`,
//! `ValidatePodSetGroupingTopology`), `pkg/controller/jobframework/tas.go`
//! (`podSetTopologyRequestBuilder.Build`), called from
//! `pkg/controller/jobs/raycluster/common.go` (`ValidateTopologyRequest`,
//! `BuildPodSets`) and `raycluster_webhook.go`; read at the branches
//! `release-0.14` to `release-0.19` and main of 2026-08-22 (`ff69552e79`,
//! `v0.20.0-devel`). v0.20's changes (#14820 spreading, #15111 grouped
//! slicing, #15640 partial slices) are read from their merged revisions of
//! the same files, against `CHANGELOG/CHANGELOG-0.20.md`: no v0.20 tag was
//! at hand (docs/policy.md, "Topology annotations").

mod go_json;
mod layers;
mod quantity;
mod spreading;

use super::errors::{ErrorKind, FieldError, Rule, quoted};
use super::json::Field;
use super::names::qualified_name;
use super::violations::Violations;
use super::wire::TemplateMetaDoc;
use std::collections::HashMap;

pub const REQUIRED: &str = "kueue.x-k8s.io/podset-required-topology";
pub const PREFERRED: &str = "kueue.x-k8s.io/podset-preferred-topology";
pub const UNCONSTRAINED: &str = "kueue.x-k8s.io/podset-unconstrained-topology";
pub const SLICE_REQUIRED: &str = "kueue.x-k8s.io/podset-slice-required-topology";
pub const SLICE_SIZE: &str = "kueue.x-k8s.io/podset-slice-size";
pub const GROUP_NAME: &str = "kueue.x-k8s.io/podset-group-name";
/// Up to three slice layers as a JSON array (Kueue v0.17, #9506).
pub const SLICE_LAYERS: &str = "kueue.x-k8s.io/podset-slice-required-topology-constraints";
/// How far workloads spread over domains, as a JSON object (Kueue v0.20, #14820).
pub const SPREADING: &str = "kueue.x-k8s.io/podset-topology-spreading";

/// The topology annotations of one pod template (string values only: any
/// other type is the API server's to reject).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    pub required: Option<String>,
    pub preferred: Option<String>,
    pub unconstrained: Option<String>,
    pub slice_required: Option<String>,
    pub slice_size: Option<String>,
    pub group_name: Option<String>,
    pub slice_layers: Option<String>,
    pub spreading: Option<String>,
}

impl Topology {
    pub(super) fn from_doc(metadata: Field<TemplateMetaDoc>) -> Self {
        let Field::Value(TemplateMetaDoc {
            annotations: Field::Value(doc),
        }) = metadata
        else {
            return Topology::default();
        };
        let value = |field: Field<String>| match field {
            Field::Value(value) => Some(value),
            _ => None,
        };
        Topology {
            required: value(doc.required),
            preferred: value(doc.preferred),
            unconstrained: value(doc.unconstrained),
            slice_required: value(doc.slice_required),
            slice_size: value(doc.slice_size),
            group_name: value(doc.group_name),
            slice_layers: value(doc.slice_layers),
            spreading: value(doc.spreading),
        }
    }

    /// The level Kueue's PodSet asks for: required wins over preferred, as in
    /// `Build`; `None` for neither.
    fn level(&self) -> Option<Level<'_>> {
        match (&self.required, &self.preferred) {
            (Some(required), _) => Some(Level::Required(required)),
            (None, Some(preferred)) => Some(Level::Preferred(preferred)),
            (None, None) => None,
        }
    }

    /// The group Kueue puts this PodSet in: a group name beside a level.
    fn group(&self) -> Option<&str> {
        self.level().and(self.group_name.as_deref())
    }
}

/// A PodSet's topology request, as the grouping rule compares them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level<'a> {
    Required(&'a str),
    Preferred(&'a str),
}

/// How a release's Kueue treats [`SLICE_LAYERS`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SliceLayers {
    /// Not an annotation Kueue knows (before v0.17): ignored.
    #[default]
    Unknown,
    /// Behind `TASMultiLayerTopology`, Alpha and off (v0.17, v0.18): denied.
    Gated,
    /// The gate is Beta and on (v0.19 and later): validated.
    Checked,
}

/// The topology rules in force: the release's row, and the spreading gate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// `podset-unconstrained-topology: "false"` is rejected (v0.20, #15262).
    pub false_unconstrained: bool,
    /// A grouped PodSet may also be sliced (v0.20, #15111,
    /// `TASGroupedPodSetSlicing` Beta and on).
    pub grouped_slicing: bool,
    pub slice_layers: SliceLayers,
    /// A last slice may be partial, so more than one layer must divide the
    /// pod count instead (v0.20, #15640, `TASPartialSlices` Beta and on).
    pub partial_slices: bool,
    /// [`SPREADING`] is validated: the release has it (v0.20) and the
    /// cluster runs the Alpha gate `TASTopologySpreading`
    /// (`--tas-topology-spreading`). Off, Kueue ignores the annotation.
    pub spreading: bool,
}

/// Which pod template a PodSet comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    Head,
    Worker(usize),
    /// A RayJob's submitter (`K8sJobMode`): Kueue groups its PodSet (one
    /// pod) with the others, and checks nothing else of its annotations.
    Submitter,
}

impl Template {
    /// The template's annotations, below the cluster spec at `base`; the
    /// submitter's template sits beside the cluster spec.
    fn annotations(self, base: &str) -> String {
        match self {
            Template::Head => format!("{base}.headGroupSpec.template.metadata.annotations"),
            Template::Worker(i) => {
                format!("{base}.workerGroupSpecs[{i}].template.metadata.annotations")
            }
            Template::Submitter => {
                let job = base.strip_suffix(".rayClusterSpec").unwrap_or(base);
                format!("{job}.submitterPodTemplate.metadata.annotations")
            }
        }
    }
}

/// One PodSet of the object: the head's (one pod), a worker group's, or a
/// RayJob's submitter's (one pod).
#[derive(Clone, Copy, Debug)]
pub struct PodSet<'a> {
    pub template: Template,
    pub topology: &'a Topology,
    /// Kueue's pod count ([`worker_pods`](super::ray::worker_pods)); `None`
    /// when unknown, which skips the rules that need it.
    pub pods: Option<i32>,
}

/// All the errors of the PodSets of one cluster spec at `base` (`spec`,
/// `spec.rayClusterConfig`, `spec.rayClusterSpec`): each template's
/// annotations, then (when Kueue could build every PodSet's topology request,
/// as it checks these only then) each slice against its pod count, and the
/// groups.
pub fn validate_pod_sets(
    pod_sets: &[PodSet<'_>],
    base: &dyn Fn() -> String,
    rules: Rules,
    errors: &mut Violations,
) {
    let annotations = |template: Template| template.annotations(&base());
    // Kueue validates the head's and the workers' annotations, not the submitter's.
    let checked = pod_sets
        .iter()
        .filter(|set| set.template != Template::Submitter);
    for set in checked.clone() {
        validate(set.topology, &|| annotations(set.template), rules, errors);
    }
    if !pod_sets.iter().all(|set| builds(set.topology, rules)) {
        // The head's and the workers' annotations say why; the submitter's
        // are not validated, so Kueue's webhook answers with the build error.
        let submitter = pod_sets
            .iter()
            .find(|set| set.template == Template::Submitter && !builds(set.topology, rules));
        if let Some(set) = submitter {
            let detail = "Kueue cannot build the submitter's PodSet from these annotations: an \
                          unconstrained value that is no boolean, a slice size that is no 32-bit \
                          integer, or slice layers that are not 1 to 3 layers of JSON; fix or \
                          remove them"
                .to_string();
            let path = annotations(set.template);
            errors.push(error(path, ErrorKind::Invalid, None, detail));
        }
        return;
    }
    for set in checked {
        if let Some(pods) = set.pods {
            let at = || annotations(set.template);
            slices_fit(set.topology, pods, &at, rules, errors);
        }
    }
    groups(pod_sets, &annotations, rules, errors);
}

/// What Go's `strconv.ParseBool` accepts.
fn parses_as_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Whether Go's `strconv.ParseUint(value, 10, 64)` accepts `value`: digits
/// only (unlike Rust's parse, no leading `+`), within 64 bits.
fn parses_as_uint64(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_digit()) && value.parse::<u64>().is_ok()
}

/// What Go's `strconv.ParseInt(value, 10, 32)` accepts.
fn parses_as_int32(value: &str) -> Option<i32> {
    value.parse::<i32>().ok()
}

/// A field error of this rule.
fn error(path: String, kind: ErrorKind, value: Option<String>, detail: String) -> FieldError {
    FieldError {
        path,
        kind,
        value,
        detail,
        rule: Rule::InvalidTopologyAnnotation,
    }
}

/// The errors of one template's annotations; `annotations` is their path
/// (`spec.workerGroupSpecs[0].template.metadata.annotations`). Kueue's
/// `ValidateTASPodSetRequest`.
pub fn validate(
    topology: &Topology,
    annotations: &dyn Fn() -> String,
    rules: Rules,
    errors: &mut Violations,
) {
    let at = |key: &str| format!("{}[{key}]", annotations());
    let t = topology;
    let levels = [&t.required, &t.preferred, &t.unconstrained];
    if levels.iter().filter(|a| a.is_some()).count() > 1 {
        errors.push(error(
            annotations(),
            ErrorKind::Invalid,
            None,
            format!("at most one of {REQUIRED}, {PREFERRED} and {UNCONSTRAINED} may be set"),
        ));
    }
    for (key, value) in [
        (REQUIRED, &t.required),
        (PREFERRED, &t.preferred),
        (SLICE_REQUIRED, &t.slice_required),
    ] {
        if let Some(value) = value
            && let Err(detail) = qualified_name(value)
        {
            let detail = format!("must name a node label (a topology level): {detail}");
            errors.push(error(
                at(key),
                ErrorKind::Invalid,
                Some(quoted(value)),
                detail,
            ));
        }
    }
    if let Some(group) = &t.group_name {
        if parses_as_uint64(group) {
            let detail = "must not be a number".to_string();
            errors.push(error(
                at(GROUP_NAME),
                ErrorKind::Invalid,
                Some(quoted(group)),
                detail,
            ));
        }
        if !rules.grouped_slicing {
            for (other, present) in [
                (SLICE_SIZE, t.slice_size.is_some()),
                (SLICE_REQUIRED, t.slice_required.is_some()),
            ] {
                if present {
                    let detail = format!(
                        "may not be set together with {other}: this Kueue release does not \
                         slice a grouped PodSet (v0.20 does)"
                    );
                    errors.push(error(at(GROUP_NAME), ErrorKind::Forbidden, None, detail));
                }
            }
        }
        if t.level().is_none() {
            let detail = format!("needs {REQUIRED} or {PREFERRED} beside it");
            errors.push(error(at(GROUP_NAME), ErrorKind::Forbidden, None, detail));
        }
    }
    if let Some(value) = &t.unconstrained {
        let detail = match parses_as_bool(value) {
            None => Some("must be a boolean value"),
            Some(false) if rules.false_unconstrained => {
                Some("must be true (Kueue v0.20 rejects false: remove the annotation instead)")
            }
            Some(_) => None,
        };
        if let Some(detail) = detail {
            let path = at(UNCONSTRAINED);
            errors.push(error(
                path,
                ErrorKind::Invalid,
                Some(quoted(value)),
                detail.into(),
            ));
        }
    }
    if let Some(size) = &t.slice_size {
        let detail = match parses_as_int32(size) {
            None => Some("must be an integer (a 32-bit one)"),
            Some(n) if n < 1 => Some("must be at least 1"),
            Some(_) => None,
        };
        if let Some(detail) = detail {
            let path = at(SLICE_SIZE);
            errors.push(error(
                path,
                ErrorKind::Invalid,
                Some(quoted(size)),
                detail.into(),
            ));
        }
    }
    match (&t.slice_required, &t.slice_size) {
        (Some(_), None) => errors.push(error(
            at(SLICE_SIZE),
            ErrorKind::Required,
            None,
            format!("must be set when {SLICE_REQUIRED} is"),
        )),
        (None, Some(_)) => errors.push(error(
            at(SLICE_SIZE),
            ErrorKind::Forbidden,
            None,
            format!("may not be set without {SLICE_REQUIRED}"),
        )),
        _ => {}
    }
    layers::validate(t, &at, rules, errors);
    if rules.spreading {
        spreading::validate(t, &at, errors);
    }
}

/// Whether Kueue can build this template's PodSet topology request (`Build`
/// in `tas.go`). When one cannot, Kueue skips the slice-count and grouping
/// rules for the whole object (the annotation errors already deny it).
fn builds(t: &Topology, rules: Rules) -> bool {
    let sliced = t.slice_required.is_some() && t.slice_size.is_some();
    if t.level().is_none() {
        match &t.unconstrained {
            Some(unconstrained) if parses_as_bool(unconstrained).is_none() => return false,
            Some(_) => {}
            None if !sliced && t.slice_layers.is_none() => return true,
            None => {}
        }
    }
    match (&t.slice_layers, rules.slice_layers) {
        (Some(layers), SliceLayers::Checked) => layers::parse(layers).is_ok_and(|l| l.counted()),
        _ if sliced => t.slice_size.as_deref().and_then(parses_as_int32).is_some(),
        _ => true,
    }
}

/// A slice may not hold more pods than its PodSet (Kueue
/// `ValidateSliceSizeAnnotationUpperBound`; v0.14 on). A slice that does not
/// divide the count is fine: the last one is partial. Only more than one
/// layer must divide it (v0.20, `TASPartialSlices`).
fn slices_fit(
    t: &Topology,
    pods: i32,
    annotations: &dyn Fn() -> String,
    rules: Rules,
    errors: &mut Violations,
) {
    let at = |key: &str| format!("{}[{key}]", annotations());
    if let Some(size) = &t.slice_size
        && let Some(n) = parses_as_int32(size)
        && n > pods
    {
        let detail = format!(
            "must not be greater than the PodSet's pod count {pods} ({}): lower the slice \
             size or raise replicas",
            count_words()
        );
        errors.push(error(
            at(SLICE_SIZE),
            ErrorKind::Invalid,
            Some(quoted(size)),
            detail,
        ));
    }
    if rules.slice_layers != SliceLayers::Unknown
        && let Some(layers) = &t.slice_layers
    {
        layers::fit(layers, pods, &at, rules, errors);
    }
}

/// How the pod count is made, for messages.
fn count_words() -> &'static str {
    "1 for the head; replicas times numOfHosts for a worker group"
}

/// Kueue's `ValidatePodSetGroupingTopology`: PodSets that name one group
/// (beside a level) come in pairs, at least one of them a single pod, with
/// the same level; with spreading, the same spreading annotation.
fn groups(
    pod_sets: &[PodSet<'_>],
    annotations: &dyn Fn(Template) -> String,
    rules: Rules,
    errors: &mut Violations,
) {
    // Groups in the order they first appear, as Kueue's `orderedgroups`;
    // one pass, whatever the number of groups.
    let mut order: Vec<(&str, Vec<&PodSet<'_>>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for set in pod_sets {
        if let Some(name) = set.topology.group() {
            let i = *index.entry(name).or_insert_with(|| {
                order.push((name, Vec::new()));
                order.len() - 1
            });
            if let Some((_, members)) = order.get_mut(i) {
                members.push(set);
            }
        }
    }
    for (name, members) in order {
        let at = |set: &PodSet<'_>| format!("{}[{GROUP_NAME}]", annotations(set.template));
        let [first, second] = members.as_slice() else {
            for set in &members {
                let detail = format!(
                    "a group is exactly 2 PodSets (two of the head, the worker groups and a \
                     RayJob's submitter), got {}: give this group name to exactly one other \
                     template",
                    members.len()
                );
                errors.push(error(
                    at(set),
                    ErrorKind::Invalid,
                    Some(quoted(name)),
                    detail,
                ));
            }
            continue;
        };
        if let (Some(a), Some(b)) = (first.pods, second.pods)
            && a != 1
            && b != 1
        {
            for set in [first, second] {
                let detail = format!(
                    "at least one PodSet of a group must be a single pod, got {a} and {b} pods \
                     ({}): group a worker group with the head, or give one 1 pod",
                    count_words()
                );
                errors.push(error(
                    at(set),
                    ErrorKind::Invalid,
                    Some(quoted(name)),
                    detail,
                ));
            }
        }
        // Go reads an absent annotation as "": absent and empty agree.
        let spreading = |set: &PodSet<'_>| set.topology.spreading.clone().unwrap_or_default();
        if rules.spreading && spreading(first) != spreading(second) {
            for (set, other) in [(first, second), (second, first)] {
                let detail = format!(
                    "must carry the same {SPREADING} annotation as {} in group {}, or neither may",
                    annotations(other.template),
                    quoted(name)
                );
                errors.push(error(
                    annotations(set.template),
                    ErrorKind::Invalid,
                    None,
                    detail,
                ));
            }
        }
        if first.topology.level() != second.topology.level() {
            for (set, other) in [(first, second), (second, first)] {
                let detail = format!(
                    "must ask for the same {REQUIRED} or {PREFERRED} level as {} in group {}",
                    annotations(other.template),
                    quoted(name)
                );
                errors.push(error(
                    annotations(set.template),
                    ErrorKind::Invalid,
                    None,
                    detail,
                ));
            }
        }
    }
}
