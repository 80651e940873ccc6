//! The JSON report, for programs: the whole [`Report`] as one document.

use super::Report;

impl Report {
    /// The whole report as one JSON document.
    pub fn json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self).map(|mut text| {
            text.push('\n');
            text
        })
    }
}
