//! The `admission.k8s.io/v1` AdmissionReview wire format, in and out of the policy.
//!
//! [`review`] is the one entry point used by the HTTPS server and by the
//! offline `review`/`check` commands: request bytes in, answer bytes out.
//! The policy's [`Decision`](policy::Decision) (what the rules decided) becomes an [`Answer`]
//! (what is sent back) carrying a [`Record`] (what is logged and counted).

use crate::policy::json::{Field, json_object};
use crate::policy::{
    self, ECHO_LIMIT, ObjectDoc, Operation, Policy, RayKind, Request, RequestError, cut, echoed,
};
use base64::Engine as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::core::GroupVersionKind;
use serde::{Deserialize, Serialize};

mod request;
mod status;

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
    /// `request.uid`, when readable (at most [`ECHO_LIMIT`] bytes).
    pub uid: Option<String>,
    /// `RayCluster`, `RayService`, or `other` (bounded: fit for metric labels).
    pub kind: Option<&'static str>,
    /// Namespace and name, cut to [`ECHO_LIMIT`] characters.
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
/// request: values from it are cut to [`ECHO_LIMIT`] characters, violations
/// to [`LISTED_VIOLATIONS`](policy::LISTED_VIOLATIONS) and
/// [`status::LISTING_BUDGET`] bytes, warnings to [`WARNING_BUDGET`] bytes.
/// The property tests and the fuzz target hold every answer to it.
pub const ANSWER_LIMIT: usize = 64 * 1024;
/// The most characters of an error message or a warning in an answer: a few
/// sentences with at most one value from the request ([`ECHO_LIMIT`]) each.
pub const MESSAGE_LIMIT: usize = 1024;
/// The most JSON bytes the warnings of one answer take.
pub const WARNING_BUDGET: usize = 8 * 1024;

/// An incoming review: only what the policy and the answer need, read in one
/// pass; of the objects, only the fields the rules read are built
/// ([`ObjectDoc`]), the rest is skipped (no copy, no tree).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewIn<'a> {
    #[serde(default, borrow)]
    api_version: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
    /// `Field`, not `Option`: serde would read a JSON array as a struct.
    #[serde(default)]
    request: Field<RequestIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestIn {
    uid: String,
    kind: GroupVersionKind,
    #[serde(default)]
    sub_resource: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    operation: Operation,
    /// Read here, in the one pass over the body, as far as the rules need it.
    #[serde(default)]
    object: Field<ObjectDoc>,
    #[serde(default)]
    old_object: Field<ObjectDoc>,
    #[serde(default)]
    dry_run: Option<bool>,
}

/// The envelope alone, to answer a review whose request is unreadable.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct EnvelopeOnly {
    api_version: Field<String>,
    kind: Field<String>,
    request: Field<UidOnly>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct UidOnly {
    uid: Field<String>,
}

