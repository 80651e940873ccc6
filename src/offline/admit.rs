//! Admitting one manifest object offline, through the server's own handler.
//!
//! Each Ray object is wrapped in the AdmissionReview that kube-apiserver would
//! send for a CREATE, passed to [`admission::review`] for the mutating
//! webhook, and the verdict is read back from the answer's bytes. One call per
//! object is enough: the mutating webhook validates the object it produced, so
//! a second call to the validating webhook could only repeat its verdict.

use super::load::{Document, Source};
use crate::admission::{self, ReviewRequest, Webhook};
use crate::policy::{Operation, Policy, RayKind};
use base64::Engine as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What `check` concluded for one document.
#[derive(Debug)]
pub enum Outcome {
    /// A RayCluster or RayService, and the webhook's verdict on it.
    Reviewed(Box<Verdict>),
    /// Any other document (another kind, or not a Kubernetes object).
    Skipped(Skipped),
}

/// A document that is not a Ray object this webhook handles.
#[derive(Debug, Serialize)]
pub struct Skipped {
    pub source: Source,
    #[serde(rename = "apiVersion", skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The webhook's answer for one Ray object, decoded from the AdmissionReview.
#[derive(Debug, Serialize)]
pub struct Verdict {
    pub source: Source,
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    /// `metadata.name`, or `metadata.generateName` followed by `*`.
    pub name: String,
    /// Reported as `"verdict": "admitted"` or `"denied"`.
    #[serde(rename = "verdict", serialize_with = "verdict_word")]
    pub allowed: bool,
    /// `status.message` of a denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// One entry per violated rule (`status.details.causes`).
    pub violations: Vec<Violation>,
    /// The RFC 6902 patch the webhook returned (empty when none).
    pub patch: json_patch::Patch,
    pub warnings: Vec<String>,
    /// The object as it would be stored: the patch applied. Only for admitted objects.
    #[serde(skip)]
    pub patched: Option<Value>,
}

fn verdict_word<S: serde::Serializer>(allowed: &bool, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(if *allowed { "admitted" } else { "denied" })
}

/// One violated rule: the field, and what is wrong with it.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub path: String,
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// The webhook answered in a way no real request should get (not a 200
/// AdmissionReview): the object cannot be judged.
#[derive(Debug, thiserror::Error)]
#[error("{at}: the webhook could not review this object: {message}")]
pub struct ReviewError {
    pub at: Source,
    pub message: String,
}

/// Admits `document` as a CREATE in `namespace` (unless its manifest names one).
pub fn admit(
    document: &Document,
    index: usize,
    namespace: &str,
    policy: &Policy,
) -> Result<Outcome, ReviewError> {
    let value = &document.value;
    let api_version = value.get("apiVersion").and_then(Value::as_str);
    let kind = value.get("kind").and_then(Value::as_str);
    let ray = api_version
        .and_then(|av| av.split_once('/'))
        .and_then(|(group, version)| Some((version, RayKind::from_group_kind(group, kind?)?)));
    let (Some(api_version), Some((version, ray_kind))) = (api_version, ray) else {
        return Ok(Outcome::Skipped(Skipped {
            source: document.source.clone(),
            api_version: api_version.map(str::to_owned),
            kind: kind.map(str::to_owned),
        }));
    };

    let mut object = value.clone();
    let namespace = set_namespace(&mut object, namespace);
    let name = display_name(&object);
    let uid = format!("kueue-ray-webhook-check-{index}");
    let kind = ray_kind.as_str();
    // What kube-apiserver sends for `kubectl create --dry-run=server`.
    let review = ReviewRequest {
        uid: &uid,
        version,
        namespace: &namespace,
        dry_run: true,
        username: "kueue-ray-webhook-check",
        ..ReviewRequest::new(ray_kind, Operation::Create, Some(&object))
    }
    .to_json();
    let fail = |message: String| ReviewError {
        at: document.source.clone(),
        message,
    };
    let body = serde_json::to_vec(&review).map_err(|e| fail(e.to_string()))?;
    let answer = admission::review(Webhook::Mutate, &body, policy);
    if answer.status != 200 {
        return Err(fail(format!(
            "HTTP {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body).trim_end()
        )));
    }
    let response = decode(&answer.body, &uid).map_err(fail)?;

    let violations: Vec<Violation> = response
        .status
        .as_ref()
        .and_then(|status| status.details.as_ref())
        .and_then(|details| details.causes.as_ref())
        .into_iter()
        .flatten()
        .map(|cause| Violation {
            path: cause.field.clone().unwrap_or_default(),
            message: cause.message.clone().unwrap_or_default(),
            reason: cause.reason.clone().unwrap_or_default(),
        })
        .collect();
    let message = response.status.as_ref().and_then(|s| s.message.clone());
    let patched = if response.allowed {
        let mut patched = object;
        json_patch::patch(&mut patched, &response.patch.0)
            .map_err(|e| fail(format!("the patch does not apply: {e}")))?;
        Some(patched)
    } else {
        None
    };
    Ok(Outcome::Reviewed(Box::new(Verdict {
        source: document.source.clone(),
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        namespace,
        name,
        allowed: response.allowed,
        message: message.filter(|_| !response.allowed),
        violations,
        patch: response.patch,
        warnings: response.warnings,
        patched,
    })))
}

/// The namespace the apiserver would create `object` in, written into its
/// metadata as the apiserver does before calling admission webhooks.
fn set_namespace(object: &mut Value, default: &str) -> String {
    let from_manifest = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty())
        .map(str::to_owned);
    let namespace = from_manifest.unwrap_or_else(|| default.to_owned());
    if let Some(map) = object.as_object_mut() {
        let metadata = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert("namespace".to_owned(), Value::String(namespace.clone()));
        }
    }
    namespace
}

