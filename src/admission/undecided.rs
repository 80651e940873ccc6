//! Answers to bodies that cannot be decided: a 400 in plain text, or, when
//! the request's uid can be read, a denial with code 400 in the review.

use super::wire::{EnvelopeOnly, ResponseOut, UidOnly};
use super::{API_VERSION, Answer, MESSAGE_LIMIT, REVIEW_KIND, Record, TEXT, respond, status};
use crate::policy::json::Field;
use crate::policy::{ECHO_LIMIT, cut, echoed};

/// `apiVersion` and `kind`, when given, must be those of a v1 AdmissionReview.
pub(super) fn check_envelope(api_version: Option<&str>, kind: Option<&str>) -> Result<(), String> {
    if let Some(kind) = kind.filter(|k| *k != REVIEW_KIND) {
        let kind = echoed(kind);
        return Err(format!("kind is {kind:?}, expected {REVIEW_KIND:?}"));
    }
    if let Some(version) = api_version.filter(|v| *v != API_VERSION) {
        let version = echoed(version);
        return Err(format!(
            "apiVersion {version:?} is not supported: register the webhook with \
             admissionReviewVersions: [v1] ({API_VERSION})"
        ));
    }
    Ok(())
}

/// The uid is echoed whole (the API server matches it), so it must be short:
/// the API server's are UUIDs.
pub(super) fn check_uid(uid: &str) -> Result<(), String> {
    if uid.len() > ECHO_LIMIT {
        return Err(format!(
            "request.uid is {} bytes long; at most {ECHO_LIMIT} are answered (the API server sends a UUID)",
            uid.len()
        ));
    }
    Ok(())
}

/// A review with a readable uid that cannot be decided: a denial with code 400.
pub(super) fn undecidable(uid: &str, err: &dyn std::fmt::Display, mut record: Record) -> Answer {
    let message = cut(&err.to_string(), MESSAGE_LIMIT).into_owned();
    record.allowed = false;
    record.mutated = false;
    record.error = Some(message.clone());
    respond(
        ResponseOut {
            uid,
            allowed: false,
            status: Some(status::bad_request(message)),
            patch: None,
            patch_type: None,
            warnings: &[],
        },
        record,
    )
}

/// The body did not parse as a review: answer in the review if its uid can be
/// read, with HTTP 400 otherwise.
pub(super) fn unreadable(body: &[u8], err: &serde_json::Error) -> Answer {
    let why = if body.iter().all(u8::is_ascii_whitespace) {
        "the request body is empty: expected an AdmissionReview (JSON)".to_string()
    } else if err.is_syntax() || err.is_eof() {
        format!("the request body is not valid JSON: {err}")
    } else {
        // serde's message may quote a value from the body.
        let err = err.to_string();
        let err = echoed(&err);
        format!("the request body is not an AdmissionReview request: {err}")
    };
    let Ok(Field::Value(envelope)) = serde_json::from_slice::<Field<EnvelopeOnly>>(body) else {
        return bad_request(why);
    };
    let text = |field: &Field<String>| match field {
        Field::Value(s) => Some(s.clone()),
        Field::Absent => None,
        Field::Wrong(found) => Some(format!("<a JSON {}>", found.as_str())),
    };
    if let Err(why) = check_envelope(
        text(&envelope.api_version).as_deref(),
        text(&envelope.kind).as_deref(),
    ) {
        return bad_request(why);
    }
    let uid = match envelope.request {
        Field::Value(UidOnly {
            uid: Field::Value(uid),
        }) => Some(uid),
        _ => None,
    };
    match uid {
        Some(uid) if check_uid(&uid).is_ok() => {
            let record = Record {
                uid: Some(uid.clone()),
                ..Record::default()
            };
            undecidable(&uid, &why, record)
        }
        _ => bad_request(why),
    }
}

pub(super) fn bad_request(message: String) -> Answer {
    let message = cut(&message, MESSAGE_LIMIT).into_owned();
    let mut body = message.clone().into_bytes();
    body.push(b'\n');
    Answer {
        status: 400,
        content_type: TEXT,
        body,
        record: Record {
            error: Some(message),
            ..Record::default()
        },
    }
}
