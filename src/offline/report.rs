//! The reports of `check`: text for people, JSON for programs, JUnit XML,
//! GitHub Actions workflow commands, SARIF and Markdown for CI systems, and
//! the mutated objects as YAML. Every finding carries `file:line:column`.

use super::dry_run::{Ruling, SkippedDocument, Verdict, Violation};
use super::yaml::Position;
use crate::policy::Knob;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Every verdict of one run, in input order.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub summary: Summary,
    /// The effective policy: every knob, its value and where it came from.
    pub policy: Vec<Knob>,
    pub objects: Vec<Verdict>,
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
    pub fn add_verdict(&mut self, verdict: Verdict) {
        match verdict.ruling {
            Ruling::Admitted => self.summary.admitted += 1,
            Ruling::Denied => self.summary.denied += 1,
            Ruling::Unmanaged => self.summary.unmanaged += 1,
        }
        self.objects.push(verdict);
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

    /// One line per object, each finding indented below it as
    /// `file:line:column: finding`, the skipped documents, then the summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for verdict in &self.objects {
            let word = verdict.ruling.as_str().to_uppercase();
            let _ = writeln!(
                out,
                "{word:<9} {} ({})",
                object_name(verdict),
                verdict.source
            );
            for (at, finding) in findings(verdict) {
                let _ = writeln!(out, "    {}: {finding}", verdict.source.locate(at));
            }
        }
        for skipped in &self.skipped {
            let what = skipped.kind.as_deref().unwrap_or("document");
            let _ = writeln!(
                out,
                "SKIPPED   {what} ({}): {}",
                skipped.source, skipped.reason
            );
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

    /// A JUnit XML report: one test case per Ray object (class name: its
    /// source), a failure per denial, a skipped case per unmanaged object
    /// (a failure with `--require-managed`) and per skipped document.
    pub fn junit(&self) -> Result<String, quick_junit::SerializeError> {
        use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
        let mut suite = TestSuite::new("kueue-ray-webhook check");
        for verdict in &self.objects {
            let located = |items: Vec<(Position, String)>| {
                items
                    .into_iter()
                    .map(|(at, text)| format!("{}: {text}", verdict.source.locate(at)))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let failure = |message: String, ty: &str| {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(message)
                    .set_type(ty)
                    .set_description(located(findings(verdict)));
                status
            };
            let status = match verdict.ruling {
                Ruling::Admitted => TestCaseStatus::success(),
                Ruling::Denied => failure(
                    verdict.message.clone().unwrap_or_else(|| "denied".into()),
                    "Denied",
                ),
                Ruling::Unmanaged if self.require_managed => {
                    failure(unmanaged_message(verdict), "Unmanaged")
                }
                Ruling::Unmanaged => {
                    let mut status = TestCaseStatus::skipped();
                    status
                        .set_message(unmanaged_message(verdict))
                        .set_type("Unmanaged");
                    status
                }
            };
            let mut case = TestCase::new(object_name(verdict), status);
            case.set_classname(verdict.source.to_string());
            if verdict.ruling == Ruling::Admitted && !verdict.patch.is_empty() {
                case.set_system_out(located(findings(verdict)));
            }
            suite.add_test_case(case);
        }
        for skipped in &self.skipped {
            let mut status = TestCaseStatus::skipped();
            status
                .set_message(skipped.reason.clone())
                .set_type("Skipped");
            let what = skipped.kind.as_deref().unwrap_or("document");
            let mut case = TestCase::new(format!("{what} {}", skipped.source), status);
            case.set_classname(skipped.source.to_string());
            suite.add_test_case(case);
        }
        let mut report = Report::new("kueue-ray-webhook");
        report.add_test_suite(suite);
        report.to_string()
    }

    /// GitHub Actions workflow commands: an `::error` per violation (and per
    /// unmanaged object under `--require-managed`), a `::notice` per
    /// mutation, a `::warning` per warning; then the summary line.
    pub fn github(&self) -> String {
        let mut out = String::new();
        for verdict in &self.objects {
            let title = format!("{} {}", object_name(verdict), verdict.ruling.as_str());
            let mut command = |level: &str, at: Position, message: &str| {
                let _ = writeln!(
                    out,
                    "::{level} file={},line={},col={},title={}::{}",
                    github_property(&relative_path(&verdict.source.file)),
                    at.line,
                    at.column,
                    github_property(&title),
                    github_data(message)
                );
            };
            if verdict.ruling == Ruling::Denied && verdict.violations.is_empty() {
                let message = verdict.message.as_deref().unwrap_or("denied");
                command("error", verdict.source.at, message);
            }
            for violation in &verdict.violations {
                command("error", violation.at, &describe_violation(violation));
            }
            if verdict.ruling == Ruling::Unmanaged {
                let level = if self.require_managed {
                    "error"
                } else {
                    "notice"
                };
                command(level, verdict.source.at, &unmanaged_message(verdict));
            }
            for operation in &verdict.patch {
                command("notice", operation.at, &describe_operation(&operation.item));
            }
            for warning in &verdict.warnings {
                command("warning", warning.at, &warning.message);
            }
        }
        let _ = writeln!(out, "kueue-ray-webhook check: {}", self.summary);
        out
    }

    /// SARIF 2.1.0: one rule per violation reason (and for unmanaged objects
    /// and warnings), one result per finding, each with its file, line and column.
    pub fn sarif(&self) -> Result<String, serde_json::Error> {
        let mut rules: BTreeMap<String, Value> = BTreeMap::new();
        let mut results = Vec::new();
        let mut result = |rule: &str, level: &str, file: &str, at: Position, message: String| {
            rules
                .entry(rule.to_owned())
                .or_insert_with(|| sarif_rule(rule));
            results.push((
                rule.to_owned(),
                level.to_owned(),
                file.to_owned(),
                at,
                message,
            ));
        };
        for verdict in &self.objects {
            let file = &verdict.source.file;
            let name = object_name(verdict);
            if verdict.ruling == Ruling::Denied && verdict.violations.is_empty() {
                let message = verdict.message.clone().unwrap_or_else(|| "denied".into());
                result(
                    "Denied",
                    "error",
                    file,
                    verdict.source.at,
                    format!("{name}: {message}"),
                );
            }
            for violation in &verdict.violations {
                let rule = if violation.reason.is_empty() {
                    "Denied"
                } else {
                    &violation.reason
                };
                let message = format!("{name}: {}", describe_violation(violation));
                result(rule, "error", file, violation.at, message);
            }
            if verdict.ruling == Ruling::Unmanaged {
                let level = if self.require_managed {
                    "error"
                } else {
                    "note"
                };
                let message = format!("{name}: {}", unmanaged_message(verdict));
                result("Unmanaged", level, file, verdict.source.at, message);
            }
            for warning in &verdict.warnings {
                let message = format!("{name}: {}", warning.message);
                result("Warning", "warning", file, warning.at, message);
            }
        }
        let rule_ids: Vec<&String> = rules.keys().collect();
        let results: Vec<Value> = results
            .iter()
            .map(|(rule, level, file, at, message)| {
                json!({
                    "ruleId": rule,
                    "ruleIndex": rule_ids.iter().position(|id| *id == rule),
                    "level": level,
                    "message": {"text": message},
                    "locations": [{"physicalLocation": {
                        "artifactLocation": {"uri": relative_path(file)},
                        "region": {"startLine": at.line, "startColumn": at.column},
                    }}],
                })
            })
            .collect();
        let log = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "kueue-ray-webhook",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://kueue.sigs.k8s.io/docs/tasks/run/rayclusters/",
                    "rules": rules.into_values().collect::<Vec<_>>(),
                }},
                "results": results,
            }],
        });
        serde_json::to_string_pretty(&log).map(|mut text| {
            text.push('\n');
            text
        })
    }

    /// Markdown for `$GITHUB_STEP_SUMMARY` or a pull-request comment: the
    /// summary, then a table per file.
    pub fn markdown(&self) -> String {
        let mut out = String::from("## kueue-ray-webhook check\n\n");
        let _ = writeln!(out, "**{}**\n", self.summary);
        let mut by_file: BTreeMap<&str, Vec<&Verdict>> = BTreeMap::new();
        for verdict in &self.objects {
            by_file
                .entry(&verdict.source.file)
                .or_default()
                .push(verdict);
        }
        for (file, verdicts) in by_file {
            let _ = writeln!(out, "### `{}`\n", file.replace('`', "'"));
            let _ = writeln!(out, "| Line | Object | Verdict | Findings |");
            let _ = writeln!(out, "| ---: | --- | --- | --- |");
            for verdict in verdicts {
                let icon = match verdict.ruling {
                    Ruling::Admitted => "✅ admitted",
                    Ruling::Denied => "❌ denied",
                    Ruling::Unmanaged if self.require_managed => "❌ unmanaged",
                    Ruling::Unmanaged => "⚪ unmanaged",
                };
                let cell: Vec<String> = findings(verdict)
                    .into_iter()
                    .map(|(at, finding)| format!("line {}: {}", at.line, markdown_cell(&finding)))
                    .collect();
                let _ = writeln!(
                    out,
                    "| {} | {} | {icon} | {} |",
                    verdict.source.at.line,
                    markdown_cell(&object_name(verdict)),
                    cell.join("<br>")
                );
            }
            out.push('\n');
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(
                out,
                "<details><summary>{} skipped documents</summary>\n",
                self.skipped.len()
            );
            for skipped in &self.skipped {
                let what = skipped.kind.as_deref().unwrap_or("document");
                let _ = writeln!(
                    out,
                    "- `{}` {}: {}",
                    skipped.source.to_string().replace('`', "'"),
                    markdown_cell(what),
                    markdown_cell(&skipped.reason)
                );
            }
            out.push_str("\n</details>\n");
        }
        out
    }
}