json_object!(ReviewIn<'_>, RequestIn, EnvelopeOnly, UidOnly);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReviewOut<'a> {
    api_version: &'static str,
    kind: &'static str,
    response: ResponseOut<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseOut<'a> {
    uid: &'a str,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    /// Base64 of the JSON patch: the documented wire form (kube's own
    /// `AdmissionResponse` writes an array of numbers, kube-rs#1781).
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

/// Answers one AdmissionReview request body for `webhook`.
pub fn review(webhook: Webhook, body: &[u8], policy: &Policy) -> Answer {
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
    decide(webhook, req, policy)
}

/// `apiVersion` and `kind`, when given, must be those of a v1 AdmissionReview.
fn check_envelope(api_version: Option<&str>, kind: Option<&str>) -> Result<(), String> {
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
fn check_uid(uid: &str) -> Result<(), String> {
    if uid.len() > ECHO_LIMIT {
        return Err(format!(
            "request.uid is {} bytes long; at most {ECHO_LIMIT} are answered (the API server sends a UUID)",
            uid.len()
        ));
    }
    Ok(())
}

/// A value from the request as the [`Record`] keeps it.
fn recorded(value: &str) -> String {
    echoed(value).into_owned()
}

fn decide(webhook: Webhook, mut req: RequestIn, policy: &Policy) -> Answer {
    if let Err(why) = check_uid(&req.uid) {
        return bad_request(why);
    }
    let ray_kind = RayKind::from_group_kind(&req.kind.group, &req.kind.kind);
    let mut record = Record {
        uid: Some(req.uid.clone()),
        kind: Some(ray_kind.map_or("other", RayKind::as_str)),
        namespace: req.namespace.as_deref().map(recorded),
        name: req.name.as_deref().filter(|n| !n.is_empty()).map(recorded),
        operation: Some(policy::operation_name(&req.operation)),
        dry_run: req.dry_run.unwrap_or(false),
        ..Record::default()
    };
    let request = Request {
        operation: req.operation.clone(),
        kind: ray_kind,
        sub_resource: req.sub_resource.as_deref(),
        namespace: req.namespace.as_deref(),
        // The policy takes the objects; the envelope stays for the answer.
        object: std::mem::take(&mut req.object),
        old_object: std::mem::take(&mut req.old_object),
    };
    let decided = match webhook {
        Webhook::Mutate => policy::mutate(request, policy),
        Webhook::Validate => policy::validate(request, policy),
    };
    let mut decision = match decided {
        Ok(decision) => decision,
        Err(err) => return undecidable(&req.uid, &err, record),
    };
    if record.name.is_none() {
        record.name = decision.object_name.as_deref().map(recorded);
    }
    record.allowed = decision.allowed();
    record.denials = decision
        .violations
        .rules()
        .iter()
        .map(|r| r.as_str())
        .collect();
    record.changes = decision.changes.iter().map(|c| c.as_str()).collect();
    let status = (!decision.allowed()).then(|| {
        let kind = match ray_kind {
            Some(kind) => kind.as_str(),
            None => &req.kind.kind,
        };
        let name = req.name.as_deref().filter(|n| !n.is_empty());
        status::invalid(&req.kind.group, kind, name, &decision)
    });
    // A validating webhook never patches (the API server would reject it).
    let patch = match webhook {
        Webhook::Mutate if !decision.patch.0.is_empty() => {
            match serde_json::to_vec(&decision.patch) {
                Ok(json) => Some(base64::engine::general_purpose::STANDARD.encode(json)),
                Err(err) => {
                    let err = RequestError::UnreadableObject {
                        field: "object",
                        kind: ray_kind.map_or("other", RayKind::as_str),
                        reason: format!("cannot encode the patch: {err}"),
                    };
                    return undecidable(&req.uid, &err, record);
                }
            }
        }
        _ => None,
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

/// The policy's warnings within [`WARNING_BUDGET`] JSON bytes, each message
/// cut to [`MESSAGE_LIMIT`] characters (in place, only when over).
fn bounded_warnings(mut warnings: Vec<policy::Warning>) -> Vec<policy::Warning> {
    // A character takes at most 6 bytes in JSON (`\u001f`).
    let bytes: usize = warnings.iter().map(|w| w.message.len()).sum();
    if bytes.saturating_mul(6) <= WARNING_BUDGET {
        return warnings;
    }
    let mut spent = 0;
    let mut kept = 0;
    for warning in &mut warnings {
        if let std::borrow::Cow::Owned(message) = cut(&warning.message, MESSAGE_LIMIT) {
            warning.message = message;
        }
        spent += json_len(&warning.message) + 1;
        if spent > WARNING_BUDGET {
            break;
        }
        kept += 1;
    }
    warnings.truncate(kept);
    warnings
}

/// How many bytes `value` takes as JSON.
fn json_len(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Strings always serialise; a failure would only undercount.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// A review with a readable uid that cannot be decided: a denial with code 400.
fn undecidable(uid: &str, err: &dyn std::fmt::Display, mut record: Record) -> Answer {
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
fn unreadable(body: &[u8], err: &serde_json::Error) -> Answer {
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

fn bad_request(message: String) -> Answer {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn review_json(operation: &str, object: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "apiVersion": API_VERSION, "kind": REVIEW_KIND,
            "request": {
                "uid": "u-1", "operation": operation, "namespace": "ns", "name": "c",
                "kind": {"group": "ray.io", "version": "v1", "kind": "RayCluster"},
                "resource": {"group": "ray.io", "version": "v1", "resource": "rayclusters"},
                "userInfo": {"username": "alice"},
                "object": object,
            }
        }))
        .unwrap()
    }

    fn answer(webhook: Webhook, body: &[u8]) -> (Answer, Value) {
        let answer = review(webhook, body, &Policy::default());
        let json = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        (answer, json)
    }

    #[test]
    fn mutating_answer_carries_a_base64_patch() {
        let body = review_json(
            "CREATE",
            json!({"metadata": {"name": "c", "labels": {"kueue.x-k8s.io/queue-name": "q"}}, "spec": {}}),
        );
        let (a, json) = answer(Webhook::Mutate, &body);
        println!("{}", String::from_utf8_lossy(&a.body));
        assert_eq!(a.status, 200);
        assert_eq!(json["apiVersion"], API_VERSION);
        assert_eq!(json["kind"], REVIEW_KIND);
        assert_eq!(json["response"]["uid"], "u-1");
        assert_eq!(json["response"]["allowed"], true);
        assert_eq!(json["response"]["patchType"], "JSONPatch");
        let patch = base64::engine::general_purpose::STANDARD
            .decode(json["response"]["patch"].as_str().unwrap())
            .unwrap();
        let patch: Value = serde_json::from_slice(&patch).unwrap();
        assert_eq!(
            patch,
            json!([{"op": "add", "path": "/spec/suspend", "value": true}])
        );
        assert!(a.record.mutated);
        assert_eq!(a.record.changes, ["suspend"]);
        // The validating route never patches.
        let (_, json) = answer(Webhook::Validate, &body);
        assert_eq!(json["response"].get("patch"), None);
        assert_eq!(json["response"].get("patchType"), None);
    }

    #[test]
    fn denial_lists_every_violation() {
        let groups: Vec<Value> = (0..8)
            .map(|i| json!({"groupName": format!("g{i}")}))
            .collect();
        let body = review_json(
            "CREATE",
            json!({"metadata": {"labels": {"kueue.x-k8s.io/queue-name": "q"}},
                   "spec": {"enableInTreeAutoscaling": true, "workerGroupSpecs": groups}}),
        );
        let (a, json) = answer(Webhook::Validate, &body);
        println!("{}", String::from_utf8_lossy(&a.body));
        let status = &json["response"]["status"];
        assert_eq!(json["response"]["allowed"], false);
        assert_eq!(status["code"], 422);
        assert_eq!(status["reason"], "Invalid");
        assert_eq!(
            status["message"],
            "RayCluster.ray.io \"c\" is invalid: [spec.workerGroupSpecs: Too many: 8: must have at most 7 items, \
             spec.enableInTreeAutoscaling: Invalid value: true: Kueue sizes the cluster, so KubeRay's in-tree \
             autoscaler must be off; set it to false or remove it; Kueue's elastic jobs, which may \
             autoscale, are off in this configuration (--elastic-jobs)]"
        );
        assert_eq!(
            status["details"]["causes"][0]["field"],
            "spec.workerGroupSpecs"
        );
        assert_eq!(
            status["details"]["causes"][0]["reason"],
            "FieldValueTooMany"
        );
        assert_eq!(
            a.record.denials,
            ["too_many_worker_groups", "autoscaling_enabled"]
        );
    }

    #[test]
    fn a_denial_lists_the_first_violations_and_counts_the_rest() {
        // 5,000 badly named groups against a limit of 1,024: "Too many", then
        // only the groups that may stay are checked, and of those violations
        // the first are listed.
        let groups = vec![json!({"groupName": "A."}); 5_000];
        let body = review_json(
            "CREATE",
            json!({"metadata": {"labels": {"kueue.x-k8s.io/queue-name": "q"}},
                   "spec": {"suspend": true, "workerGroupSpecs": groups}}),
        );
        let policy = Policy {
            max_worker_groups: 1_024,
            ..Policy::default()
        };
        let a = review(Webhook::Validate, &body, &policy);
        assert!(a.body.len() <= ANSWER_LIMIT, "{}", a.body.len());
        let json: Value = serde_json::from_slice(&a.body).unwrap();
        let status = &json["response"]["status"];
        let causes = status["details"]["causes"].as_array().unwrap();
        assert_eq!(causes.len(), policy::LISTED_VIOLATIONS + 1);
        assert_eq!(
            causes[0]["message"],
            "Too many: 5000: must have at most 1024 items"
        );
        for (i, cause) in causes[1..policy::LISTED_VIOLATIONS].iter().enumerate() {
            assert_eq!(
                cause["field"],
                format!("spec.workerGroupSpecs[{i}].groupName")
            );
        }
        let more = 1 + 1_024 - policy::LISTED_VIOLATIONS;
        assert_eq!(
            causes[policy::LISTED_VIOLATIONS]["message"],
            format!("{more} more violations not listed: an answer lists the first 32 of 1025")
        );
        let message = status["message"].as_str().unwrap();
        assert!(
            message.ends_with(&format!(", and {more} more violations not listed]")),
            "{message}"
        );
        // Each violated rule once, for the metrics and the log line.
        assert_eq!(
            a.record.denials,
            ["too_many_worker_groups", "invalid_group_name"]
        );
    }

    #[test]
    fn values_from_the_request_are_cut() {
        let long = "Q".repeat(10_240);
        let body = review_json(
            "CREATE",
            json!({"metadata": {"name": long, "labels": {"kueue.x-k8s.io/queue-name": long}},
                   "spec": {"suspend": true}}),
        );
        let (a, json) = answer(Webhook::Mutate, &body);
        assert!(a.body.len() < 4_096, "{}", a.body.len());
        let cut = format!("{}...[truncated: 10240 bytes]", "Q".repeat(ECHO_LIMIT));
        let cause = &json["response"]["status"]["details"]["causes"][0];
        assert_eq!(
            cause["message"],
            format!("Invalid value: \"{cut}\": must be no more than 253 characters")
        );
        // The request's name is "c"; a long object name is cut too.
        let mut review: Value = serde_json::from_slice(&body).unwrap();
        review["request"]["name"] = Value::Null;
        let (a, json) = answer(Webhook::Mutate, &serde_json::to_vec(&review).unwrap());
        assert_eq!(json["response"]["status"]["details"]["name"], cut.as_str());
        assert_eq!(a.record.name.as_deref(), Some(cut.as_str()));
        // A wrong type where a string belongs: serde's message quotes it, cut.
        review["request"]["dryRun"] = Value::from(long.as_str());
        let (a, json) = answer(Webhook::Mutate, &serde_json::to_vec(&review).unwrap());
        assert!(a.body.len() < 2_048, "{}", a.body.len());
        assert_eq!(json["response"]["status"]["code"], 400);
    }

    #[test]
    fn a_uid_too_long_to_echo_is_refused_with_400() {
        let mut review: Value = serde_json::from_slice(&review_json("CREATE", json!({}))).unwrap();
        review["request"]["uid"] = Value::from("u".repeat(ECHO_LIMIT + 1));
        let (a, _) = answer(Webhook::Validate, &serde_json::to_vec(&review).unwrap());
        assert_eq!(a.status, 400);
        assert!(
            String::from_utf8_lossy(&a.body).contains("request.uid is 257 bytes long"),
            "{}",
            String::from_utf8_lossy(&a.body)
        );
    }

    #[test]
    fn unreadable_bodies() {
        for (body, status, needle) in [
            (&b""[..], 400, "empty"),
            (b"{\"request\":", 400, "not valid JSON"),
            (b"[1]", 400, "not an AdmissionReview"),
            (b"{\"kind\":\"AdmissionReview\"}", 400, "without a request"),
            (
                b"{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"request\":{}}",
                400,
                "v1beta1",
            ),
        ] {
            let (a, _) = answer(Webhook::Mutate, body);
            let text = String::from_utf8_lossy(&a.body);
            assert_eq!(a.status, status, "{text}");
            assert!(text.contains(needle), "{text}");
        }
        // Nesting where a review should be: a 400 that says so.
        let deep = |n| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let (a, _) = answer(Webhook::Mutate, deep(100_000).as_bytes());
        assert_eq!(a.status, 400);
        assert!(String::from_utf8_lossy(&a.body).contains("not an AdmissionReview"));
        // Nesting inside an object is skipped without recursion: no stack overflow,
        // and a wrong type where the rules read is a field error.
        let object = format!(
            r#"{{"metadata":{{"labels":{{"kueue.x-k8s.io/queue-name":"q"}}}},
                "spec":{{"suspend":true,"x":{d},"workerGroupSpecs":[{d}]}}}}"#,
            d = deep(100_000)
        );
        let body = format!(
            r#"{{"request":{{"uid":"u","operation":"CREATE","object":{object},
                "kind":{{"group":"ray.io","version":"v1","kind":"RayCluster"}}}}}}"#
        );
        let (a, json) = answer(Webhook::Validate, body.as_bytes());
        assert_eq!(a.status, 200);
        assert_eq!(
            json["response"]["status"]["details"]["causes"][0]["field"],
            "spec.workerGroupSpecs[0]"
        );
    }

    #[test]
    fn readable_uid_gets_a_denial_with_code_400() {
        let body = br#"{"request":{"uid":"u-2","operation":"CREATE","kind":{"group":"ray.io","version":"v1","kind":"RayCluster"}}}"#;
        let (a, json) = answer(Webhook::Mutate, body);
        assert_eq!(a.status, 200);
        assert_eq!(json["response"]["uid"], "u-2");
        assert_eq!(json["response"]["allowed"], false);
        assert_eq!(json["response"]["status"]["code"], 400);
        assert!(
            json["response"]["status"]["message"]
                .as_str()
                .unwrap()
                .contains("without request.object")
        );
        let body = br#"{"request":{"uid":"u-3","operation":"EXPLODE"}}"#;
        let (_, json) = answer(Webhook::Validate, body);
        assert_eq!(json["response"]["uid"], "u-3");
        assert_eq!(json["response"]["status"]["code"], 400);
    }
}
