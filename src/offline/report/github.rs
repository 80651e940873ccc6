//! GitHub Actions workflow commands: annotations on the pull request.

use super::{
    Report, describe_operation, describe_violation, object_name, relative_path, unmanaged_message,
};
use crate::offline::dry_run::Verdict;
use crate::offline::yaml::Position;
use std::fmt::Write as _;

impl Report {
    /// GitHub Actions workflow commands: an `::error` per violation (and per
    /// unmanaged object under `--require-managed`), a `::notice` per
    /// mutation, a `::warning` per warning; then the summary line.
    pub fn github(&self) -> String {
        let mut out = String::new();
        for object in &self.objects {
            let title = format!("{} {}", object_name(object), object.verdict.as_str());
            let mut command = |level: &str, at: Position, message: &str| {
                let _ = writeln!(
                    out,
                    "::{level} file={},line={},col={},title={}::{}",
                    github_property(&relative_path(&object.source.file)),
                    at.line,
                    at.column,
                    github_property(&title),
                    github_data(message)
                );
            };
            if object.verdict == Verdict::Denied && object.violations.is_empty() {
                let message = object.message.as_deref().unwrap_or("denied");
                command("error", object.source.at, message);
            }
            for violation in &object.violations {
                command("error", violation.at, &describe_violation(violation));
            }
            if object.verdict == Verdict::Unmanaged {
                let level = if self.require_managed {
                    "error"
                } else {
                    "notice"
                };
                command(level, object.source.at, &unmanaged_message(object));
            }
            for operation in &object.patch {
                command("notice", operation.at, &describe_operation(&operation.item));
            }
            for warning in &object.warnings {
                command("warning", warning.at, &warning.message);
            }
        }
        let _ = writeln!(out, "kueue-ray-webhook check: {}", self.summary);
        out
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
