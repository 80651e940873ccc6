//! The text report, for people: one line per object, its findings below.

use super::{Report, findings, object_name};
use std::fmt::Write as _;

impl Report {
    /// One line per object, each finding indented below it as
    /// `file:line:column: finding`, the skipped documents, then the summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for object in &self.objects {
            let word = object.verdict.as_str().to_uppercase();
            let _ = writeln!(out, "{word:<9} {} ({})", object_name(object), object.source);
            for finding in findings(object) {
                let at = object.source.locate(finding.at);
                let _ = writeln!(out, "    {at}: {}", finding.line());
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
}
