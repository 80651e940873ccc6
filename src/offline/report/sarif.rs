//! SARIF 2.1.0, for code-scanning upload: one rule per violation reason,
//! one result per finding.

use super::{Kind, Report, findings, object_name, relative_path};
use crate::offline::yaml::Position;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One SARIF result before rendering: its rule, level, file, position and message.
struct SarifResult {
    rule: String,
    level: &'static str,
    file: String,
    at: Position,
    message: String,
}

impl Report {
    /// SARIF 2.1.0: one rule per violation reason (and for unmanaged objects
    /// and warnings), one result per finding, each with its file, line and column.
    pub fn sarif(&self) -> Result<String, serde_json::Error> {
        let findings = self.sarif_findings();
        let rules: BTreeMap<&str, Value> = findings
            .iter()
            .map(|finding| (finding.rule.as_str(), sarif_rule(&finding.rule)))
            .collect();
        let rule_ids: Vec<&str> = rules.keys().copied().collect();
        let results: Vec<Value> = findings
            .iter()
            .map(|finding| sarif_result(finding, &rule_ids))
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

    /// Every finding of the run but the patch, in report order: a denial
    /// without violations, each violation, an unmanaged object, each warning.
    fn sarif_findings(&self) -> Vec<SarifResult> {
        let mut results = Vec::new();
        for object in &self.objects {
            let name = object_name(object);
            for finding in findings(object) {
                let (rule, level) = match finding.kind {
                    Kind::Denied => ("Denied", "error"),
                    Kind::Violation(violation) if violation.reason.is_empty() => {
                        ("Denied", "error")
                    }
                    Kind::Violation(violation) => (violation.reason.as_str(), "error"),
                    Kind::Unmanaged if self.require_managed => ("Unmanaged", "error"),
                    Kind::Unmanaged => ("Unmanaged", "note"),
                    Kind::Warning => ("Warning", "warning"),
                    Kind::Unchanged | Kind::Operation => continue,
                };
                results.push(SarifResult {
                    rule: rule.to_owned(),
                    level,
                    file: object.source.file.clone(),
                    at: finding.at,
                    message: format!("{name}: {}", finding.message),
                });
            }
        }
        results
    }
}

/// One SARIF result: the finding at its physical location, with the index
/// of its rule among `rule_ids` (sorted, as the rules are listed).
fn sarif_result(finding: &SarifResult, rule_ids: &[&str]) -> Value {
    json!({
        "ruleId": finding.rule,
        "ruleIndex": rule_ids.iter().position(|id| *id == finding.rule),
        "level": finding.level,
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": relative_path(&finding.file)},
            "region": {"startLine": finding.at.line, "startColumn": finding.at.column},
        }}],
    })
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
