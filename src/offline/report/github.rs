//! GitHub Actions workflow commands: annotations on the pull request.

use super::{Kind, Report, findings, object_name, relative_path};
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
            for finding in findings(object) {
                let level = match finding.kind {
                    Kind::Denied | Kind::Violation(_) => "error",
                    Kind::Unmanaged if self.require_managed => "error",
                    Kind::Unmanaged | Kind::Operation => "notice",
                    Kind::Warning => "warning",
                    Kind::Unchanged => continue,
                };
                command(level, finding.at, &finding.message);
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
