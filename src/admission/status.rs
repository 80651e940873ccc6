//! The `Status` of a denial, as the API server writes its own: a 422
//! listing every violation, or a 400 for a review that cannot be decided.

use crate::policy::Decision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

/// A `422 Invalid` status listing every violation, as the API server's own
/// validation reports them (`apierrors.NewInvalid`). `name` is the request's
/// (the object's own, or its `generateName`, when the request has none).
pub(super) fn invalid(group: &str, kind: &str, name: Option<&str>, decision: &Decision) -> Status {
    let name = name.or(decision.object_name.as_deref()).unwrap_or_default();
    let errors: Vec<String> = decision
        .violations
        .iter()
        .map(ToString::to_string)
        .collect();
    let list = match errors.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    Status {
        code: Some(422),
        reason: Some("Invalid".into()),
        status: Some("Failure".into()),
        message: Some(format!("{kind}.{group} {name:?} is invalid: {list}")),
        details: Some(StatusDetails {
            name: Some(name.to_string()),
            group: Some(group.to_string()),
            kind: Some(kind.to_string()),
            causes: Some(
                decision
                    .violations
                    .iter()
                    .map(|v| StatusCause {
                        field: Some(v.path.clone()),
                        message: Some(v.body()),
                        reason: Some(v.kind.cause_type().into()),
                    })
                    .collect(),
            ),
            ..StatusDetails::default()
        }),
        ..Status::default()
    }
}

/// A `400 BadRequest` status: the review could not be decided.
pub(super) fn bad_request(message: String) -> Status {
    Status {
        code: Some(400),
        reason: Some("BadRequest".into()),
        status: Some("Failure".into()),
        message: Some(message),
        ..Status::default()
    }
}
