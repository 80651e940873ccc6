//! Kueue's topology-aware scheduling annotations on the head's and each
//! worker group's pod template, validated as Kueue's webhooks do: which may
//! be combined, which need which, and the form of each value. Kueue checks
//! them on every object, managed or not, so this does too.
//!
//! Source: Kueue `pkg/controller/jobframework/tas_validation.go`
//! (`ValidateTASPodSetRequest`, main of August 2026), called from
//! `pkg/controller/jobs/raycluster/raycluster_webhook.go`
//! (`validateTopologyRequest`).

use super::errors::{ErrorKind, FieldError, Rule, quoted};
use super::json::Field;
use super::names::qualified_name;
use super::violations::Violations;
use super::wire::TemplateMetaDoc;

pub const REQUIRED: &str = "kueue.x-k8s.io/podset-required-topology";
pub const PREFERRED: &str = "kueue.x-k8s.io/podset-preferred-topology";
pub const UNCONSTRAINED: &str = "kueue.x-k8s.io/podset-unconstrained-topology";
pub const SLICE_REQUIRED: &str = "kueue.x-k8s.io/podset-slice-required-topology";
pub const SLICE_SIZE: &str = "kueue.x-k8s.io/podset-slice-size";
pub const GROUP_NAME: &str = "kueue.x-k8s.io/podset-group-name";

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
        }
    }
}

/// What Go's `strconv.ParseBool` accepts.
fn parses_as_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The errors of one template's annotations; `annotations` is their path
/// (`spec.workerGroupSpecs[0].template.metadata.annotations`).
/// `false_unconstrained`: Kueue v0.20 (#15262) rejects an unconstrained
/// annotation that says false.
pub fn validate(
    topology: &Topology,
    annotations: &dyn Fn() -> String,
    false_unconstrained: bool,
    errors: &mut Violations,
) {
    let at = |key: &str| format!("{}[{key}]", annotations());
    let error = |key: &str, kind, value: Option<&String>, detail: String| FieldError {
        path: at(key),
        kind,
        value: value.map(|v| quoted(v)),
        detail,
        rule: Rule::InvalidTopologyAnnotation,
    };
    let t = topology;
    let levels = [&t.required, &t.preferred, &t.unconstrained];
    if levels.iter().filter(|a| a.is_some()).count() > 1 {
        errors.push(FieldError {
            path: annotations(),
            kind: ErrorKind::Invalid,
            value: None,
            detail: format!(
                "at most one of {REQUIRED}, {PREFERRED} and {UNCONSTRAINED} may be set"
            ),
            rule: Rule::InvalidTopologyAnnotation,
        });
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
            errors.push(error(key, ErrorKind::Invalid, Some(value), detail));
        }
    }
    if let Some(group) = &t.group_name {
        if group.parse::<u64>().is_ok() {
            let detail = "must not be a number".to_string();
            errors.push(error(GROUP_NAME, ErrorKind::Invalid, Some(group), detail));
        }
        for (other, present) in [
            (SLICE_SIZE, t.slice_size.is_some()),
            (SLICE_REQUIRED, t.slice_required.is_some()),
        ] {
            if present {
                let detail = format!("may not be set together with {other}");
                errors.push(error(GROUP_NAME, ErrorKind::Forbidden, None, detail));
            }
        }
        if t.required.is_none() && t.preferred.is_none() {
            let detail = format!("needs {REQUIRED} or {PREFERRED} beside it");
            errors.push(error(GROUP_NAME, ErrorKind::Forbidden, None, detail));
        }
    }
    if let Some(value) = &t.unconstrained {
        match parses_as_bool(value) {
            None => {
                let detail = "must be a boolean value".to_string();
                errors.push(error(
                    UNCONSTRAINED,
                    ErrorKind::Invalid,
                    Some(value),
                    detail,
                ));
            }
            Some(false) if false_unconstrained => {
                let detail = "must be true (Kueue v0.20 rejects false: remove the annotation \
                              instead)"
                    .to_string();
                errors.push(error(
                    UNCONSTRAINED,
                    ErrorKind::Invalid,
                    Some(value),
                    detail,
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(size) = &t.slice_size {
        let detail = match size.parse::<i32>() {
            Err(_) => Some("must be an integer (a 32-bit one)"),
            Ok(n) if n < 1 => Some("must be at least 1"),
            Ok(_) => None,
        };
        if let Some(detail) = detail {
            errors.push(error(
                SLICE_SIZE,
                ErrorKind::Invalid,
                Some(size),
                detail.into(),
            ));
        }
    }
    match (&t.slice_required, &t.slice_size) {
        (Some(_), None) => errors.push(error(
            SLICE_SIZE,
            ErrorKind::Required,
            None,
            format!("must be set when {SLICE_REQUIRED} is"),
        )),
        (None, Some(_)) => errors.push(error(
            SLICE_SIZE,
            ErrorKind::Forbidden,
            None,
            format!("may not be set without {SLICE_REQUIRED}"),
        )),
        _ => {}
    }
}
