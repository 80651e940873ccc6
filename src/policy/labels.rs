//! The label rules of Kueue's Ray webhooks beside the queue name: the
//! Workload's priority class and its maximum execution time.

use super::errors::{ErrorKind, FieldError, Rule, quoted};
use super::names::dns1123_subdomain;
use super::violations::Violations;

/// The Workload's priority class (a `WorkloadPriorityClass` name).
pub const PRIORITY_CLASS_KEY: &str = "kueue.x-k8s.io/priority-class";
/// The Workload's `maximumExecutionTimeSeconds`.
pub const MAX_EXEC_TIME_KEY: &str = "kueue.x-k8s.io/max-exec-time-seconds";

/// The two labels' values (an empty value counts as none, as for the queue label).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkloadLabels {
    pub priority_class: Option<String>,
    pub max_exec_time: Option<String>,
}

fn label_path(key: &str) -> String {
    format!("metadata.labels[{key}]")
}

/// Whether `value` is what the Workload's `maximumExecutionTimeSeconds`
/// (an int32) can hold and Kueue accepts: an integer above zero.
fn is_positive_seconds(value: &str) -> bool {
    value.parse::<i32>().is_ok_and(|seconds| seconds > 0)
}

/// The values' formats (CREATE and UPDATE).
pub fn values(labels: &WorkloadLabels, errors: &mut Violations) {
    if let Some(class) = &labels.priority_class
        && let Err(detail) = dns1123_subdomain(class)
    {
        errors.push(FieldError {
            path: label_path(PRIORITY_CLASS_KEY),
            kind: ErrorKind::Invalid,
            value: Some(quoted(class)),
            detail: format!("Kueue reads it as a WorkloadPriorityClass name: {detail}"),
            rule: Rule::InvalidPriorityClass,
        });
    }
    if let Some(seconds) = &labels.max_exec_time
        && !is_positive_seconds(seconds)
    {
        errors.push(FieldError {
            path: label_path(MAX_EXEC_TIME_KEY),
            kind: ErrorKind::Invalid,
            value: Some(quoted(seconds)),
            detail: format!(
                "must be a positive integer (seconds, at most {}): the Workload's maximum execution time",
                i32::MAX
            ),
            rule: Rule::InvalidMaxExecTime,
        });
    }
}

/// What may change on UPDATE of a workload: `suspended` and `was_suspended`
/// are whether the new and the stored object are suspended.
pub fn unchanged(
    new: &WorkloadLabels,
    old: &WorkloadLabels,
    suspended: bool,
    was_suspended: bool,
    errors: &mut Violations,
) {
    match (&old.priority_class, &new.priority_class) {
        (Some(was), None) => errors.push(FieldError {
            path: label_path(PRIORITY_CLASS_KEY),
            kind: ErrorKind::Invalid,
            value: Some("\"\"".into()),
            detail: format!(
                "the priority class label cannot be removed (was {}): Kueue keeps the Workload's \
                 priority; set another class instead",
                quoted(was)
            ),
            rule: Rule::PriorityClassImmutable,
        }),
        (None, Some(class)) if !suspended => errors.push(FieldError {
            path: label_path(PRIORITY_CLASS_KEY),
            kind: ErrorKind::Invalid,
            value: Some(quoted(class)),
            detail: "the priority class label cannot be added while the workload runs: \
                     add it together with suspend: true, or when creating the object"
                .into(),
            rule: Rule::PriorityClassImmutable,
        }),
        _ => {}
    }
    if new.max_exec_time != old.max_exec_time && !(suspended && was_suspended) {
        let shown = |value: &Option<String>| value.as_deref().map_or("none".into(), quoted);
        errors.push(FieldError {
            path: label_path(MAX_EXEC_TIME_KEY),
            kind: ErrorKind::Invalid,
            value: Some(new.max_exec_time.as_deref().map_or("\"\"".into(), quoted)),
            detail: format!(
                "field is immutable unless the workload is suspended before and after the \
                 update (was {})",
                shown(&old.max_exec_time)
            ),
            rule: Rule::MaxExecTimeImmutable,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(priority_class: Option<&str>, max_exec_time: Option<&str>) -> WorkloadLabels {
        WorkloadLabels {
            priority_class: priority_class.map(String::from),
            max_exec_time: max_exec_time.map(String::from),
        }
    }

    fn format_errors(labels: &WorkloadLabels) -> Vec<String> {
        let mut errors = Violations::default();
        values(labels, &mut errors);
        errors.iter().map(|e| e.to_string()).collect()
    }

    fn update_errors(
        new: &WorkloadLabels,
        old: &WorkloadLabels,
        suspended: bool,
        was_suspended: bool,
    ) -> Vec<Rule> {
        let mut errors = Violations::default();
        unchanged(new, old, suspended, was_suspended, &mut errors);
        errors.iter().map(|e| e.rule).collect()
    }

    #[test]
    fn a_priority_class_is_a_dns_subdomain() {
        assert!(format_errors(&labels(Some("high.priority-1"), None)).is_empty());
        let errors = format_errors(&labels(Some("High"), None));
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with(
                "metadata.labels[kueue.x-k8s.io/priority-class]: Invalid value: \"High\": \
                 Kueue reads it as a WorkloadPriorityClass name: a lowercase RFC 1123 subdomain"
            ),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn max_exec_time_is_a_positive_int32() {
        for good in ["1", "3600", "2147483647"] {
            assert!(
                format_errors(&labels(None, Some(good))).is_empty(),
                "{good}"
            );
        }
        for bad in ["0", "-5", "1.5", "1h", " 60", "2147483648", "ten"] {
            let errors = format_errors(&labels(None, Some(bad)));
            assert_eq!(
                errors,
                [format!(
                    "metadata.labels[kueue.x-k8s.io/max-exec-time-seconds]: Invalid value: \
                     {}: must be a positive integer (seconds, at most 2147483647): the \
                     Workload's maximum execution time",
                    quoted(bad)
                )],
                "{bad}"
            );
        }
    }

    #[test]
    fn a_priority_class_may_change_and_be_added_while_suspended_but_never_removed() {
        let none = labels(None, None);
        let high = labels(Some("high"), None);
        let low = labels(Some("low"), None);
        // Changed: allowed whether running or not.
        assert!(update_errors(&low, &high, false, false).is_empty());
        // Added: only while suspended.
        assert!(update_errors(&high, &none, true, false).is_empty());
        assert_eq!(
            update_errors(&high, &none, false, true),
            [Rule::PriorityClassImmutable]
        );
        // Removed: never.
        for (suspended, was_suspended) in [(true, true), (false, false), (true, false)] {
            assert_eq!(
                update_errors(&none, &high, suspended, was_suspended),
                [Rule::PriorityClassImmutable]
            );
        }
    }

    #[test]
    fn max_exec_time_changes_only_between_suspended_objects() {
        let none = labels(None, None);
        let short = labels(None, Some("60"));
        let long = labels(None, Some("3600"));
        for (new, old) in [(&long, &short), (&short, &none), (&none, &short)] {
            assert!(update_errors(new, old, true, true).is_empty());
            for (suspended, was_suspended) in [(true, false), (false, true), (false, false)] {
                assert_eq!(
                    update_errors(new, old, suspended, was_suspended),
                    [Rule::MaxExecTimeImmutable],
                    "{new:?} <- {old:?} ({suspended}, {was_suspended})"
                );
            }
        }
        // Unchanged: always fine.
        assert!(update_errors(&short, &short, false, false).is_empty());
    }
}
