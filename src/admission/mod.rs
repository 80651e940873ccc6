//! The `admission.k8s.io/v1` AdmissionReview wire format, in and out of the policy.
//!
//! [`review`] is the one entry point used by the HTTPS server and by the
//! offline `review`/`check` commands: request bytes in, answer bytes out.
//! The policy's [`Decision`](policy::Decision) (what the rules decided) becomes an [`Answer`]
//! (what is sent back) carrying a [`Record`] (what is logged and counted).

use crate::policy::json::Field;
use crate::policy::{self, Cluster, Decision, Policy, RayKind, Request, RequestError, echoed};
use base64::Engine as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use undecided::{bad_request, check_envelope, check_uid, undecidable, unreadable};
use warnings::bounded_warnings;
use wire::{RequestIn, ResponseOut, ReviewIn, ReviewOut};

mod request;
mod status;
#[cfg(test)]
mod tests;
mod undecided;
mod warnings;
mod wire;

pub use request::ReviewRequest;

/// Which webhook a request was sent to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Webhook {
    /// Defaults (queue label, suspend), then validates the result; may patch.
    #[default]
    Mutate,
    /// Validates only; never patches.
    Validate,
}

impl Webhook {
    pub fn as_str(self) -> &'static str {
        match self {
            Webhook::Mutate => "mutate",
            Webhook::Validate => "validate",
        }
    }
}

/// What the server sends for one request (status, content type, body), and
/// its [`Record`] for the log line and the metrics.
#[derive(Clone, Debug)]
pub struct Answer {
    /// HTTP status: 200 for every AdmissionReview answer (denials included),
    /// 4xx when the body is not a review this server can answer.
    pub status: u16,
    /// `application/json` for a review, `text/plain; charset=utf-8` otherwise.
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub record: Record,
}

/// What was decided for one request, for the log line and the metrics:
/// bounded fields only, never the object itself.
#[derive(Clone, Debug, Default)]
pub struct Record {
    /// `request.uid`, when readable (at most [`ECHO_LIMIT`](policy::ECHO_LIMIT) bytes).
    pub uid: Option<String>,
    /// `RayCluster`, `RayService`, `RayJob`, or `other` (bounded: fit for metric labels).
    pub kind: Option<&'static str>,
    /// Namespace and name, cut to [`ECHO_LIMIT`](policy::ECHO_LIMIT) characters.
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: Option<&'static str>,
    pub dry_run: bool,
    pub allowed: bool,
    /// A patch was returned.
    pub mutated: bool,
    /// What the patch changes, in words (`queue-label`, `suspend`).
    pub changes: Vec<&'static str>,
    /// Each violated rule once (a fixed set, fit for metric labels), however
    /// many violations of it the object has.
    pub denials: Vec<&'static str>,
    /// Why the request could not be decided (4xx or a 400 denial).
    pub error: Option<String>,
    /// The field each warning sent is about (`None`: the object as a
    /// whole), in the order of the answer's `warnings`: field paths from the
    /// policy's own tables, so `check` places warnings without reading them.
    pub warning_fields: Vec<Option<String>>,
    /// The owner to read from the API server before answering again
    /// ([`policy::Claim::Miss`]): `serve` with API access reads it and
    /// reviews the body once more; without a view it is never set.
    pub owner_read: Option<policy::OwnerRead>,
}

/// Largest request body accepted: controller-runtime's limit (an UPDATE
/// review carries the object twice). The server answers 413 above it, and
/// `review` refuses the same.
pub const MAX_BODY_BYTES: usize = 7 * 1024 * 1024;

/// The 413 answer's text, shared by the server and `review`.
pub fn body_too_large_message() -> String {
    format!("request body is larger than {MAX_BODY_BYTES} bytes (7 MiB)")
}

