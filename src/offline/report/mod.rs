//! The reports of `check`: text for people, JSON for programs, JUnit XML,
//! GitHub Actions workflow commands, SARIF and Markdown for CI systems, and
//! the mutated objects as YAML, one file each. Every finding carries
//! `file:line:column`; what the formats share (the summary, the findings of
//! an object in order) is here.

use super::dry_run::{CheckedObject, SkippedDocument, Verdict, Violation};
use super::yaml::Position;
use crate::policy::Knob;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;

mod github;
mod json;
mod junit;
mod markdown;
mod patched;
mod sarif;
mod text;

pub use patched::{patched_yaml, write_patched_dir};

/// Every object of one run, in input order.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub summary: Summary,
    /// The effective policy: every knob, its value and where it came from.
    pub policy: Vec<Knob>,
    pub objects: Vec<CheckedObject>,
    pub skipped: Vec<SkippedDocument>,
    /// `--require-managed`: an unmanaged object is a failure, not a notice.
    #[serde(skip)]
    pub require_managed: bool,
}

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub admitted: usize,
    pub denied: usize,
    pub unmanaged: usize,
    pub skipped: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} admitted, {} denied, {} unmanaged, {} skipped",
            self.admitted, self.denied, self.unmanaged, self.skipped
        )
    }
}

impl Report {
    pub fn add_object(&mut self, object: CheckedObject) {
        match object.verdict {
            Verdict::Admitted => self.summary.admitted += 1,
            Verdict::Denied => self.summary.denied += 1,
            Verdict::Unmanaged => self.summary.unmanaged += 1,
        }
        self.objects.push(object);
    }

    pub fn add_skipped(&mut self, skipped: SkippedDocument) {
        self.summary.skipped += 1;
        self.skipped.push(skipped);
    }

    /// Whether the run fails (exit status 1): a denial, or an unmanaged
    /// object under `--require-managed`.
    pub fn failed(&self) -> bool {
        self.summary.denied > 0 || (self.require_managed && self.summary.unmanaged > 0)
    }

    /// Whether any `ray.io` object was found, checked or not (a RayJob counts).
    pub fn found_ray_objects(&self) -> bool {
        !self.objects.is_empty() || self.skipped.iter().any(SkippedDocument::is_ray)
    }
}

/// What a finding is: the formats that rank findings (GitHub's levels,
/// SARIF's rules) read it; the others only print it.
#[derive(Clone, Copy)]
enum Kind<'a> {
    /// A denial whose answer names no field.
    Denied,
    Violation(&'a Violation),
    Unmanaged,
    /// An admitted object the webhook left as it was.
    Unchanged,
    Operation,
    Warning,
}

/// One finding of an object, on the line of its field.
struct Finding<'a> {
    kind: Kind<'a>,
    at: Position,
    message: String,
}

impl Finding<'_> {
    /// As the text, JUnit and Markdown reports print it (`warning: …`).
    fn line(&self) -> String {
        match self.kind {
            Kind::Warning => format!("warning: {}", self.message),
            _ => self.message.clone(),
        }
    }
}

/// An object's findings in order, each with the position of its field:
/// the denial message, unmanaged reason or "unchanged", violations, patch
/// operations, warnings. (An unmanaged object is allowed: it has no violations.)
fn findings(object: &CheckedObject) -> Vec<Finding<'_>> {
    let mut out = Vec::new();
    let mut add = |kind, at, message| out.push(Finding { kind, at, message });
    match object.verdict {
        Verdict::Denied if object.violations.is_empty() => {
            let message = object.message.clone().unwrap_or_else(|| "denied".into());
            add(Kind::Denied, object.source.at, message);
        }
        Verdict::Unmanaged => add(Kind::Unmanaged, object.source.at, unmanaged_message(object)),
        Verdict::Admitted if object.patch.is_empty() => {
            add(Kind::Unchanged, object.source.at, "unchanged".into());
        }
        _ => {}
    }
    for violation in &object.violations {
        add(
            Kind::Violation(violation),
            violation.at,
            describe_violation(violation),
        );
    }
    for operation in &object.patch {
        add(
            Kind::Operation,
            operation.at,
            describe_operation(&operation.item),
        );
    }
    for warning in &object.warnings {
        add(Kind::Warning, warning.at, warning.message.clone());
    }
    out
}

fn unmanaged_message(object: &CheckedObject) -> String {
    object
        .message
        .clone()
        .unwrap_or_else(|| "Kueue does not manage this object".into())
}

/// `RayCluster ml/train`.
fn object_name(object: &CheckedObject) -> String {
    format!("{} {}/{}", object.kind, object.namespace, object.name)
}

/// `add /spec/suspend true`, the value as compact JSON.
fn describe_operation(operation: &json_patch::PatchOperation) -> String {
    let value = serde_json::to_value(operation).unwrap_or(Value::Null);
    let field = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or_default();
    let mut line = format!("{} {}", field("op"), field("path"));
    if let Some(from) = value.get("from").and_then(Value::as_str) {
        let _ = write!(line, " from {from}");
    }
    if let Some(value) = value.get("value") {
        let _ = write!(line, " {value}");
    }
    line
}

/// `spec.enableInTreeAutoscaling: Forbidden: ...`.
fn describe_violation(violation: &Violation) -> String {
    if violation.path.is_empty() {
        violation.message.clone()
    } else {
        format!("{}: {}", violation.path, violation.message)
    }
}

/// The path as given, without `./`: GitHub's annotations and code scanning
/// want paths relative to the repository, with `/`.
fn relative_path(file: &str) -> String {
    file.trim_start_matches("./").replace('\\', "/")
}
