//! The JUnit XML report: one test case per object and skipped document.

use super::{Finding, Report, findings, object_name, unmanaged_message};
use crate::offline::dry_run::Verdict;

impl Report {
    /// A JUnit XML report: one test case per Ray object (class name: its
    /// source), a failure per denial, a skipped case per unmanaged object
    /// (a failure with `--require-managed`) and per skipped document.
    pub fn junit(&self) -> Result<String, quick_junit::SerializeError> {
        use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
        let mut suite = TestSuite::new("kueue-ray-webhook check");
        for object in &self.objects {
            let located = |items: Vec<Finding>| {
                items
                    .into_iter()
                    .map(|f| format!("{}: {}", object.source.locate(f.at), f.line()))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let failure = |message: String, ty: &str| {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(message)
                    .set_type(ty)
                    .set_description(located(findings(object)));
                status
            };
            let status = match object.verdict {
                Verdict::Admitted => TestCaseStatus::success(),
                Verdict::Denied => failure(
                    object.message.clone().unwrap_or_else(|| "denied".into()),
                    "Denied",
                ),
                Verdict::Unmanaged if self.require_managed => {
                    failure(unmanaged_message(object), "Unmanaged")
                }
                Verdict::Unmanaged => {
                    let mut status = TestCaseStatus::skipped();
                    status
                        .set_message(unmanaged_message(object))
                        .set_type("Unmanaged");
                    status
                }
            };
            let mut case = TestCase::new(object_name(object), status);
            case.set_classname(object.source.to_string());
            if object.verdict == Verdict::Admitted && !object.patch.is_empty() {
                case.set_system_out(located(findings(object)));
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
}
