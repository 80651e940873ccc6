//! GitHub Actions workflow commands: annotations on the pull request.

use super::{
    Report, describe_operation, describe_violation, object_name, relative_path, unmanaged_message,
};
use crate::offline::dry_run::Ruling;
use crate::offline::yaml::Position;
use std::fmt::Write as _;

impl Report {
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
