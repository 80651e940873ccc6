//! The reports of `check`: text for people, JSON for programs, JUnit XML for
//! CI systems, and the mutated objects as YAML.

use super::admit::{Skipped, Verdict};
use crate::policy::Knob;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// Every verdict of one run, in input order.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub summary: Summary,
    /// The effective policy: every knob, its value and where it came from.
    pub policy: Vec<Knob>,
    pub objects: Vec<Verdict>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub admitted: usize,
    pub denied: usize,
    pub skipped: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} admitted, {} denied, {} skipped",
            self.admitted, self.denied, self.skipped
        )
    }
}

impl Report {
    pub fn add_verdict(&mut self, verdict: Verdict) {
        if verdict.allowed {
            self.summary.admitted += 1;
        } else {
            self.summary.denied += 1;
        }
        self.objects.push(verdict);
    }

    pub fn add_skipped(&mut self, skipped: Skipped) {
        self.summary.skipped += 1;
        self.skipped.push(skipped);
    }

    /// One line per object, its changes or violations indented below it,
    /// then the summary line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for verdict in &self.objects {
            let word = if verdict.allowed {
                "ADMITTED"
            } else {
                "DENIED  "
            };
            let _ = writeln!(out, "{word} {} ({})", object_name(verdict), verdict.source);
            if verdict.allowed {
                if verdict.patch.0.is_empty() {
                    let _ = writeln!(out, "    unchanged");
                }
                for operation in &verdict.patch.0 {
                    let _ = writeln!(out, "    {}", describe_operation(operation));
                }
            } else if verdict.violations.is_empty() {
                let message = verdict.message.as_deref().unwrap_or("denied");
                let _ = writeln!(out, "    {message}");
            }
            for violation in &verdict.violations {
                let _ = writeln!(out, "    {}", describe_violation(violation));
            }
            for warning in &verdict.warnings {
                let _ = writeln!(out, "    warning: {warning}");
            }
        }
        let _ = writeln!(out, "{}", self.summary);
        out
    }

    /// The whole report as one JSON document.
    pub fn json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self).map(|mut text| {
            text.push('\n');
            text
        })
    }

    /// A JUnit XML report: one test case per Ray object (class name: the
    /// file), a failure per denial. Skipped documents are not test cases;
    /// their count is a property of the suite.
    pub fn junit(&self) -> Result<String, quick_junit::SerializeError> {
        use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
        let mut suite = TestSuite::new("kueue-ray-webhook check");
        suite.add_property(Property::new(
            "skipped-documents",
            self.summary.skipped.to_string(),
        ));
        for verdict in &self.objects {
            let status = if verdict.allowed {
                TestCaseStatus::success()
            } else {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let message = verdict.message.clone().unwrap_or_else(|| "denied".into());
                status.set_message(message).set_type("Denied");
                let details: Vec<String> =
                    verdict.violations.iter().map(describe_violation).collect();
                status.set_description(details.join("\n"));
                status
            };
            let mut case = TestCase::new(object_name(verdict), status);
            case.set_classname(verdict.source.to_string());
            let mut out: Vec<String> = verdict.patch.0.iter().map(describe_operation).collect();
            out.extend(verdict.warnings.iter().map(|w| format!("warning: {w}")));
            if !out.is_empty() {
                case.set_system_out(out.join("\n"));
            }
            suite.add_test_case(case);
        }
        let mut report = Report::new("kueue-ray-webhook");
        report.add_test_suite(suite);
        report.to_string()
    }
}

/// `RayCluster ml/train`.
fn object_name(verdict: &Verdict) -> String {
    format!("{} {}/{}", verdict.kind, verdict.namespace, verdict.name)
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
fn describe_violation(violation: &super::admit::Violation) -> String {
    if violation.path.is_empty() {
        violation.message.clone()
    } else {
        format!("{}: {}", violation.path, violation.message)
    }
}

/// The admitted objects as they would be stored, each YAML document headed
/// by a comment naming its source.
pub fn patched_yaml<'a>(
    verdicts: impl IntoIterator<Item = &'a Verdict>,
) -> Result<String, serde_yaml_ng::Error> {
    let mut out = String::new();
    for verdict in verdicts {
        if let Some(object) = &verdict.patched {
            let _ = writeln!(out, "---\n# source: {}", verdict.source);
            out.push_str(&serde_yaml_ng::to_string(object)?);
        }
    }
    Ok(out)
}

/// Writes each admitted object to `dir` as `<namespace>.<kind>.<name>.yaml`
/// (lower-case kind; a `-2`, `-3` … suffix when two objects share a name,
/// e.g. the same object in two files).
pub fn write_patched_dir(dir: &Path, verdicts: &[Verdict]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut taken = std::collections::HashSet::new();
    for verdict in verdicts.iter().filter(|v| v.patched.is_some()) {
        let stem = format!(
            "{}.{}.{}",
            verdict.namespace,
            verdict.kind.to_lowercase(),
            verdict.name.replace('*', "")
        )
        .replace(['/', '\\'], "_");
        let mut name = format!("{stem}.yaml");
        let mut copy = 1;
        while !taken.insert(name.clone()) {
            copy += 1;
            name = format!("{stem}-{copy}.yaml");
        }
        let text = patched_yaml([verdict]).map_err(|e| format!("{}: {e}", verdict.source))?;
        let path = dir.join(&name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
