//! Markdown for `$GITHUB_STEP_SUMMARY` or a pull-request comment.

use super::{Report, findings, object_name};
use crate::offline::dry_run::{CheckedObject, Verdict};
use std::collections::BTreeMap;
use std::fmt::Write as _;

impl Report {
    /// Markdown for `$GITHUB_STEP_SUMMARY` or a pull-request comment: the
    /// summary, then a table per file.
    pub fn markdown(&self) -> String {
        let mut out = String::from("## kueue-ray-webhook check\n\n");
        let _ = writeln!(out, "**{}**\n", self.summary);
        let mut by_file: BTreeMap<&str, Vec<&CheckedObject>> = BTreeMap::new();
        for object in &self.objects {
            by_file.entry(&object.source.file).or_default().push(object);
        }
        for (file, objects) in by_file {
            let _ = writeln!(out, "### `{}`\n", file.replace('`', "'"));
            let _ = writeln!(out, "| Line | Object | Verdict | Findings |");
            let _ = writeln!(out, "| ---: | --- | --- | --- |");
            for object in objects {
                let icon = match object.verdict {
                    Verdict::Admitted => "✅ admitted",
                    Verdict::Denied => "❌ denied",
                    Verdict::Unmanaged if self.require_managed => "❌ unmanaged",
                    Verdict::Unmanaged => "⚪ unmanaged",
                };
                let cell: Vec<String> = findings(object)
                    .into_iter()
                    .map(|f| format!("line {}: {}", f.at.line, markdown_cell(&f.line())))
                    .collect();
                let _ = writeln!(
                    out,
                    "| {} | {} | {icon} | {} |",
                    object.source.at.line,
                    markdown_cell(&object_name(object)),
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

/// A Markdown table cell: `|` escaped, newlines as `<br>`, HTML special characters escaped.
fn markdown_cell(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace('\n', "<br>")
}