/// The only AdmissionReview version this webhook speaks.
pub use kube::core::admission::META_API_VERSION_V1 as API_VERSION;
use kube::core::admission::META_KIND as REVIEW_KIND;
const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
const NOT_A_REVIEW: &str = "the request body is not an AdmissionReview: expected a JSON object";
/// The most bytes of any answer (the AdmissionReview or a 4xx), whatever the
/// request: values from it are cut to [`ECHO_LIMIT`](policy::ECHO_LIMIT) characters, violations
/// to [`LISTED_VIOLATIONS`](policy::LISTED_VIOLATIONS) and
/// [`status::LISTING_BUDGET`] bytes, warnings to [`WARNING_BUDGET`] bytes.
/// The property tests and the fuzz target hold every answer to it.
pub const ANSWER_LIMIT: usize = 64 * 1024;
/// The most characters of an error message or a warning in an answer: a few
/// sentences with at most one value from the request ([`ECHO_LIMIT`](policy::ECHO_LIMIT)) each.
pub const MESSAGE_LIMIT: usize = 1024;
/// The most JSON bytes the warnings of one answer take.
pub const WARNING_BUDGET: usize = 8 * 1024;

/// Answers one AdmissionReview request body for `webhook`.
pub fn review(webhook: Webhook, body: &[u8], policy: &Policy) -> Answer {
    review_in(webhook, body, policy, policy::known(policy))
}

/// [`review`] with what `cluster` knows (`serve` with API access).
pub fn review_in(webhook: Webhook, body: &[u8], policy: &Policy, cluster: &dyn Cluster) -> Answer {
    let review: ReviewIn = match serde_json::from_slice::<Field<ReviewIn>>(body) {
        Ok(Field::Value(review)) => review,
        Ok(_) => return bad_request(NOT_A_REVIEW.to_string()),
        Err(err) => return unreadable(body, &err),
    };
    if let Err(why) = check_envelope(review.api_version.as_deref(), review.kind.as_deref()) {
        return bad_request(why);
    }
    let req = match review.request {
        Field::Value(req) => req,
        Field::Absent => {
            return bad_request("the body is an AdmissionReview without a request".to_string());
        }
        Field::Wrong(found) => {
            return bad_request(format!(
                "request is a JSON {}, expected an object",
                found.as_str()
            ));
        }
    };
    decide(webhook, req, policy, cluster)
}

/// Decides one readable request: the policy's decision, noted in the
/// [`Record`] and answered.
fn decide(webhook: Webhook, mut req: RequestIn, policy: &Policy, cluster: &dyn Cluster) -> Answer {
    if let Err(why) = check_uid(&req.uid) {
        return bad_request(why);
    }
    let ray_kind = RayKind::from_group_kind(&req.kind.group, &req.kind.kind);
    let mut record = first_record(&req, ray_kind);
    let mut decision = match run_policy(webhook, &mut req, ray_kind, policy, cluster) {
        Ok(decision) => decision,
        Err(err) => return undecidable(&req.uid, &err, record),
    };
    note_decision(&mut record, &decision);
    let status = denial_status(&req, ray_kind, &decision);
    let patch = match encoded_patch(webhook, &decision, ray_kind) {
        Ok(patch) => patch,
        Err(err) => return undecidable(&req.uid, &err, record),
    };
    record.mutated = patch.is_some();
    let (warnings, fields): (Vec<String>, Vec<Option<String>>) =
        bounded_warnings(std::mem::take(&mut decision.warnings))
            .into_iter()
            .map(|warning| (warning.message, warning.field))
            .unzip();
    record.warning_fields = fields;
    respond(
        ResponseOut {
            uid: &req.uid,
            allowed: decision.allowed(),
            status,
            patch_type: patch.as_ref().map(|_| "JSONPatch"),
            patch,
            warnings: &warnings,
        },
        record,
    )
}