/// An object's findings in order, each with the position of its field:
/// the denial message or unmanaged reason, violations, patch operations, warnings.
fn findings(verdict: &Verdict) -> Vec<(Position, String)> {
    let mut out = Vec::new();
    match verdict.ruling {
        Ruling::Denied if verdict.violations.is_empty() => {
            let message = verdict.message.clone().unwrap_or_else(|| "denied".into());
            out.push((verdict.source.at, message));
        }
        Ruling::Unmanaged => out.push((verdict.source.at, unmanaged_message(verdict))),
        Ruling::Admitted if verdict.patch.is_empty() => {
            out.push((verdict.source.at, "unchanged".into()));
        }
        _ => {}
    }
    for violation in &verdict.violations {
        out.push((violation.at, describe_violation(violation)));
    }
    for operation in &verdict.patch {
        out.push((operation.at, describe_operation(&operation.item)));
    }
    for warning in &verdict.warnings {
        out.push((warning.at, format!("warning: {}", warning.message)));
    }
    out
}

fn unmanaged_message(verdict: &Verdict) -> String {
    verdict
        .message
        .clone()
        .unwrap_or_else(|| "Kueue does not manage this object".into())
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
fn describe_violation(violation: &Violation) -> String {
    if violation.path.is_empty() {
        violation.message.clone()
    } else {
        format!("{}: {}", violation.path, violation.message)
    }
}

/// A workflow command's message: `%`, CR and LF escaped (GitHub's toolkit rules).
fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,` escaped.
fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The path as given, without `./`: GitHub's annotations and code scanning
/// want paths relative to the repository, with `/`.
fn relative_path(file: &str) -> String {
    file.trim_start_matches("./").replace('\\', "/")
}

/// A SARIF rule with its help text. The ids are the Kubernetes cause
/// reasons the webhook returns, plus `Unmanaged`, `Warning` and `Denied`.
fn sarif_rule(id: &str) -> Value {
    let (short, help) = match id {
        "FieldValueInvalid" => (
            "A field has a value Kueue cannot run",
            "The webhook refuses this value for a Kueue-managed Ray object (in-tree \
             autoscaling on, a worker group name Kueue cannot use as a PodSet name, an \
             invalid queue name, a queue label changed while running). The message says \
             how to fix it.",
        ),
        "FieldValueTooMany" => (
            "Too many worker groups for a Kueue Workload",
            "A Kueue Workload holds at most 8 PodSets: the head and 7 worker groups \
             (--max-worker-groups). Merge worker groups.",
        ),
        "FieldValueRequired" => (
            "A required field is missing",
            "Kueue names a PodSet after each worker group: give every group a groupName.",
        ),
        "FieldValueDuplicate" => (
            "Two worker groups give the same PodSet name",
            "Kueue lower-cases group names into PodSet names, which must be unique.",
        ),
        "FieldValueTypeInvalid" => (
            "A field has the wrong type",
            "The webhook could not read a field the rules need: fix its type.",
        ),
        "FieldValueNotFound" => (
            "The queue label names no LocalQueue",
            "No LocalQueue of that name exists in the object's namespace (from \
             --local-queues): Kueue would leave the workload pending forever. Create the \
             LocalQueue or fix the label.",
        ),
        "Unmanaged" => (
            "Kueue does not manage this object",
            "The object has no kueue.x-k8s.io/queue-name label and the webhook runs without \
             --manage-jobs-without-queue-name: Kueue ignores it and its rules are not \
             applied. Add the label, or a --default-queue.",
        ),
        "Warning" => (
            "The webhook warns about this object",
            "kubectl would print this warning when the object is created.",
        ),
        _ => (
            "The webhook denies this object",
            "The webhook's message says why.",
        ),
    };
    json!({
        "id": id,
        "name": id,
        "shortDescription": {"text": short},
        "fullDescription": {"text": help},
        "help": {"text": help},
    })
}

/// A Markdown table cell: `|` escaped, newlines as `<br>`, HTML special characters escaped.
fn markdown_cell(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace('\n', "<br>")
}

/// The admitted objects as they would be stored, each YAML document headed
/// by a comment naming its source.
pub fn patched_yaml<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> String {
    let mut out = String::new();
    for verdict in verdicts {
        if let Some(yaml) = &verdict.patched {
            let _ = writeln!(out, "---\n# source: {}", verdict.source);
            out.push_str(yaml);
        }
    }
    out
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
        let text = patched_yaml([verdict]);
        let path = dir.join(&name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