fn display_name(object: &Value) -> String {
    let field = |name| {
        object
            .pointer(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (field("/metadata/name"), field("/metadata/generateName")) {
        (Some(name), _) => name.to_owned(),
        (None, Some(prefix)) => format!("{prefix}*"),
        (None, None) => String::new(),
    }
}

/// The parts of an AdmissionReview answer that `check` reports.
struct Response {
    allowed: bool,
    patch: json_patch::Patch,
    warnings: Vec<String>,
    status: Option<Status>,
}

/// Decodes the wire form: `patch` is a base64 string of a JSON patch.
fn decode(body: &[u8], uid: &str) -> Result<Response, String> {
    #[derive(Deserialize)]
    struct Review {
        response: Option<Wire>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Wire {
        uid: String,
        allowed: bool,
        patch: Option<String>,
        patch_type: Option<String>,
        #[serde(default)]
        warnings: Vec<String>,
        status: Option<Status>,
    }
    let review: Review =
        serde_json::from_slice(body).map_err(|e| format!("unreadable answer: {e}"))?;
    let wire = review.response.ok_or("the answer has no response")?;
    if wire.uid != uid {
        return Err(format!("the answer is for uid {:?}, not {uid:?}", wire.uid));
    }
    let patch = match (wire.patch, wire.patch_type.as_deref()) {
        (None, _) => json_patch::Patch::default(),
        (Some(encoded), Some("JSONPatch")) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| format!("the patch is not base64: {e}"))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| format!("the patch is not a JSON patch: {e}"))?
        }
        (Some(_), other) => return Err(format!("unexpected patchType {other:?}")),
    };
    Ok(Response {
        allowed: wire.allowed,
        patch,
        warnings: wire.warnings,
        status: wire.status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(value: Value) -> Document {
        Document {
            source: Source {
                file: "t.yaml".to_owned(),
                document: 0,
                items: Vec::new(),
            },
            value,
        }
    }

    #[test]
    fn other_kinds_are_skipped() {
        for value in [
            json!({"apiVersion": "v1", "kind": "ConfigMap"}),
            json!({"apiVersion": "example.com/v1", "kind": "RayCluster"}),
            json!({"kind": "RayCluster"}),
            json!("just a string"),
            json!({"name": "values.yaml of some chart"}),
        ] {
            let outcome = admit(&doc(value.clone()), 0, "default", &Policy::default()).unwrap();
            assert!(matches!(outcome, Outcome::Skipped(_)), "{value}");
        }
    }

    #[test]
    fn the_review_is_a_create_in_the_manifest_namespace_or_the_default() {
        let mut object = json!({"metadata": {"name": "c"}});
        assert_eq!(set_namespace(&mut object, "team"), "team");
        assert_eq!(object["metadata"]["namespace"], "team");
        let mut object = json!({"metadata": {"name": "c", "namespace": "ml"}});
        assert_eq!(set_namespace(&mut object, "team"), "ml");
    }

    #[test]
    fn generated_names_are_shown_with_a_star() {
        let object = json!({"metadata": {"generateName": "rc-"}});
        assert_eq!(display_name(&object), "rc-*");
    }

    #[test]
    fn answers_are_decoded_from_the_wire_form() {
        let patch = base64::engine::general_purpose::STANDARD
            .encode(br#"[{"op":"add","path":"/spec/suspend","value":true}]"#);
        let body = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": "u", "allowed": true, "patchType": "JSONPatch", "patch": patch,
            "warnings": ["suspended"]}});
        let response = decode(body.to_string().as_bytes(), "u").unwrap();
        assert_eq!(response.patch.0.len(), 1);
        assert_eq!(response.warnings, ["suspended"]);
        assert!(decode(body.to_string().as_bytes(), "other").is_err());
        assert!(decode(b"{}", "u").is_err());
    }
}
