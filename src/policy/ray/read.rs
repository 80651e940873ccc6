//! Reading a Ray object's fields off its wire view: a wrong JSON type becomes
//! a [`FieldError`] at its path, never a crash.

use super::super::elastic::{ELASTIC_JOB_GATE, PodTemplate};
use super::super::errors::{ErrorKind, FieldError, Rule};
use super::super::json::{Expected, Field, JsonType};
use super::super::topology::Topology;
use super::super::violations::Violations;
use super::super::wire::{DeletionPolicyDoc, TemplateDoc};

pub(super) fn type_error(
    path: impl Into<String>,
    found: JsonType,
    expected: JsonType,
) -> FieldError {
    FieldError {
        path: path.into(),
        kind: ErrorKind::TypeInvalid,
        value: Some(format!("\"{}\"", found.as_str())),
        detail: format!("must be of type {}", expected.as_str()),
        rule: Rule::WrongFieldType,
    }
}

/// The value of `field` when present; a wrong type is recorded at `path`.
pub(super) fn read<T: Expected>(
    field: Field<T>,
    path: impl FnOnce() -> String,
    errors: &mut Violations,
) -> Option<T> {
    match field {
        Field::Value(value) => Some(value),
        Field::Absent => None,
        Field::Wrong(found) => {
            errors.push(type_error(path(), found, T::TYPE));
            None
        }
    }
}

pub(super) fn non_empty(field: Field<String>) -> Option<String> {
    match field {
        Field::Value(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// `spec.deletionStrategy.<when>.policy`, when a string.
pub(super) fn read_policy(
    doc: Field<DeletionPolicyDoc>,
    when: &'static str,
    errors: &mut Violations,
) -> Option<String> {
    let path = move || format!("spec.deletionStrategy.{when}");
    let doc = read(doc, path, errors)?;
    read(doc.policy, move || format!("{}.policy", path()), errors)
}

pub(super) fn unreadable() -> PodTemplate {
    PodTemplate {
        unreadable: true,
        ..PodTemplate::default()
    }
}

/// A group's `template`, down to its scheduling gates; `group` is the
/// group's path. The group exists (depth 1).
pub(super) fn read_template(
    template: Field<TemplateDoc>,
    group: &dyn Fn() -> String,
    errors: &mut Violations,
) -> PodTemplate {
    let mut found = PodTemplate {
        depth: 1,
        no_containers: true,
        ..PodTemplate::default()
    };
    let before = errors.total();
    let gates_path = || format!("{}.template.spec.schedulingGates", group());
    let gates = read(template, || format!("{}.template", group()), errors)
        .and_then(|template| {
            found.depth = 2;
            found.topology = Topology::from_doc(template.metadata);
            read(
                template.spec,
                || format!("{}.template.spec", group()),
                errors,
            )
        })
        .and_then(|spec| {
            found.depth = 3;
            found.no_containers = match &spec.containers {
                Field::Value(containers) => containers.is_empty(),
                Field::Absent => true,
                Field::Wrong(_) => false,
            };
            read(spec.scheduling_gates, gates_path, errors)
        });
    if let Some(gates) = gates {
        found.depth = 4;
        for (j, gate) in gates.items.into_iter().enumerate() {
            let path = || format!("{}[{j}]", gates_path());
            let name = read(gate, path, errors)
                .and_then(|gate| read(gate.name, || format!("{}.name", path()), errors));
            found.gated |= name.as_deref() == Some(ELASTIC_JOB_GATE);
        }
    }
    found.unreadable = errors.total() > before;
    found
}
