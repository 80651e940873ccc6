//! Field errors in the style of Kubernetes' `field.Error`, and request errors.

use std::borrow::Cow;
use std::fmt;

/// The kind of a field error: Kubernetes' `field.ErrorType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Invalid,
    Required,
    Duplicate,
    TooMany,
    TypeInvalid,
    Forbidden,
    NotFound,
    NotSupported,
}

impl ErrorKind {
    /// The `reason` of a `StatusCause` (Kubernetes' `CauseType`).
    pub fn cause_type(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "FieldValueInvalid",
            ErrorKind::Required => "FieldValueRequired",
            ErrorKind::Duplicate => "FieldValueDuplicate",
            ErrorKind::TooMany => "FieldValueTooMany",
            ErrorKind::TypeInvalid => "FieldValueTypeInvalid",
            ErrorKind::Forbidden => "FieldValueForbidden",
            ErrorKind::NotFound => "FieldValueNotFound",
            ErrorKind::NotSupported => "FieldValueNotSupported",
        }
    }

    fn words(self) -> &'static str {
        match self {
            ErrorKind::Invalid | ErrorKind::TypeInvalid => "Invalid value",
            ErrorKind::Required => "Required value",
            ErrorKind::Duplicate => "Duplicate value",
            ErrorKind::TooMany => "Too many",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::NotFound => "Not found",
            ErrorKind::NotSupported => "Unsupported value",
        }
    }
}

/// Which rule a violation breaks: a small fixed set, fit for metric labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    TooManyWorkerGroups,
    AutoscalingEnabled,
    InvalidGroupName,
    InvalidQueueName,
    QueueNameImmutable,
    InvalidPriorityClass,
    PriorityClassImmutable,
    InvalidMaxExecTime,
    MaxExecTimeImmutable,
    ElasticJobGateMissing,
    ElasticJobImmutable,
    WrongFieldType,
    HeadContainersMissing,
    ZeroDowntimeUpgrade,
    MultiKueueAutoscaling,
    InvalidTopologyAnnotation,
    // RayJob
    ClusterSelectorWithClusterSpec,
    ClusterSpecMissing,
    ShutdownAfterJobFinishesOff,
    DeletionRulesSet,
    DeletionPolicyKeepsPods,
    LocalQueueNotFound,
    // RayCronJob
    CronQueueLabelNotCarried,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::TooManyWorkerGroups => "too_many_worker_groups",
            Rule::AutoscalingEnabled => "autoscaling_enabled",
            Rule::InvalidGroupName => "invalid_group_name",
            Rule::QueueNameImmutable => "queue_name_immutable",
            Rule::InvalidQueueName => "invalid_queue_name",
            Rule::InvalidPriorityClass => "invalid_priority_class",
            Rule::PriorityClassImmutable => "priority_class_immutable",
            Rule::InvalidMaxExecTime => "invalid_max_exec_time",
            Rule::MaxExecTimeImmutable => "max_exec_time_immutable",
            Rule::ElasticJobGateMissing => "elastic_job_gate_missing",
            Rule::ElasticJobImmutable => "elastic_job_immutable",
            Rule::WrongFieldType => "wrong_field_type",
            Rule::HeadContainersMissing => "head_containers_missing",
            Rule::ZeroDowntimeUpgrade => "zero_downtime_upgrade",
            Rule::MultiKueueAutoscaling => "multikueue_autoscaling",
            Rule::InvalidTopologyAnnotation => "invalid_topology_annotation",
            Rule::ClusterSelectorWithClusterSpec => "cluster_selector_with_cluster_spec",
            Rule::ClusterSpecMissing => "cluster_spec_missing",
            Rule::ShutdownAfterJobFinishesOff => "shutdown_after_job_finishes_off",
            Rule::DeletionRulesSet => "deletion_rules_set",
            Rule::DeletionPolicyKeepsPods => "deletion_policy_keeps_pods",
            Rule::LocalQueueNotFound => "local_queue_not_found",
            Rule::CronQueueLabelNotCarried => "cron_queue_label_not_carried",
        }
    }
}

/// One violation: `path: Kind: value: detail`, as `kubectl` shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path in Kubernetes notation, e.g. `spec.workerGroupSpecs[2].groupName`.
    pub path: String,
    pub kind: ErrorKind,
    /// The offending value, already rendered (`"Head"`, `true`, `8`).
    pub value: Option<String>,
    /// What is wrong and how to fix it.
    pub detail: String,
    pub rule: Rule,
}

impl FieldError {
    /// The message without the path (a `StatusCause`'s `message`).
    pub fn body(&self) -> String {
        let mut out = self.kind.words().to_string();
        if let Some(value) = &self.value {
            out.push_str(": ");
            out.push_str(value);
        }
        if !self.detail.is_empty() {
            out.push_str(": ");
            out.push_str(&self.detail);
        }
        out
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.body())
    }
}

/// Renders a string value the way Kubernetes field errors quote it, cut to
/// [`ECHO_LIMIT`] characters ([`echoed`]).
pub fn quoted(s: &str) -> String {
    serde_json::Value::from(echoed(s).as_ref()).to_string()
}

/// The most characters of any one value from the request that an answer, a
/// log line or a report repeats: the answer's size must not follow the input's.
pub const ECHO_LIMIT: usize = 256;

/// `s` as it may be repeated back: whole when short, else its first
/// [`ECHO_LIMIT`] characters and a marker with the full length.
pub fn echoed(s: &str) -> Cow<'_, str> {
    cut(s, ECHO_LIMIT)
}

/// `s` whole when at most `limit` characters, else its first `limit` and a
/// marker with the full length.
pub fn cut(s: &str, limit: usize) -> Cow<'_, str> {
    match s.char_indices().nth(limit) {
        None => Cow::Borrowed(s),
        Some((cut, _)) => Cow::Owned(format!(
            "{}...[truncated: {} bytes]",
            s.get(..cut).unwrap_or_default(),
            s.len()
        )),
    }
}

/// Why a request cannot be decided at all (answered with code 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("{operation} request without request.object")]
    MissingObject { operation: &'static str },
    #[error("UPDATE request without request.oldObject")]
    MissingOldObject,
    #[error("request.{field} is not a readable {kind} object: {reason}")]
    UnreadableObject {
        field: &'static str,
        kind: &'static str,
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_kubernetes() {
        let e = FieldError {
            path: "spec.workerGroupSpecs".into(),
            kind: ErrorKind::TooMany,
            value: Some("8".into()),
            detail: "must have at most 7 items".into(),
            rule: Rule::TooManyWorkerGroups,
        };
        assert_eq!(
            e.to_string(),
            "spec.workerGroupSpecs: Too many: 8: must have at most 7 items"
        );
        assert_eq!(quoted("a\"b"), r#""a\"b""#);
    }

    #[test]
    fn long_values_are_cut_with_a_marker() {
        let short = "é".repeat(ECHO_LIMIT);
        assert_eq!(echoed(&short), short.as_str());
        let long = format!("{short}x");
        let cut = echoed(&long);
        assert_eq!(cut, format!("{short}...[truncated: {} bytes]", long.len()));
        assert_eq!(
            quoted(&"q".repeat(10_240))
                .chars()
                .filter(|c| *c == 'q')
                .count(),
            ECHO_LIMIT
        );
    }
}
