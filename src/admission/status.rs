//! The `Status` of a denial: a 403 listing the violations in the API
//! server's field-error style, or a 400 for a review that cannot be decided.
//!
//! Bounded whatever the object: the policy keeps at most
//! [`LISTED_VIOLATIONS`](crate::policy::LISTED_VIOLATIONS) violations with
//! values cut to [`ECHO_LIMIT`](crate::policy::ECHO_LIMIT) characters, and
//! this listing stops at [`LISTING_BUDGET`] bytes; what is not listed is
//! counted in one final cause.

use super::warnings::json_len;
use crate::policy::{Decision, FieldError, echoed};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Status, StatusCause, StatusDetails};

/// The most JSON bytes the listed violations take in one answer, message and
/// causes together; the violations past it are counted, not listed.
pub const LISTING_BUDGET: usize = 32 * 1024;

/// A `403 Forbidden` status listing the violations: the message and causes
/// of `apierrors.NewInvalid`, but not its reason. kubectl prints an
/// `Invalid` error from its causes alone, dropping the API server's
/// `admission webhook "…" denied the request` prefix, so a user could not
/// tell our denial from the CRD's own validation; it prints a `Forbidden`
/// one whole (seen against kube-apiserver and kubectl v1.37, docs/e2e.md).
/// `name` is the request's (the object's own, or its `generateName`, when
/// the request has none).
pub(super) fn invalid(group: &str, kind: &str, name: Option<&str>, decision: &Decision) -> Status {
    let name = echoed(name.or(decision.object_name.as_deref()).unwrap_or_default());
    let (group, kind) = (echoed(group), echoed(kind));
    let violations = &decision.violations;
    let mut errors: Vec<String> = Vec::with_capacity(violations.len() + 1);
    let mut causes: Vec<StatusCause> = Vec::with_capacity(violations.len() + 1);
    let mut spent = 0;
    for violation in violations.iter() {
        let (error, cause) = listing(violation);
        spent += json_len(&error) + json_len(&cause.message) + json_len(&cause.field);
        if spent > LISTING_BUDGET {
            break;
        }
        errors.push(error);
        causes.push(cause);
    }
    let unlisted = violations.total() - errors.len();
    if unlisted > 0 {
        let more = format!(
            "{unlisted} more {} not listed",
            if unlisted == 1 {
                "violation"
            } else {
                "violations"
            }
        );
        errors.push(format!("and {more}"));
        causes.push(StatusCause {
            field: None,
            message: Some(format!(
                "{more}: an answer lists the first {} of {}",
                causes.len(),
                violations.total()
            )),
            reason: None,
        });
    }
    let list = match errors.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    Status {
        code: Some(403),
        reason: Some("Forbidden".into()),
        status: Some("Failure".into()),
        message: Some(format!("{kind}.{group} {name:?} is invalid: {list}")),
        details: Some(StatusDetails {
            name: Some(name.into_owned()),
            group: Some(group.into_owned()),
            kind: Some(kind.into_owned()),
            causes: Some(causes),
            ..StatusDetails::default()
        }),
        ..Status::default()
    }
}

/// One violation as the message lists it, and as its cause.
fn listing(violation: &FieldError) -> (String, StatusCause) {
    let cause = StatusCause {
        field: Some(violation.path.clone()),
        message: Some(violation.body()),
        reason: Some(violation.kind.cause_type().into()),
    };
    (violation.to_string(), cause)
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