/// The [`Record`] of a request before the policy has decided: what the
/// envelope says, each value from it echoed within [`ECHO_LIMIT`](policy::ECHO_LIMIT).
fn first_record(req: &RequestIn, ray_kind: Option<RayKind>) -> Record {
    Record {
        uid: Some(req.uid.clone()),
        kind: Some(ray_kind.map_or("other", RayKind::as_str)),
        namespace: req.namespace.as_deref().map(|ns| echoed(ns).into_owned()),
        name: req
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .map(|name| echoed(name).into_owned()),
        operation: Some(policy::operation_name(&req.operation)),
        dry_run: req.dry_run.unwrap_or(false),
        ..Record::default()
    }
}

/// The policy's decision for `req`, which hands its objects over (the
/// envelope stays for the answer).
fn run_policy(
    webhook: Webhook,
    req: &mut RequestIn,
    ray_kind: Option<RayKind>,
    policy: &Policy,
    cluster: &dyn Cluster,
) -> Result<Decision, RequestError> {
    let request = Request {
        operation: req.operation.clone(),
        kind: ray_kind,
        sub_resource: req.sub_resource.as_deref(),
        namespace: req.namespace.as_deref(),
        object: std::mem::take(&mut req.object),
        old_object: std::mem::take(&mut req.old_object),
    };
    match webhook {
        Webhook::Mutate => policy::mutate_in(request, policy, cluster),
        Webhook::Validate => policy::validate_in(request, policy, cluster),
    }
}

/// What the [`Record`] keeps of a decision: the object's name when the
/// request named none, the outcome, each violated rule once, the changes.
fn note_decision(record: &mut Record, decision: &Decision) {
    if record.name.is_none() {
        record.name = decision
            .object_name
            .as_deref()
            .map(|name| echoed(name).into_owned());
    }
    record.allowed = decision.allowed();
    record.owner_read = decision.owner_read.clone();
    record.denials = decision
        .violations
        .rules()
        .iter()
        .map(|r| r.as_str())
        .collect();
    record.changes = decision.changes.iter().map(|c| c.as_str()).collect();
}

/// The `Invalid` status of a denial (none when allowed).
fn denial_status(
    req: &RequestIn,
    ray_kind: Option<RayKind>,
    decision: &Decision,
) -> Option<Status> {
    (!decision.allowed()).then(|| {
        let kind = match ray_kind {
            Some(kind) => kind.as_str(),
            None => &req.kind.kind,
        };
        let name = req.name.as_deref().filter(|n| !n.is_empty());
        status::invalid(&req.kind.group, kind, name, decision)
    })
}

/// The patch as the answer carries it (base64 of the JSON patch); none from
/// the validating webhook, which never patches (the API server would reject it).
fn encoded_patch(
    webhook: Webhook,
    decision: &Decision,
    ray_kind: Option<RayKind>,
) -> Result<Option<String>, RequestError> {
    if webhook != Webhook::Mutate || decision.patch.0.is_empty() {
        return Ok(None);
    }
    match serde_json::to_vec(&decision.patch) {
        Ok(json) => Ok(Some(base64::engine::general_purpose::STANDARD.encode(json))),
        Err(err) => Err(RequestError::UnreadableObject {
            field: "object",
            kind: ray_kind.map_or("other", RayKind::as_str),
            reason: format!("cannot encode the patch: {err}"),
        }),
    }
}

/// The answer to a review: a 200 with the AdmissionReview.
fn respond(response: ResponseOut, record: Record) -> Answer {
    let review = ReviewOut {
        api_version: API_VERSION,
        kind: REVIEW_KIND,
        response,
    };
    match serde_json::to_vec(&review) {
        Ok(body) => Answer {
            status: 200,
            content_type: JSON,
            body,
            record,
        },
        // Serialising plain strings and numbers cannot fail; answer anyway.
        Err(err) => Answer {
            status: 500,
            content_type: TEXT,
            body: format!("cannot encode the AdmissionReview answer: {err}\n").into_bytes(),
            record,
        },
    }
}
